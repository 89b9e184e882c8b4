#!/bin/sh
# run.sh NODE GROVE [SCRIPT]: an end-to-end test (default e2e.mjs, the SDK 1.x one); skipped
# (77) when node or the npm packages are not installed.
cd "$(dirname "$0")" || exit 1
if ! command -v "$1" >/dev/null 2>&1; then
    echo "skipped: node not found" >&2
    exit 77
fi
if [ ! -d node_modules/@modelcontextprotocol/sdk ] || [ ! -d node_modules/@modelcontextprotocol/client ] ||
    [ ! -d node_modules/@modelcontextprotocol/inspector-cli ]; then
    echo "skipped: run 'npm ci' in tests/e2e to install the SDKs and the Inspector CLI" >&2
    exit 77
fi
exec "$1" --test-reporter=spec "${3:-e2e.mjs}" "$2"

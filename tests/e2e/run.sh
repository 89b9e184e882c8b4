#!/bin/sh
# run.sh NODE GROVE: the SDK end-to-end test; skipped (77) when node or the SDK is not installed.
cd "$(dirname "$0")" || exit 1
if ! command -v "$1" >/dev/null 2>&1; then
    echo "skipped: node not found" >&2
    exit 77
fi
if [ ! -d node_modules/@modelcontextprotocol/sdk ]; then
    echo "skipped: run 'npm ci' in tests/e2e to install @modelcontextprotocol/sdk" >&2
    exit 77
fi
exec "$1" --test-reporter=spec e2e.mjs "$2"

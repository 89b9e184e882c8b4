#!/bin/sh
# The whole test suite: a strict build (-Werror) and an AddressSanitizer +
# UndefinedBehaviorSanitizer build, each running every test (unit, transcript,
# end-to-end through the official TypeScript SDK). Ends with "N passed, N failed".
set -u
cd "$(dirname "$0")/.."
top=$(pwd)

if [ ! -d tests/e2e/node_modules/@modelcontextprotocol/sdk ]; then
    (cd tests/e2e && npm ci --no-audit --no-fund --loglevel=error) ||
        echo "warning: npm ci failed; the SDK end-to-end test will be skipped" >&2
fi

export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0

passed=0
failed=0
run_build() { # dir, meson options...
    dir=$1
    shift
    if [ ! -f "$dir/build.ninja" ]; then
        meson setup "$dir" -Dwerror=true "$@" >"$top/$dir.setup.log" 2>&1 || {
            cat "$top/$dir.setup.log"
            failed=$((failed + 1))
            return
        }
    fi
    if ! ninja -C "$dir"; then
        echo "build failed in $dir"
        failed=$((failed + 1))
        return
    fi
    meson test -C "$dir" --print-errorlogs --num-processes 2
    counts=$(/usr/bin/python3 - "$dir/meson-logs/testlog.json" <<'PY'
import json, sys
ok = bad = 0
for line in open(sys.argv[1]):
    r = json.loads(line)
    if r["result"] in ("OK", "EXPECTEDFAIL"):
        ok += 1
    else:  # a skipped test (the SDK not installed) counts as failed: nothing is skipped silently
        bad += 1
print(ok, bad)
PY
)
    passed=$((passed + ${counts% *}))
    failed=$((failed + ${counts#* }))
}

run_build build-test
run_build build-asan -Db_sanitize=address,undefined

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]

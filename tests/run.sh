#!/bin/sh
# The whole test suite: a strict build (-Werror) and an AddressSanitizer +
# UndefinedBehaviorSanitizer build, each running every test (unit, transcript,
# end-to-end through the official TypeScript SDK, adversarial corpus), then the
# fuzz targets under libFuzzer (clang). Ends with "N passed, N failed".
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

# The fuzz targets (tests/fuzz), built with clang and libFuzzer, each run for GROVE_FUZZ_SECONDS
# (default 60) from seed corpora made from the fixtures plus the inputs that once broke them
# (fixtures/fuzz/<target>/). Each run counts as one test: a crash, a leak, a sanitizer report, a
# broken promise or a timeout fails it; its input is kept in build-fuzz/artifacts/.
run_fuzz() {
    secs=${GROVE_FUZZ_SECONDS:-60}
    if ! command -v clang >/dev/null 2>&1; then
        echo "fuzz: clang not found: cannot build the fuzz targets (install clang and libclang-rt-dev)"
        failed=$((failed + 1))
        return
    fi
    if [ ! -f build-fuzz/build.ninja ]; then
        CC=clang meson setup build-fuzz -Dwerror=true -Dfuzz=true -Db_sanitize=address,undefined \
            -Db_lundef=false >"$top/build-fuzz.setup.log" 2>&1 || {
            cat "$top/build-fuzz.setup.log"
            failed=$((failed + 1))
            return
        }
    fi
    if ! ninja -C build-fuzz; then
        echo "build failed in build-fuzz"
        failed=$((failed + 1))
        return
    fi
    work=$(mktemp -d "${TMPDIR:-/tmp}/grove-fuzz.XXXXXX")
    /usr/bin/python3 tests/fuzz/seeds.py "$top" "$work/corpus"
    mkdir -p "$work/tmp" build-fuzz/artifacts
    # fuzz_dispatch's scratch repositories, worktrees and database: on a tmpfs when there is one
    scratch=$work/tmp
    if [ -d /dev/shm ] && [ -w /dev/shm ]; then
        scratch=$(mktemp -d /dev/shm/grove-fuzz.XXXXXX) || scratch=$work/tmp
    fi
    for t in fuzz_framing fuzz_schema fuzz_dispatch fuzz_rights fuzz_removal fuzz_output; do
        log=$work/$t.log
        fixtures=
        [ -d "fixtures/fuzz/$t" ] && fixtures=fixtures/fuzz/$t
        case $t in
        fuzz_schema) dict=tests/fuzz/fuzz_schema.dict ;;
        fuzz_removal) dict=tests/fuzz/fuzz_removal.dict ;;
        fuzz_rights | fuzz_output) dict= ;; # bytes, not JSON
        *) dict=tests/fuzz/jsonrpc.dict ;;
        esac
        mkdir -p "$work/corpus/$t" # seeds.py makes some; the others' seeds are their fixtures
        TMPDIR=$scratch "build-fuzz/tests/fuzz/$t" -max_total_time="$secs" -max_len=65536 \
            -rss_limit_mb=2048 -timeout=120 -print_final_stats=1 ${dict:+-dict="$dict"} \
            -artifact_prefix="$top/build-fuzz/artifacts/$t-" \
            "$work/corpus/$t" ${fixtures:+"$fixtures"} >"$log" 2>&1
        rc=$?
        runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
        rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
        if [ "$rc" -eq 0 ] && ! grep -qE "ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error:|broken promise" "$log"; then
            echo "fuzz: $t: ${runs:-?} executions in $secs s (${rate:-?}/s), no failure"
            passed=$((passed + 1))
        else
            tail -n 80 "$log"
            echo "fuzz: $t FAILED (exit $rc) after ${runs:-?} executions; the input is in" \
                "build-fuzz/artifacts/ (keep it as fixtures/fuzz/$t/<name> once fixed)"
            failed=$((failed + 1))
        fi
    done
    rm -rf "$work" "$scratch"
}

run_build build-test
run_build build-asan -Db_sanitize=address,undefined
run_fuzz

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]

#!/bin/sh
# The benchmark suite: builds grove and the helpers, then runs every benchmark
# and prints a markdown table; the figures go to JSON as well.
#
#   tests/bench/run.sh [--quick] [--json FILE] [--build DIR] [--only SECTIONS] [--keep]
#   tests/bench/run.sh compare A.json B.json | --latest | --readme [RUN]   (tests/bench/compare.py)
#
# --quick: tiny sizes, a few seconds (CI runs this as the meson test 'bench/quick').
# A full run (no --quick, no --only) is also kept in tests/bench/results/ with its commit and
# machine; `compare` prints two runs side by side and flags what got more than 10 % worse.
# --json:  where the JSON goes (default: <build dir>/bench.json).
# --build: the build folder (default: build-bench, set up here when missing).
# --only:  comma-separated sections: cold_start,calls,queries,worktree,bigrepo,agents,memory,
#          reconcile,diff,conflicts,land,hook,output,subscriptions,watch.
# The full run takes about 15 minutes on two cores; see README.md, "Performance".
set -eu
cd "$(dirname "$0")/../.."
if [ "${1:-}" = compare ]; then
    shift
    exec python3 tests/bench/compare.py "$@"
fi
build=build-bench
json=
n=$# # the options of this script are taken out; the rest goes on to bench.py
while [ "$n" -gt 0 ]; do
    a=$1
    shift
    n=$((n - 1))
    case $a in
    --build | --json)
        [ "$n" -gt 0 ] || { echo "run.sh: $a needs a value" >&2; exit 2; }
        if [ "$a" = --build ]; then build=$1; else json=$1; fi
        shift
        n=$((n - 1))
        ;;
    *) set -- "$@" "$a" ;;
    esac
done
if [ ! -f "$build/build.ninja" ]; then
    meson setup "$build" >/dev/null
fi
ninja -C "$build" grove tests/bench/bench-client tests/bench/bench-floor \
    tests/bench/bench-explain >/dev/null
if [ ! -d tests/e2e/node_modules/@modelcontextprotocol/sdk ] && command -v npm >/dev/null; then
    (cd tests/e2e && npm ci --no-audit --no-fund --loglevel=error) ||
        echo "warning: npm ci failed; the comparison with the TypeScript SDK is skipped" >&2
fi
exec python3 tests/bench/bench.py --grove "$build/grove" \
    --client "$build/tests/bench/bench-client" --floor "$build/tests/bench/bench-floor" \
    --explain "$build/tests/bench/bench-explain" --json "${json:-$build/bench.json}" "$@"

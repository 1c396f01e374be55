#!/usr/bin/env bash
# Runs the full `cargo test` N times in a row (default 20) and stops at the
# first failure, naming the run and the failing test(s). A test that fails
# one run in twenty is a broken test: this is how to find it.
#
#   scripts/test-loop.sh            # 20 runs
#   scripts/test-loop.sh 5          # 5 runs
#   scripts/test-loop.sh 20 --test shutdown   # extra arguments go to cargo test
#
# Each run's output is kept in target/test-loop/run-N.log.
set -uo pipefail

runs="${1:-20}"
shift || true
if ! [[ "$runs" =~ ^[1-9][0-9]*$ ]]; then
    echo "usage: $0 [RUNS] [cargo test arguments...]" >&2
    exit 2
fi
cd "$(dirname "$0")/.."
logs=target/test-loop
mkdir -p "$logs"

# Build once, so a run's time is the tests' own.
if ! cargo test --no-run "$@" >"$logs/build.log" 2>&1; then
    echo "build failed; see $logs/build.log" >&2
    tail -20 "$logs/build.log" >&2
    exit 1
fi

started=$(date +%s)
for run in $(seq 1 "$runs"); do
    log="$logs/run-$run.log"
    run_start=$(date +%s)
    if cargo test "$@" >"$log" 2>&1; then
        echo "run $run/$runs: ok ($(( $(date +%s) - run_start )) s)"
        continue
    fi
    echo "run $run/$runs: FAILED ($(( $(date +%s) - run_start )) s); log: $log"
    failed=$(grep -E '^test .* \.\.\. FAILED$' "$log" | sed -E 's/^test (.*) \.\.\. FAILED$/\1/')
    binary=$(grep -E '^error: test failed, to rerun pass' "$log" | sed -E 's/.*pass `(.*)`.*/\1/')
    if [ -n "$failed" ]; then
        echo "failing test(s) in ${binary:-?}:"
        echo "$failed" | sed 's/^/  /'
    else
        echo "no test reported FAILED (a build error, a crash or a timeout?); last lines:"
        tail -20 "$log" | sed 's/^/  /'
    fi
    exit 1
done
echo "all $runs runs passed in $(( $(date +%s) - started )) s"

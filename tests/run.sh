#!/usr/bin/env bash
# Runs each Criterion test binary given on the command line, prints its output, and ends with
# one line that sums them all: "heapkit: N passed, M failed". Exits non-zero if any test failed,
# crashed, or a binary exited non-zero.
set -u
passed=0 failed=0 status=0
for bin in "$@"; do
    echo "== $bin"
    out=$("$bin" --jobs="${HEAPKIT_TEST_JOBS:-2}" 2>&1)
    rc=$?
    printf '%s\n' "$out"
    line=$(printf '%s\n' "$out" | grep 'Synthesis: Tested:' | tail -n 1 | sed 's/\x1b\[[0-9;]*m//g')
    if [ -z "$line" ]; then
        echo "!! $bin printed no Criterion summary (exit $rc)"
        failed=$((failed + 1)); status=1; continue
    fi
    t=$(sed -n 's/.*Tested: \([0-9]*\).*/\1/p' <<<"$line")
    p=$(sed -n 's/.*Passing: \([0-9]*\).*/\1/p' <<<"$line")
    # Criterion counts crashes among the failures; Tested - Passing covers both.
    passed=$((passed + p)); failed=$((failed + t - p))
    if [ "$rc" -ne 0 ] || [ "$t" -ne "$p" ]; then status=1; fi
done
echo "heapkit: $passed passed, $failed failed"
exit $status

#!/bin/bash
# Tests of run-guest itself, run on the host: a hung guest is killed at the
# timeout and reported as such; a test's failure and skip codes come back.
# lab: host=1 timeout=200
fx=$LAB_DIR/tests/fixtures
expect() {   # code fixture pattern...
    local code=$1 fixture=$2 out rc p
    shift 2
    out=$("$LAB_DIR/run-guest" "$fx/$fixture" 2>&1); rc=$?
    echo "$out" | tail -n 3
    [ "$rc" = "$code" ] || { echo "FAIL: $fixture gave exit $rc, want $code"; exit 1; }
    for p in "$@"; do
        echo "$out" | grep -q -- "$p" || { echo "FAIL: $fixture did not print '$p'"; exit 1; }
    done
}
# "hanging on purpose": the guest was killed in the test, not while booting.
expect 124 hang.sh "hanging on purpose" "TIMEOUT after 25s: guest killed"
expect 1 fail-in-subshell.sh "FAIL: on purpose"
expect 77 skip.sh "SKIP: on purpose"
exit 0

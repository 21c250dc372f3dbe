#!/bin/bash
# The SoftRoCE harness leaves nothing behind when interrupted: start a guest, send the
# harness SIGTERM while qemu runs (a background job ignores SIGINT, so Ctrl-C is
# exercised through the same trap by TERM), then no network namespace of ours, no tap and no qemu
# may remain. usage: softroce_cleanup_test.sh SOURCE_DIR BUILD_DIR OUTDIR
set -u
SRC=$1 BUILD=$2 OUT=$3
pass=0 fail=0
check() { if eval "$2"; then echo "PASS $1"; pass=$((pass+1)); else echo "FAIL $1"; fail=$((fail+1)); fi; }
# names of our namespaces; one left by an earlier run killed outright may be removed by this one
ours() { ip netns list | sed -n 's/^\(weftrxe[0-9][0-9]*\)\b.*/\1/p' | sort; }
qemus() { pgrep -f "qemu-system-x86_64 -name g1 .*weft_cmd=$SRC/scripts/softroce/guest" | wc -l; }
before=$(ours)
WEFT_BUILD=$BUILD "$SRC/scripts/softroce/run" devices "$OUT" > "$OUT.log" 2>&1 &
run=$!
for _ in $(seq 120); do [[ $(qemus) -gt 0 ]] && break; sleep 0.5; done
check "qemu started" '[[ $(qemus) -gt 0 ]]'
sleep 2
t0=$(date +%s)
kill -TERM $run
wait $run; rc=$?
elapsed=$(( $(date +%s) - t0 ))
sleep 1
check "harness stops at once when interrupted (rc=$rc, ${elapsed}s)" '[[ $rc -ne 0 && $elapsed -le 20 ]]'
check "no qemu left" '[[ $(qemus) -eq 0 ]]'
check "no network namespace left" '[[ -z $(comm -13 <(echo "$before") <(ours)) ]]'
echo "$pass passed, $fail failed"
[[ $fail -eq 0 ]]

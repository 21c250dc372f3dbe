#!/bin/bash
# Wall time of `weftctl analyze` vs `tshark -q -z conv,udp` on the same 1 M-packet
# weft-gen capture, same run, each the best of REPEAT runs with the file in the page cache.
# usage: bench/analyze_vs_tshark.sh [BUILD_DIR] [PACKETS] [REPEAT] [MTU]
#   MTU 1024 (default): inference traffic, ~1 KB frames (1 GB for 1 M packets)
#   MTU 256: gradient traffic, ~300 B frames (where per-packet work, not I/O, dominates)
set -euo pipefail
BUILD=${1:-build}
PACKETS=${2:-1000000}
REPEAT=${3:-3}
MTU=${4:-1024}
FILE=${TMPDIR:-/tmp}/weft-bench-${PACKETS}-mtu${MTU}.pcap
if [[ ! -f $FILE ]]; then
    scenario=inference; [[ $MTU -lt 1024 ]] && scenario=gradient
    "$BUILD/tools/weft-gen" "$scenario" -q -o "$FILE" --requests 0 --iterations 0 \
        --packets "$PACKETS" --mtu "$MTU" --seed 1
fi
best() {  # best wall time in seconds of REPEAT runs of "$@"
    local b=999999 t0 t1 t
    for _ in $(seq "$REPEAT"); do
        t0=$(date +%s.%N); "$@" > /dev/null 2>&1; t1=$(date +%s.%N)
        t=$(echo "$t1 - $t0" | bc -l); (( $(echo "$t < $b" | bc -l) )) && b=$t
    done
    printf '%.3f' "$b"
}
cat "$FILE" > /dev/null
frames=$("$BUILD/tools/weftctl" analyze -q --json "$FILE" | python3 -c 'import json,sys; print(json.load(sys.stdin)["totals"]["frames"])')
w=$(best "$BUILD/tools/weftctl" analyze -q "$FILE")
wn=$(best "$BUILD/tools/weftctl" analyze -q --no-icrc "$FILE")
t=$(best tshark -r "$FILE" -q -z conv,udp)
echo "file: $FILE ($(du -h "$FILE" | cut -f1), $frames frames)"
echo "weftctl analyze (ICRC verified): ${w} s"
echo "weftctl analyze --no-icrc:       ${wn} s"
echo "tshark -q -z conv,udp:           ${t} s"
echo "ratio tshark / weftctl analyze:  $(echo "$t / $w" | bc -l | xargs printf '%.1f')x"

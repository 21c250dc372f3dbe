#!/bin/bash
# Wall time of `weftctl analyze` vs `tshark -q -z conv,udp` on the same 1 M-packet
# weft-gen capture, same run, each the best of REPEAT runs with the file in the page cache.
# usage: [WEFTCTL_BASE=OTHER_WEFTCTL] bench/analyze_vs_tshark.sh [BUILD_DIR] [PACKETS] [REPEAT] [MTU]
#   MTU 1024 (default): inference traffic, ~1 KB frames (1 GB for 1 M packets)
#   MTU 256: gradient traffic, ~300 B frames (where per-packet work, not I/O, dominates)
#   WEFTCTL_BASE: another weftctl (an earlier build) timed in the same run, for before/after
set -euo pipefail
BUILD=${1:-build}
PACKETS=${2:-1000000}
REPEAT=${3:-3}
MTU=${4:-1024}
# The capture is made afresh in a directory of our own, removed on exit: a fixed name in
# the shared /tmp could be planted beforehand (a link root writes through, or a file of
# someone else's that would be timed instead).
WORK=$(mktemp -d "${TMPDIR:-/tmp}/weft-bench-analyze.XXXXXX")
trap 'rm -rf -- "$WORK"' EXIT
FILE=$WORK/weft-bench-${PACKETS}-mtu${MTU}.pcap
scenario=inference; [[ $MTU -lt 1024 ]] && scenario=gradient
"$BUILD/tools/weft-gen" "$scenario" -q -o "$FILE" --packets "$PACKETS" --mtu "$MTU" --seed 1
once() {  # wall time in seconds of one run of "$@"
    local t0 t1
    t0=$(date +%s.%N); "$@" > /dev/null 2>&1; t1=$(date +%s.%N)
    echo "$t1 - $t0" | bc -l
}
min() { if (( $(echo "$2 < $1" | bc -l) )); then echo "$2"; else echo "$1"; fi; }
cat "$FILE" > /dev/null
frames=$("$BUILD/tools/weftctl" analyze -q --json "$FILE" | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["totals"]["frames"])')
# Best of REPEAT interleaved rounds, so a slow spell of a shared machine hits every
# program alike.
w=999999; wn=999999; t=999999; wb=999999
for _ in $(seq "$REPEAT"); do
    w=$(min "$w" "$(once "$BUILD/tools/weftctl" analyze -q "$FILE")")
    wn=$(min "$wn" "$(once "$BUILD/tools/weftctl" analyze -q --no-icrc "$FILE")")
    t=$(min "$t" "$(once tshark -r "$FILE" -q -z conv,udp)")
    if [[ -n ${WEFTCTL_BASE:-} ]]; then
        wb=$(min "$wb" "$(once "$WEFTCTL_BASE" analyze -q "$FILE")")
    fi
done
w=$(printf '%.3f' "$w"); wn=$(printf '%.3f' "$wn"); t=$(printf '%.3f' "$t"); wb=$(printf '%.3f' "$wb")
echo "file: $FILE ($(du -h "$FILE" | cut -f1), $frames frames)"
echo "weftctl analyze (ICRC verified): ${w} s"
echo "weftctl analyze --no-icrc:       ${wn} s"
echo "tshark -q -z conv,udp:           ${t} s"
echo "ratio tshark / weftctl analyze:  $(echo "$t / $w" | bc -l | xargs printf '%.1f')x"
if [[ -n ${WEFTCTL_BASE:-} ]]; then
    echo "$WEFTCTL_BASE analyze: ${wb} s"
    echo "ratio tshark / $WEFTCTL_BASE: $(echo "$t / $wb" | bc -l | xargs printf '%.1f')x"
fi

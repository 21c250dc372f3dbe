#!/bin/bash
# weftd inline vs dpdk-testpmd io forwarding on the same veth setup, same run.
#
#   netns wbgen: dpdk-testpmd replays a weft-gen RoCE capture (net_pcap, infinite_rx)
#   into gen0 <-veth-> dut0 | netns wbdut: the device under test forwards dut0 -> dut1 |
#   dut1 <-veth-> sink0 in netns wbsink, where the kernel counts what arrives.
#
# The DUT is, in turn, dpdk-testpmd --forward-mode=io (the peer: moves mbufs, reads no
# byte), weftd --inline (parse, ICRC, flow table, firewall, ECMP, TX) and weftd --no-icrc,
# each on the same CPU (0; the generator forwards on CPU 1). Each runs SECONDS after a
# warm-up (until frames reach the sink, plus 1 s); the rate is sink0's received packets over that window; ROUNDS rounds
# alternate the DUTs so drift hits each alike; ratios are of medians. The generator's
# own rate is printed: a DUT can only be judged below it. Every process is bounded by
# `timeout`; the namespaces go on exit.
#
# The generator sends through net_af_packet (af_xdp TX of frames that came from the pcap
# port never leaves on this VM: Debian's DPDK 22.11 on kernel 6.18, shared_umem "not
# available"), which caps the offered load at what one core's packet socket can send;
# the offered rate is printed so the ratio is read against it. The DUT's ports are
# net_af_xdp (DRIVER=af_xdp, default) or net_af_packet. XDP on veth refuses MTUs above
# ~3.5 KB, so the veths run MTU 3000 (RoCE MTU 1024 or 2048 frames). An af_xdp DUT that
# forwards nothing (its XSK setup failed, which happens here about one start in four for
# testpmd and weftd alike) is restarted once and the restart noted.
# usage: bench/inline_vs_testpmd.sh [BUILD_DIR] [SECONDS] [ROUNDS] [MTU] [DRIVER]   (root)
set -euo pipefail
BUILD=$(readlink -f "${1:-build}")
SECONDS_PER_RUN=${2:-8}
ROUNDS=${3:-3}
MTU=${4:-1024}
DRIVER=${5:-af_xdp}
NS_GEN=wbgen NS_DUT=wbdut NS_SINK=wbsink
WORK=

cleanup() {
    pkill -f "file-prefix wbench" 2>/dev/null || true
    sleep 0.5
    for ns in $NS_GEN $NS_DUT $NS_SINK; do ip netns del "$ns" 2>/dev/null || true; done
    [[ -z $WORK || -n ${WEFT_BENCH_KEEP:-} ]] || rm -rf "$WORK"
}
trap cleanup EXIT INT TERM
cleanup
WORK=$(mktemp -d /tmp/weft-bench-fwd.XXXXXX)

for ns in $NS_GEN $NS_DUT $NS_SINK; do ip netns add "$ns"; done
ip link add gen0 netns $NS_GEN type veth peer name dut0 netns $NS_DUT
ip link add dut1 netns $NS_DUT type veth peer name sink0 netns $NS_SINK
for pair in "$NS_GEN gen0" "$NS_DUT dut0" "$NS_DUT dut1" "$NS_SINK sink0"; do
    set -- $pair
    ip -n "$1" link set "$2" mtu 3000 up
    # packet sockets on veth: no checksum offload, or frames leave with partial sums
    ip netns exec "$1" ethtool -K "$2" tx off >/dev/null 2>&1 || true
done

PCAP=$WORK/traffic.pcap
"$BUILD/tools/weft-gen" inference -q -o "$PCAP" --clients 16 --requests 0 --packets 20000 \
    --mtu "$MTU" --seed 1
frame_bytes=$("$BUILD/tools/weftctl" analyze -q --json "$PCAP" |
    python3 -c 'import json,sys; t=json.load(sys.stdin)["totals"]; print(t["bytes"]//t["frames"])')

total=$(( ROUNDS * 3 * 2 * (SECONDS_PER_RUN + 22) + 30 ))  # an upper bound; cleanup stops it
ip netns exec $NS_GEN timeout $total \
    dpdk-testpmd -l 0,1 --main-lcore 0 --no-huge -m 1024 --no-pci --file-prefix wbench-gen \
    --log-level '*:warning' \
    --vdev "net_pcap0,rx_pcap=$PCAP,infinite_rx=1" --vdev "net_af_packet0,iface=gen0,qdisc_bypass=1" \
    -- --forward-mode=io --auto-start --port-topology=chained --disable-link-check \
    < <(sleep $((total - 5))) > "$WORK/gen.log" 2>&1 &
sleep 3

counter() { ip netns exec "$1" cat "/sys/class/net/$2/statistics/$3"; }

dut_port() {
    if [[ $DRIVER == af_xdp ]]; then echo "net_af_xdp$1,iface=$2"; else echo "net_af_packet$1,iface=$2"; fi
}

# measure NAME CMD...: starts the DUT in its namespace; prints "sink_pps offered_pps"
measure() {
    local r
    r=$(measure_once "$@")
    if [[ ${r%% *} -lt 1000 ]]; then
        echo "$1: forwarded nothing, restarting it once" >&2
        sleep 2
        r=$(measure_once "$@")
    fi
    sleep 2  # let the XDP program and sockets go before the next DUT attaches
    echo "$r"
}

measure_once() {
    local name=$1; shift
    ip netns exec $NS_DUT timeout $((SECONDS_PER_RUN + 35)) "$@" > "$WORK/$name.log" 2>&1 &
    local pid=$!
    # warm-up: until frames reach the sink (testpmd's start, mlockall of its memory, takes
    # seconds here), then one more second
    local t=0 p q
    p=$(counter $NS_SINK sink0 rx_packets)
    while (( t < 30 )); do
        sleep 0.5; t=$((t + 1))
        q=$(counter $NS_SINK sink0 rx_packets)
        (( q - p > 1000 )) && break
        p=$q
    done
    sleep 1
    local a b g0 g1
    a=$(counter $NS_SINK sink0 rx_packets); g0=$(counter $NS_GEN gen0 tx_packets)
    sleep "$SECONDS_PER_RUN"
    b=$(counter $NS_SINK sink0 rx_packets); g1=$(counter $NS_GEN gen0 tx_packets)
    kill -INT $pid 2>/dev/null || true
    wait $pid 2>/dev/null || true
    echo "$(( (b - a) / SECONDS_PER_RUN )) $(( (g1 - g0) / SECONDS_PER_RUN ))"
}

testpmd_dut="dpdk-testpmd -l 0,1 --main-lcore 1 --no-huge -m 1024 --no-pci --file-prefix wbench-tp \
--log-level *:warning --vdev $(dut_port 0 dut0) --vdev $(dut_port 1 dut1) \
-- --forward-mode=io --auto-start --port-topology=paired --disable-link-check \
--rxd=1024 --txd=1024 --burst=32 --mbcache=256 --total-num-mbufs=16384"
weftd_dut=("$BUILD/tools/weftd" --inline --no-huge --file-prefix wbench-wd --control-socket none
    --port "host:$(dut_port 0 dut0)" --port "fabric:$(dut_port 1 dut1)")

tp=() wd=() wn=() offered=()
for r in $(seq "$ROUNDS"); do
    read -r t o < <(measure "testpmd-$r" bash -c "sleep $((SECONDS_PER_RUN + 30)) | $testpmd_dut")
    tp+=("$t"); offered+=("$o")
    read -r w o < <(measure "weftd-$r" "${weftd_dut[@]}")
    wd+=("$w"); offered+=("$o")
    read -r n o < <(measure "weftd-noicrc-$r" "${weftd_dut[@]}" --no-icrc)
    wn+=("$n"); offered+=("$o")
    echo "round $r: testpmd $t pps, weftd $w pps, weftd --no-icrc $n pps (offered ~$o pps)" >&2
done
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
ratio() { if [[ $2 -gt 0 ]]; then echo "$1 / $2" | bc -l | xargs printf '%.2f'; else echo "n/a"; fi; }
mt=$(median "${tp[@]}") mw=$(median "${wd[@]}") mn=$(median "${wn[@]}") mo=$(median "${offered[@]}")
echo "setup: $DRIVER on veth, weft-gen inference RoCE, MTU $MTU (mean frame $frame_bytes B), $SECONDS_PER_RUN s x $ROUNDS rounds"
echo "generator offered:           $mo pps (median)"
echo "dpdk-testpmd io forwarding:  $mt pps (median)"
echo "weftd inline:                $mw pps (median), $(ratio "$mw" "$mt")x testpmd"
echo "weftd inline --no-icrc:      $mn pps (median), $(ratio "$mn" "$mt")x testpmd"
grep -h "^worker 0" "$WORK/weftd-1.log" || true

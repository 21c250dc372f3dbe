#!/usr/bin/python3
"""Where weftd's pipeline spends its time, by stage: perf samples (cpu-clock) of
weft-bench-pipeline's BM_Pipeline, each function charged to the stage that calls it, times
the benchmark's own ns/packet. A sampling profile, so a share is +-1-2 points; the stages
are functions of their own (src/dataplane/stage_*.cpp, firewall.cpp, tx.cpp), which is
what makes this split possible.

usage: bench/pipeline_stages.py BUILD [FILTER]     (root or perf_event_paranoid <= 1)
  FILTER: a benchmark regex, default BM_Pipeline/gradient_4k/2048/0
"""
import json
import re
import subprocess
import sys
import tempfile

# symbol (regex) -> stage; first match wins
STAGES = [
    (r"icrc|crc32|isal|crc_", "account: ICRC"),
    (r"roce::parse|decode_ext_headers", "account: parse"),
    (r"flow::Table|HostTable|flow::hash", "account: flow table"),
    (r"dataplane::account\b", "account: stage loop"),
    (r"dataplane::firewall", "firewall"),
    (r"EcmpPolicy|balance_decide|classify_stage|Pipeline::host_to_fabric|Pipeline::fabric_to_host",
     "classify + balance.decide"),
    (r"balance_apply", "balance.apply"),
    (r"crypt_seal|crypt_open|roce::locate", "crypt.seal / crypt.open"),
    (r"reorder", "reorder"),
    (r"TxQueues|rte_eth_tx|net_null|eth_null|rte_pktmbuf_free|rte_mempool", "tx (queues, TX burst to net_null, frees)"),
    (r"Worker::process|Pipeline::run", "worker: burst setup, timestamps"),
    (r"BM_Pipeline|benchmark::", "benchmark harness (refcounts, loop)"),
]


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    build = sys.argv[1]
    flt = sys.argv[2] if len(sys.argv) > 2 else "BM_Pipeline/gradient_4k/2048/0"
    bench = f"{build}/bench/weft-bench-pipeline"
    with tempfile.TemporaryDirectory() as tmp:
        data = f"{tmp}/perf.data"
        out = subprocess.run(["perf", "record", "-q", "-e", "cpu-clock", "-o", data, bench,
                              f"--benchmark_filter={flt}$", "--benchmark_min_time=3",
                              "--benchmark_format=json"], capture_output=True, text=True, check=True)
        result = json.loads(out.stdout)["benchmarks"][0]
        ns = result["ns_per_packet"] * 1e9  # the counter is seconds per packet (an inverted rate)
        rep = subprocess.run(["perf", "report", "-i", data, "--stdio", "--no-children",
                              "--sort", "dso,symbol"], capture_output=True, text=True, check=True).stdout
    shares = {}
    for line in rep.splitlines():
        m = re.match(r"\s*([0-9.]+)%\s+(\S+)\s+\[.\]\s+(.*)$", line)
        if not m:
            continue
        pct, dso, sym = float(m.group(1)), m.group(2), m.group(3)
        stage = next((name for pat, name in STAGES if re.search(pat, sym) or re.search(pat, dso)),
                     "other (kernel, libc, unattributed)")
        shares[stage] = shares.get(stage, 0.0) + pct
    print(f"{flt}: {ns:.1f} ns/packet")
    print("| stage | share | ns/packet |")
    print("|---|---|---|")
    for name in [n for _, n in STAGES] + ["other (kernel, libc, unattributed)"]:
        if name in shares:
            print(f"| {name} | {shares[name]:.1f} % | {ns * shares[name] / 100:.1f} |")


if __name__ == "__main__":
    main()

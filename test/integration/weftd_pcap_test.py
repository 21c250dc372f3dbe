#!/usr/bin/python3
"""weftd's data plane against the offline analyzer: a capture through the real pipeline
(net_pcap port -> rx burst -> parse -> ICRC -> flow table, on a DPDK worker lcore) with
`weftd --passive --pcap FILE --exit-on-eof --dump-flows OUT` must give exactly the
document of `weftctl analyze --json` on the same file. Captures: the real SoftRoCE
fixtures (microsecond pcaps: compared field for field) and weft-gen scenarios including
malformed frames (nanosecond pcaps: net_pcap hands DPDK microsecond timestamps, so
first_ns/last_ns are compared to the microsecond; every other field exactly).
usage: weftd_pcap_test.py SOURCE_DIR BUILD_DIR WORKDIR"""
import json
import os
import subprocess
import sys

SRC, BUILD, WORK = sys.argv[1:4]
os.makedirs(WORK, exist_ok=True)
weftd = os.path.join(BUILD, "tools", "weftd")
weftctl = os.path.join(BUILD, "tools", "weftctl")
weft_gen = os.path.join(BUILD, "tools", "weft-gen")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Checks  # noqa: E402

check = Checks()


def to_us(doc):
    for f in doc["flows"]:
        f["first_ns"] //= 1000
        f["last_ns"] //= 1000
    return doc


captures = [(os.path.join(SRC, "test", "fixtures", n, "capture.pcap"), False)
            for n in ("softroce-small", "softroce-loss")]
small = ["--hosts=4", "--message-size=64K", "--iterations=2", "--clients=4", "--requests=4",
         "--kv-block=32K", "--attack-count=64", "--mtu=1024"]
for scenario in ("gradient", "inference", "loss", "malformed"):
    out = os.path.join(WORK, f"{scenario}.pcap")
    subprocess.run([weft_gen, scenario, "-o", out, *small], check=True, capture_output=True)
    captures.append((out, True))
v6 = os.path.join(WORK, "gradient-v6-vlan.pcap")
subprocess.run([weft_gen, "gradient", "-o", v6, "--ipv6", "--vlan=42", "--hosts=3",
                "--message-size=64K", "--iterations=1"], check=True, capture_output=True)
captures.append((v6, True))

# one worker, then two: net_pcap has one RX queue, so worker 0 reads it and hands each
# frame to its flow's owner (software dispatch); the flows must not change
runs = [(path, ns, 1) for path, ns in captures] + [(path, ns, 2) for path, ns in captures]
for path, nanosecond, workers in runs:
    name = os.path.basename(os.path.dirname(path)) if path.endswith("capture.pcap") else os.path.basename(path)
    if workers > 1:
        name += f" ({workers} workers)"
    dump = os.path.join(WORK, name.replace(" ", "_") + ".weftd.json")
    r = subprocess.run([weftd, "--passive", "--pcap", path, "--exit-on-eof", "--dump-flows", dump,
                        "--file-prefix", f"weftd-test-{os.getpid()}", "--workers", str(workers),
                        "--control-socket", "none"],
                       capture_output=True, text=True, timeout=120)
    check(f"{name}: weftd ran to the end of the file", r.returncode == 0 and "end of input" in r.stderr,
          r.stderr[-800:])
    if r.returncode != 0:
        continue
    got = json.load(open(dump))
    want = json.loads(subprocess.run([weftctl, "analyze", "--json", "-q", path], capture_output=True,
                                     text=True, check=True).stdout)
    want.pop("source", None)
    dataplane = got.pop("dataplane")
    if nanosecond:
        got, want = to_us(got), to_us(want)
    same = got == want
    detail = ""
    if not same:
        for k in want:
            if got.get(k) != want[k]:
                detail += f" {k} differs;"
    check(f"{name}: weftd's flows == weftctl analyze's ({want['totals']['frames']} frames, "
          f"{len(want['flows'])} flows, {want['totals']['malformed']} malformed)", same, detail)
    check(f"{name}: every frame reached a worker and nothing was forwarded in passive mode",
          dataplane["ports"][0]["rx_packets"] == want["totals"]["frames"]
          and all(w["tx"]["forwarded_roce"] == 0 for w in dataplane["workers"]))
    if workers > 1:
        w0, w1 = dataplane["workers"][0], dataplane["workers"][1]
        check(f"{name}: worker 0 dispatched worker 1's share ({w1['account']['frames']} of "
              f"{want['totals']['frames']} frames), nothing dropped",
              w1["account"]["frames"] > 0 and w0["rx"]["dispatched"] == w1["account"]["frames"]
              and w0["rx"]["dropped_dispatch_full"] == 0, dataplane["workers"])

# configuration errors are one clear line each, before anything starts
r = subprocess.run([weftd, "--inline", "--port", "host:net_bogus0", "--port", "mirror:net_null0",
                    "--show-plan"], capture_output=True, text=True)
lines = [l for l in r.stderr.splitlines() if l.startswith("weftd: ")]
check("bad inline plan: exit 1 and one line per problem", r.returncode == 1 and len(lines) >= 3, r.stderr)
check("unknown vdev driver named", any("net_bogus0" in l for l in lines), r.stderr)
check("inline without a fabric port explained", any("fabric port" in l for l in lines), r.stderr)
conf = os.path.join(WORK, "bad.toml")
with open(conf, "w") as f:
    f.write('mode = "inline"\nworkerz = 2\n[[ports]]\nname = "h"\nrole = "host"\ndevice = "net_null0"\n'
            '[[ports]]\nname = "h"\nrole = "uplink"\ndevice = "net_null1"\n')
r = subprocess.run([weftd, "--check-config", conf], capture_output=True, text=True)
check("--check-config: a typo'd key and a bad role each reported with the file's name",
      r.returncode == 1 and f"{conf}: workerz: unknown key" in r.stderr and "ports[1].role" in r.stderr, r.stderr)
with open(conf, "w") as f:
    f.write('mode = "inline"\n[[ports]]\nname = "h"\nrole = "host"\ndevice = "net_null0"\n'
            '[[ports]]\nname = "h"\nrole = "fabric"\ndevice = "net_null0"\n')
r = subprocess.run([weftd, "--check-config", conf], capture_output=True, text=True)
check("--check-config: a name and a device used twice each reported",
      r.returncode == 1 and "name used twice" in r.stderr and "device net_null0 used twice" in r.stderr, r.stderr)
with open(conf, "w") as f:
    f.write('mode = "inline"\nworkers = [\n')
r = subprocess.run([weftd, "--check-config", conf], capture_output=True, text=True)
check("--check-config: a TOML syntax error points at line and column",
      r.returncode == 1 and f"{conf}:2:" in r.stderr, r.stderr)
with open(conf, "w") as f:
    f.write('mode = "inline"\nworkers = 1\n[[ports]]\nname = "host"\nrole = "host"\n'
            'device = "net_null0"\n[[ports]]\nname = "up0"\nrole = "fabric"\ndevice = "net_null1"\n')
r = subprocess.run([weftd, "--check-config", conf], capture_output=True, text=True)
check("--check-config: a valid file explains its plan", r.returncode == 0 and "valid" in r.stdout
      and "worker 0: CPU" in r.stdout and "--vdev net_null0" in r.stdout, r.stdout + r.stderr)
r = subprocess.run([weftd, "--passive", "--pcap", captures[0][0], "--workers", "64", "--show-plan"],
                   capture_output=True, text=True)
check("an impossible plan (64 workers) is refused before EAL starts", r.returncode == 1
      and "workers" in r.stderr, r.stderr)

check.finish()

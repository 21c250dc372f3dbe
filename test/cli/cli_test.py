#!/usr/bin/python3
"""Command-line behaviour of weftctl and weft-gen as an operator meets it: exit codes,
one-line errors, truncated captures, pcapng, filters, JSON schema, determinism, pacing.
usage: cli_test.py WEFTCTL WEFT_GEN WORKDIR"""
import hashlib
import json
import os
import shutil
import struct
import subprocess
import sys

WEFTCTL, GEN, WORK = sys.argv[1], sys.argv[2], sys.argv[3]
os.makedirs(WORK, exist_ok=True)
passed = failed = 0


def run(*args):
    return subprocess.run(list(args), capture_output=True, text=True)


def check(name, cond, detail=""):
    global passed, failed
    if cond:
        passed += 1
        print(f"PASS {name}")
    else:
        failed += 1
        print(f"FAIL {name} {detail}")


def gen(scenario, name, *extra):
    path = os.path.join(WORK, name)
    r = run(GEN, scenario, "-o", path, "-q", *extra)
    assert r.returncode == 0, r.stderr
    return path


def analyze_json(path, *extra):
    r = run(WEFTCTL, "analyze", "--json", "-q", path, *extra)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


small = ["--hosts", "4", "--message-size", "64K", "--iterations", "1", "--mtu", "1024"]
grad = gen("gradient", "grad.pcap", *small)

# --- help and usage
r = run(WEFTCTL, "--help")
check("weftctl --help", r.returncode == 0 and "analyze" in r.stdout)
r = run(WEFTCTL, "analyze", "--help")
check("weftctl analyze --help explains", r.returncode == 0 and "--json" in r.stdout and "destination QPN" in r.stdout)
check("weftctl without subcommand is a usage error", run(WEFTCTL).returncode == 2)
check("analyze without file is a usage error", run(WEFTCTL, "analyze").returncode == 2)
r = run(WEFTCTL, "analyze", grad, "--qpn", "zz")
check("bad --qpn: exit 2, one line", r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1, r.stderr)
r = run(WEFTCTL, "analyze", grad, "--host", "not-an-ip")
check("bad --host: exit 2", r.returncode == 2 and "not-an-ip" in r.stderr, r.stderr)

# --- unreadable inputs: exit 1 with one clear line
r = run(WEFTCTL, "analyze", os.path.join(WORK, "missing.pcap"))
check("missing file: exit 1, says so", r.returncode == 1 and "No such file" in r.stderr
      and len(r.stderr.strip().splitlines()) == 1, r.stderr)
notcap = os.path.join(WORK, "notcap.pcap")
with open(notcap, "w") as f:
    f.write("this is not a capture\n" * 10)
r = run(WEFTCTL, "analyze", notcap)
check("non-capture file: exit 1", r.returncode == 1 and "not a pcap" in r.stderr, r.stderr)
r = run(WEFTCTL, "analyze", WORK)
check("directory: exit 1", r.returncode == 1 and "directory" in r.stderr, r.stderr)
empty = os.path.join(WORK, "empty.pcap")
open(empty, "w").close()
r = run(WEFTCTL, "analyze", empty)
check("empty file: exit 1", r.returncode == 1, r.stderr)

# --- truncated last record: reported, not fatal
full = analyze_json(grad)
cut = os.path.join(WORK, "cut.pcap")
data = open(grad, "rb").read()
with open(cut, "wb") as f:
    f.write(data[:-20])  # inside the last record (every frame here is > 20 bytes)
r = run(WEFTCTL, "analyze", "--json", "-q", cut)
doc = json.loads(r.stdout) if r.returncode == 0 else {}
check("truncated last record: exit 0 with a warning", r.returncode == 0 and "truncated" in r.stderr, r.stderr)
check("truncated last record: counted, other frames analysed",
      doc.get("totals", {}).get("truncated_records") == 1
      and doc["totals"]["frames"] == full["totals"]["frames"] - 1)

# --- pcapng gives the same flows as pcap
if shutil.which("editcap"):
    ng = os.path.join(WORK, "grad.pcapng")
    subprocess.run(["editcap", "-F", "pcapng", grad, ng], check=True, capture_output=True)
    check("pcapng equals pcap", analyze_json(ng)["flows"] == full["flows"])

# --- JSON schema
check("schema name", full["schema"] == "weft.flows/1")
for key in ("totals", "malformed", "table", "flows"):
    check(f"document has {key}", key in full)
f0 = full["flows"][0]
for key in ("src", "dst", "dqpn", "sports", "packets", "bytes", "opcodes", "psn", "naks", "cnp",
            "ecn_ce", "icrc_errors", "messages", "message_sizes", "reverse", "outstanding_reads"):
    check(f"flow has {key}", key in f0)
check("psn has gaps/duplicates/out_of_order", set(f0["psn"]) == {"gaps", "duplicates", "out_of_order"})

# --- filters
host = f0["src"]
sub = analyze_json(grad, "--host", host, "--all")
check("--host keeps only that host's flows",
      sub["flows"] and all(host in (f["src"], f["dst"]) for f in sub["flows"]))
sub = analyze_json(grad, "--qpn", hex(f0["dqpn"]))
check("--qpn keeps only that QP", [f["dqpn"] for f in sub["flows"]] == [f0["dqpn"]])
check("--json lists every flow by default", len(full["flows"]) == full["totals"]["flows"])
sub = analyze_json(grad, "--top", "2")
check("--top 2", len(sub["flows"]) == 2 and sub["totals"]["flows"] == full["totals"]["flows"])
r = run(WEFTCTL, "analyze", "-q", grad)
check("human report lists flows", r.returncode == 0 and host in r.stdout and "DQPN" in r.stdout)

# --- weft-gen: determinism, errors, listing, pacing
a = gen("inference", "a.pcap", "--seed", "7", "--clients", "3", "--requests", "3")
b = gen("inference", "b.pcap", "--seed", "7", "--clients", "3", "--requests", "3")
c = gen("inference", "c.pcap", "--seed", "8", "--clients", "3", "--requests", "3")
h = lambda p: hashlib.sha256(open(p, "rb").read()).hexdigest()
check("same seed, same bytes", h(a) == h(b))
check("other seed, other bytes", h(a) != h(c))
r = run(GEN, "nonsense", "-o", os.path.join(WORK, "x.pcap"))
check("unknown scenario: exit 2", r.returncode == 2 and "unknown scenario" in r.stderr, r.stderr)
r = run(GEN, "gradient")
check("missing -o: exit 2", r.returncode == 2)
r = run(GEN, "gradient", "-o", "/nonexistent-dir/x.pcap", "-q")
check("unwritable output: exit 1", r.returncode == 1, r.stderr)
r = run(GEN, "--list")
names = ["gradient", "inference", "congestion", "loss", "qpn-scan", "psn-injection",
         "rkey-guessing", "fan-out", "bulk-read", "cnp-storm", "nak-storm", "malformed"]
check("--list names every scenario", r.returncode == 0 and all(n in r.stdout for n in names))
r = run(GEN, "--help")
check("--help explains every scenario", r.returncode == 0 and all(n in r.stdout for n in names))

# pacing: back-to-back frames are spaced by their serialisation time at --link-gbps
paced = gen("gradient", "paced.pcap", "--link-gbps", "100", "--hosts", "2", "--message-size", "64K",
            "--iterations", "1", "--mtu", "4096", "--packets", "20")
raw = open(paced, "rb").read()
magic = struct.unpack("<I", raw[:4])[0]
off, ts, lens = 24, [], []
while off + 16 <= len(raw):
    sec, frac, incl, orig = struct.unpack("<IIII", raw[off:off + 16])
    ts.append(sec * 10**9 + frac)
    lens.append(orig)
    off += 16 + incl
deltas_ok = all(abs((ts[i + 1] - ts[i]) - (lens[i] + 24) * 8 / 100) <= 1 for i in range(len(ts) - 1))
check("nanosecond pcap", magic == 0xA1B23C4D)
check("timestamps paced at 100 Gb/s", len(ts) == 20 and deltas_ok)

print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)

#!/usr/bin/python3
"""weft-probe's detection rate, false-positive rate and detection latency over scripted
scenarios (docs/DETECTION.md). Two network namespaces joined by a veth; for each weft-gen
attack and benign scenario and each seed, weft-probe watches one end while the pcap is
replayed out of the other (scripts/pcap-send.py, which records each frame's send time).

- detection: a run of an attack scenario raised its detector's alert;
- false positive: a run of a benign scenario (a window of healthy traffic) raised any;
- latency: from the send time of the first malicious frame (found by the scenario's
  rule below, on the frames themselves) to the moment the alert left the probe
  (`raised_monotonic_ns`), both CLOCK_MONOTONIC; and from the frame that brought the
  detector to its threshold (the probe's own reaction, where the first is paced by the
  attack: a volume or rate threshold is reached only as fast as the attacker sends).
usage: bench/detection_eval.py BUILD_DIR [SEEDS [BENIGN_SEEDS]]   (root; SEEDS 0: benign only)"""
import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time

# run by hand: find the shared package (scripts/python/weftkit) from this file's place in the tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "scripts", "python"))
from weftkit import pcap  # noqa: E402
from weftkit.netns import veth_between_namespaces  # noqa: E402
from weftkit.proc import sh  # noqa: E402
from weftkit.scenarios import SCENARIO_ALERTS, SMALL_SCENARIO_ARGS, SMALL_SCENARIO_PROBE_CONFIG  # noqa: E402

BUILD = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "build")
SEEDS = int(sys.argv[2]) if len(sys.argv) > 2 else 20
BENIGN_SEEDS = int(sys.argv[3]) if len(sys.argv) > 3 else SEEDS
SRC = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
probe = os.path.join(BUILD, "tools", "weft-probe")
weft_gen = os.path.join(BUILD, "tools", "weft-gen")
sender = os.path.join(SRC, "scripts", "pcap-send.py")
NS_TX, NS_RX = f"detx{os.getpid()}", f"derx{os.getpid()}"
WORK = tempfile.mkdtemp(prefix="weft-detection.")
RING = {f"10.0.0.{i}" for i in range(1, 5)}


def fields(fr):
    ip = fr[14:34]
    ihl = (ip[0] & 15) * 4
    udp = 14 + ihl
    d = {"src": socket.inet_ntoa(ip[12:16]), "dst": socket.inet_ntoa(ip[16:20]),
         "ip_len": struct.unpack("!H", ip[2:4])[0], "frame": len(fr)}
    if len(fr) >= udp + 8:
        d["udp_len"] = struct.unpack("!H", fr[udp + 4:udp + 6])[0]
    if len(fr) >= udp + 20:
        b = fr[udp + 8:udp + 20]
        d.update(opcode=b[0], tver=b[1] & 15, dqpn=int.from_bytes(b[5:8], "big"),
                 psn=int.from_bytes(b[9:12], "big"))
        ext = fr[udp + 20:udp + 36]
        if b[0] == 0x11 and len(ext) >= 1:  # ACK: its AETH syndrome
            d["syndrome"] = ext[0]
        if b[0] == 0x0C and len(ext) >= 16:  # READ request: its RETH DMA length
            d["dma_len"] = int.from_bytes(ext[12:16], "big")
    return d


# The default thresholds (bulk-read as configured below): the frame at which a detector's
# threshold is reached, by the same rules on the frames alone.
THRESHOLDS = {"qpn-scan": 16, "rkey-guessing": 3, "fan-out": 32, "bulk-read": 4 << 20,
              "cnp-storm": 5000, "nak-storm": 200}


def threshold_crossing(scenario, path):
    """Index of the frame that brings the scenario's detector to its threshold."""
    if scenario not in THRESHOLDS:
        return first_malicious(scenario, path)  # threshold 1: the first malicious frame
    need = THRESHOLDS[scenario]
    seen, total = {}, 0
    for i, fr in enumerate(pcap.frames(path)):
        f = fields(fr)
        op = f.get("opcode")
        if scenario == "qpn-scan" and f["src"] not in RING:
            seen.setdefault(f["dst"], set()).add(f.get("dqpn"))
            total = max(len(v) for v in seen.values())
        elif scenario == "rkey-guessing" and op == 0x11 and f.get("syndrome") == 0x62:
            total += 1
        elif scenario == "fan-out":
            seen.setdefault(f["src"], set()).add(f["dst"])
            total = max(len(v) for v in seen.values())
        elif scenario == "bulk-read" and op == 0x0C and f["dst"] not in RING:
            total += f.get("dma_len", 0)
        elif scenario == "cnp-storm" and op == 0x81:
            total += 1
        elif scenario == "nak-storm" and op == 0x11 and f.get("syndrome", 0) >> 5 != 0:
            total += 1
        if total >= need:
            return i
    return None


def first_malicious(scenario, path):
    """Index of the scenario's first malicious frame, by a rule on the frames alone."""
    last_psn = {}
    for i, fr in enumerate(pcap.frames(path)):
        f = fields(fr)
        if scenario in ("qpn-scan", "rkey-guessing") and f["src"] not in RING:
            return i
        if scenario == "bulk-read" and (f["src"] not in RING or f["dst"] not in RING):
            return i
        if scenario == "fan-out" and (f["src"] not in RING or f["dst"] not in RING):
            return i
        if scenario == "cnp-storm" and f.get("opcode") == 0x81:
            return i
        if scenario == "nak-storm" and f.get("opcode") == 0x11 and f.get("syndrome", 0) >> 5 != 0:
            return i
        if scenario == "malformed" and (f.get("opcode") in (0xFF, 0x15) or f.get("tver", 0) != 0
                                        or f["ip_len"] + 14 > f["frame"] or "opcode" not in f
                                        or f.get("udp_len", 0) != f["ip_len"] - 20):
            return i
        if scenario == "psn-injection" and "psn" in f and f["opcode"] < 0x11:  # requests
            key = (f["src"], f["dst"], f["dqpn"])
            if key in last_psn and ((f["psn"] - last_psn[key]) & 0xFFFFFF) >= 1 << 21:
                return i
            last_psn.setdefault(key, f["psn"])
            if ((f["psn"] - last_psn[key]) & 0xFFFFFF) < 1 << 21:
                last_psn[key] = f["psn"]
    return None


ATTACKS = {scenario: min(alerts) for scenario, alerts in SCENARIO_ALERTS.items() if alerts}
BENIGN = [scenario for scenario, alerts in SCENARIO_ALERTS.items() if not alerts]


def run_once(scenario, seed, config):
    capture = os.path.join(WORK, f"{scenario}-{seed}.pcap")
    sh(weft_gen, scenario, "-q", "-o", capture, f"--seed={seed}", *SMALL_SCENARIO_ARGS, check=True)
    alerts_path, times_path = capture + ".alerts", capture + ".times"
    p = subprocess.Popen(["ip", "netns", "exec", NS_RX, probe, "--iface", "rx0", "--config", config,
                          "--alerts", alerts_path, "--socket", "none"], stderr=subprocess.PIPE, text=True)
    p.stderr.readline()
    sh("ip", "netns", "exec", NS_TX, "/usr/bin/python3", sender, "--times", times_path, "tx0", capture, check=True)
    time.sleep(0.3)
    p.send_signal(signal.SIGTERM)
    p.communicate(timeout=30)
    alerts = [json.loads(l) for l in open(alerts_path)] if os.path.exists(alerts_path) else []
    times = [int(l) for l in open(times_path)]
    return capture, alerts, times


def pct(values, q):
    v = sorted(values)
    return v[min(len(v) - 1, int(q * len(v)))] if v else None


with veth_between_namespaces(NS_TX, "tx0", NS_RX, "rx0"):
    config = os.path.join(WORK, "probe.toml")
    with open(config, "w") as f:
        f.write(SMALL_SCENARIO_PROBE_CONFIG)
    rows = []
    for scenario, detector in ATTACKS.items():
        detected, latencies, reactions = 0, [], []
        for seed in range(1, SEEDS + 1):
            capture, alerts, times = run_once(scenario, seed, config)
            hit = [a for a in alerts if a["detector"] == detector]
            first = first_malicious(scenario, capture)
            crossing = threshold_crossing(scenario, capture)
            if hit:
                detected += 1
                raised = min(a["raised_monotonic_ns"] for a in hit)
                if first is not None:
                    latencies.append((raised - times[first]) / 1e6)
                if crossing is not None:
                    reactions.append((raised - times[crossing]) / 1e6)
        rows.append((scenario, detector, SEEDS, detected, latencies, reactions))
    fp = {}
    for scenario in BENIGN:
        flagged = 0
        for seed in range(1, BENIGN_SEEDS + 1):
            _, alerts, _ = run_once(scenario, seed, config)
            flagged += bool(alerts)
        fp[scenario] = flagged
shutil.rmtree(WORK, ignore_errors=True)

print("| attack scenario | detector | runs | detected | rate | from first malicious frame: "
      "p50 / p99 / max ms | from the frame reaching the threshold: p50 / p99 / max ms |")
print("|---|---|---|---|---|---|---|")
for scenario, detector, runs, detected, lat, react in (r for r in rows if r[2]):
    fmt = lambda x: "-" if x is None else f"{x:.2f}"
    three = lambda v: f"{fmt(pct(v, 0.5))} / {fmt(pct(v, 0.99))} / {fmt(max(v) if v else None)}"
    print(f"| {scenario} | `{detector}` | {runs} | {detected} | {100 * detected / runs:.0f} % | "
          f"{three(lat)} | {three(react)} |")
print()
print("| benign scenario | runs (windows) | windows with any alert |")
print("|---|---|---|")
for scenario, flagged in fp.items():
    print(f"| {scenario} | {BENIGN_SEEDS} | {flagged} |")

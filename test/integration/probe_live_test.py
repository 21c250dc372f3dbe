#!/usr/bin/python3
"""weft-probe live on a veth pair between two network namespaces: weft-gen scenarios are
replayed out of one end (AF_PACKET) while weft-probe watches the other. For each:

- the kernel programs count exactly what `weftctl analyze` finds in the same pcap: every
  frame, RoCE packets, malformed packets by reason, and per-QP packets;
- benign traffic (gradient, inference, congestion, loss with retransmissions) raises no
  alert; each attack raises its detector's alert, naming the attacker;
- weft-probe leaves no TC filter or clsact qdisc behind, also after being killed.
usage: probe_live_test.py SOURCE_DIR BUILD_DIR WORKDIR"""
import json
import os
import shutil
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (SCENARIO_ALERTS, SMALL_SCENARIO_ARGS, SMALL_SCENARIO_PROBE_CONFIG,  # noqa: E402
                     Checks, sh, veth_between_namespaces)

SRC, BUILD, WORK = sys.argv[1:4]
shutil.rmtree(WORK, ignore_errors=True)
os.makedirs(WORK)
probe = os.path.join(BUILD, "tools", "weft-probe")
weftctl = os.path.join(BUILD, "tools", "weftctl")
weft_gen = os.path.join(BUILD, "tools", "weft-gen")
sender = os.path.join(SRC, "scripts", "pcap-send.py")
NS_TX, NS_RX = f"wptx{os.getpid()}", f"wprx{os.getpid()}"
check = Checks()


# the analyzer's verdict names -> the probe's malformed counters
REASONS = {"ipv4_bad_total_length": "malformed_ip_length", "ipv6_bad_payload_length": "malformed_ip_length",
           "udp_bad_length": "malformed_udp_length", "bth_truncated": "malformed_truncated",
           "bth_bad_version": "malformed_version", "opcode_reserved": "malformed_opcode",
           "payload_inconsistent": "malformed_length"}
config = os.path.join(WORK, "probe.toml")
with open(config, "w") as f:
    f.write(SMALL_SCENARIO_PROBE_CONFIG)

with veth_between_namespaces(NS_TX, "tx0", NS_RX, "rx0"):
    for scenario, want_alerts in SCENARIO_ALERTS.items():
        pcap = os.path.join(WORK, scenario + ".pcap")
        sh(weft_gen, scenario, "-q", "-o", pcap, *SMALL_SCENARIO_ARGS, check=True)
        want = json.loads(sh(weftctl, "analyze", "--json", "-q", pcap, check=True).stdout)
        alerts_path = os.path.join(WORK, scenario + ".alerts.jsonl")
        counters_path = os.path.join(WORK, scenario + ".counters.json")
        sock = os.path.join(WORK, "alerts.sock")
        p = subprocess.Popen(["ip", "netns", "exec", NS_RX, probe, "--iface", "rx0", "--config", config,
                              "--alerts", alerts_path, "--counters-json", counters_path, "--socket", sock],
                             stderr=subprocess.PIPE, text=True)
        line = p.stderr.readline()
        if "attached" not in line:
            check(f"{scenario}: weft-probe attached", False, line + p.stderr.read())
            p.kill()
            continue
        # an operator following the alerts while it happens
        follow = subprocess.Popen([weftctl, "-s", sock, "alerts", "--follow", "--json"],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        time.sleep(0.3)
        sent = int(sh("ip", "netns", "exec", NS_TX, "python3", sender, "tx0", pcap, check=True).stdout)
        time.sleep(0.5)
        listed = sh(weftctl, "-s", sock, "alerts", "--json")
        try:
            listed = {a["detector"] for a in json.loads(listed.stdout)["alerts"]}
        except (ValueError, KeyError):
            listed = {"<unreadable>"}
        p.send_signal(signal.SIGTERM)
        p.communicate(timeout=30)
        check(f"{scenario}: weft-probe stopped cleanly on SIGTERM", p.returncode == 0, p.returncode)
        followed = follow.communicate(timeout=10)[0]
        followed = {json.loads(l)["detector"] for l in followed.splitlines() if l.strip()}
        check(f"{scenario}: weftctl alerts (list) and alerts --follow saw the same alerts",
              listed == followed == want_alerts, (listed, followed))
        check(f"{scenario}: the alert socket is gone", not os.path.exists(sock))
        try:
            got = json.load(open(counters_path))
        except (OSError, ValueError):
            check(f"{scenario}: counters written", False)
            continue
        c = got["counters"]
        check(f"{scenario}: every frame counted ({c['packets']} of {sent} sent)",
              c["packets"] == sent == want["totals"]["frames"])
        check(f"{scenario}: RoCE {c['roce']} == analyze {want['totals']['roce_packets']}, malformed "
              f"{c['malformed']} == {want['totals']['malformed']}",
              c["roce"] == want["totals"]["roce_packets"] and c["malformed"] == want["totals"]["malformed"])
        by_reason = {}
        for verdict, n in want["malformed"].items():
            if n:
                by_reason[REASONS.get(verdict, verdict)] = by_reason.get(REASONS.get(verdict, verdict), 0) + n
        check(f"{scenario}: malformed by reason == analyze's", all(c.get(k) == v for k, v in by_reason.items()),
              (by_reason, {k: v for k, v in c.items() if k.startswith("malformed_")}))
        qps = {(q["src"], q["dst"], q["dqpn"]): q["packets"] for q in got["qps"]}
        flows = {(f["src"], f["dst"], f["dqpn"]): f["packets"] for f in want["flows"]}
        check(f"{scenario}: per-QP packets == analyze's ({len(flows)} flows)", qps == flows,
              set(qps.items()) ^ set(flows.items()))
        check(f"{scenario}: nothing lost (ring buffer, maps)",
              c["ringbuf_drops"] == 0 and c["qp_map_full"] == 0 and c["peer_map_full"] == 0, c)
        alerts = [json.loads(l) for l in open(alerts_path)] if os.path.exists(alerts_path) else []
        raised = {a["detector"] for a in alerts}
        check(f"{scenario}: alerts {sorted(raised) or 'none'} == expected {sorted(want_alerts) or 'none'}",
              raised == want_alerts, alerts[:3])
        for a in alerts:
            ok = all(k in a for k in ("time", "host", "interface", "detector", "severity", "evidence"))
            check(f"{scenario}: alert {a['detector']} has time, host, interface, severity, evidence",
                  ok and a["interface"] == "rx0", a)
            break

    # a killed probe leaves its filters; the next one replaces them, and its own exit
    # removes everything
    p = subprocess.Popen(["ip", "netns", "exec", NS_RX, probe, "--iface", "rx0"],
                         stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    p.stderr.readline()
    subprocess.run(["pkill", "-KILL", "-f", f"{probe} --iface rx0"])
    p.wait(timeout=10)
    left = sh("ip", "netns", "exec", NS_RX, "tc", "filter", "show", "dev", "rx0", "ingress").stdout
    check("after SIGKILL the filter is still there (nothing cleaned it)", "weft" in left or "bpf" in left, left)
    p = subprocess.Popen(["ip", "netns", "exec", NS_RX, probe, "--iface", "rx0", "--duration", "0.5"],
                         stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    err = p.communicate(timeout=30)[1]
    check("a restarted probe attaches over the leftover and exits 0", p.returncode == 0, err)
    for direction in ("ingress", "egress"):
        left = sh("ip", "netns", "exec", NS_RX, "tc", "filter", "show", "dev", "rx0", direction).stdout
        check(f"no {direction} filter left behind", left.strip() == "", left)
check.finish()

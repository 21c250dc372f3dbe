"""Balancing on a running weftd, through weftctl and Prometheus: the host port replays a
weft-gen gradient capture (net_pcap), the two uplinks are DPDK net_ring ports, each looping
its own transmissions back. Checks the commands docs/WEFTD.md shows: `weftctl paths` (text
and weft.paths/1 JSON), `weftctl explain-path` for a flow of the capture (and for one that
is not there, and a bad QPN), `weftctl balance policy NAME` (and its refusals), `weftctl
balance reorder pause|resume`; weftd's own reorder offers on its uplinks come back to it
(the ring) and are learnt as offers; the weft_path_* and weft_reorder_* metrics pass
promtool."""
import json
import os
import signal
import socket
import subprocess
import time
import urllib.request

import pytest
from weftkit.proc import analyze, generate, sh

CONFIG = """mode = "inline"

[[ports]]
name = "host"
role = "host"
device = "net_pcap0"
args = "rx_pcap=CAPTURE,tx_pcap=OUTPUT"

[[ports]]
name = "uplink0"
role = "fabric"
device = "net_ring1"

[[ports]]
name = "uplink1"
role = "fabric"
device = "net_ring2"

# the capture's clock and the rings' (TSC) meet in one table: without this, the capture's
# flows would look idle next to the looped-back frames' times and be evicted
[flows]
idle_timeout_s = 0

[balance]
policy = "congestion"
reorder = true
reorder_hosts = ["10.99.0.1/32", "10.98.0.0/16"]
offer_interval_ms = 100
"""


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def weftd(tools, work_dir):
    capture = generate(tools.weft_gen, "gradient", os.path.join(work_dir, "gradient.pcap"), "--hosts=4",
                       "--iterations=2", "--mtu=1024")
    config = os.path.join(work_dir, "balance.toml")
    with open(config, "w") as f:
        f.write(CONFIG.replace("CAPTURE", capture).replace("OUTPUT", os.path.join(work_dir, "host-out.pcap")))
    sock = os.path.join(work_dir, "weftd.sock")
    port = free_port()
    log = open(os.path.join(work_dir, "weftd.log"), "w")
    proc = subprocess.Popen([tools.weftd, "--config", config, "--control-socket", sock, "--metrics",
                             f"127.0.0.1:{port}", "--file-prefix", f"weft-balance-{os.getpid()}",
                             "--idle-sleep-us", "200"], stdout=log, stderr=subprocess.STDOUT)
    for _ in range(150):
        if os.path.exists(sock) or proc.poll() is not None:
            break
        time.sleep(0.2)

    def ctl(*args):
        return sh(tools.weftctl, "-s", sock, *args, timeout=30)

    frames = analyze(tools.weftctl, capture)["totals"]["roce_packets"]
    deadline = time.time() + 60
    while time.time() < deadline and proc.poll() is None:  # every frame through the host port
        r = ctl("paths", "--json")
        if r.returncode == 0 and sum(p["packets"] for p in json.loads(r.stdout)["paths"]) >= frames:
            break
        time.sleep(0.2)
    try:
        yield type("W", (), {"ctl": staticmethod(ctl), "port": port, "proc": proc, "log": log.name,
                             "capture": capture, "frames": frames})
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def paths(weftd):
    r = weftd.ctl("paths", "--json")
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def test_paths_json_names_the_policy_and_one_path_per_uplink(weftd):
    d = paths(weftd)
    assert d["schema"] == "weft.paths/1"
    assert d["policy"] == "congestion"
    assert [p["uplink"] for p in d["paths"]] == ["uplink0", "uplink1"]
    assert all(p["state"] == "ok" and p["source_port"] is None for p in d["paths"])
    assert set(d["paths"][0]["signals"]) == {"retransmit", "nak", "cnp", "ecn_ce", "tx_drop"}
    assert d["reorder"]["enabled"] and d["reorder"]["hosts"] == ["10.99.0.1/32", "10.98.0.0/16"]


def test_every_replayed_roce_frame_went_on_a_path_and_both_uplinks_carry_some(weftd):
    d = paths(weftd)
    assert sum(p["packets"] for p in d["paths"]) == weftd.frames, d["paths"]
    assert all(p["packets"] > 0 for p in d["paths"]), d["paths"]


def test_explain_path_says_where_a_flow_goes_and_why(weftd, tools):
    flow = next(f for f in analyze(tools.weftctl, weftd.capture)["flows"] if f["packets"] > 1)
    r = weftd.ctl("explain-path", flow["src"], flow["dst"], str(flow["dqpn"]), "--json")
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    assert d["schema"] == "weft.explain-path/1" and d["found"], d
    assert d["policy"] == "congestion" and d["reason"] == "least_loaded", d
    assert d["path"]["uplink"] in ("uplink0", "uplink1") and d["class"] == "unknown", d
    # each frame counted twice by the flow: from the host, and looped back by the ring
    assert d["packets"] == 2 * flow["packets"], (d, flow)
    text = weftd.ctl("explain-path", flow["src"], flow["dst"], hex(flow["dqpn"])).stdout
    assert "why: the better of two candidate paths" in text, text


def test_explain_path_of_a_flow_that_is_not_there_says_so(weftd):
    r = weftd.ctl("explain-path", "192.0.2.1", "192.0.2.2", "7")
    assert r.returncode == 0 and "no such host -> fabric RoCE flow" in r.stdout, r.stdout + r.stderr


@pytest.mark.parametrize("args,words", [(["10.0.0.1", "10.0.0.2", "0x1000000"], "not a 24-bit QP number"),
                                        (["10.0.0.1", "nowhere", "5"], "not an IPv4 or IPv6 address")])
def test_explain_path_refuses_bad_input(weftd, args, words):
    r = weftd.ctl("explain-path", *args)
    assert r.returncode == 2 and words in r.stderr, r.stderr


def test_weftds_own_offers_come_back_on_the_rings_and_are_learnt(weftd):
    deadline, d = time.time() + 10, {}
    while time.time() < deadline:
        d = paths(weftd)
        if d["counters"]["offers_received"] >= 2:
            break
        time.sleep(0.2)
    assert d["counters"]["offers_sent"] >= 2 and d["counters"]["offers_received"] >= 2, d["counters"]
    assert {p["hosts"] for p in d["spray_peers"] if p["live"]} == {"10.99.0.1/32", "10.98.0.0/16"}


def test_paths_text_has_a_row_per_path_and_fits_100_columns(weftd):
    r = weftd.ctl("paths")
    assert r.returncode == 0, r.stderr
    assert "policy congestion" in r.stdout
    rows = [l for l in r.stdout.splitlines() if l.strip().startswith(("0 ", "1 "))]
    assert len(rows) == 2, r.stdout
    assert all(len(l) <= 100 for l in r.stdout.splitlines()[1:4]), r.stdout


def test_balance_policy_switches_and_says_from_what(weftd):
    r = weftd.ctl("balance", "policy", "spray")
    assert r.returncode == 0 and "policy congestion -> spray" in r.stdout, r.stdout + r.stderr
    assert paths(weftd)["policy"] == "spray"
    r = weftd.ctl("balance", "policy", "ecmp", "--json")
    assert json.loads(r.stdout)["changed"] == {"from": "spray", "to": "ecmp"}
    weftd.ctl("balance", "policy", "congestion")


def test_an_unknown_policy_is_a_usage_error(weftd):
    r = weftd.ctl("balance", "policy", "random")
    assert r.returncode == 2 and "random" in r.stderr, r.stderr


def test_reorder_pause_and_resume(weftd):
    r = weftd.ctl("balance", "reorder", "pause")
    assert r.returncode == 0 and "(PAUSED)" in r.stdout, r.stdout + r.stderr
    assert paths(weftd)["reorder"]["paused"]
    assert weftd.ctl("balance", "reorder", "resume").returncode == 0
    assert not paths(weftd)["reorder"]["paused"]


def test_metrics_have_the_paths_and_pass_promtool(weftd, tools):
    text = urllib.request.urlopen(f"http://127.0.0.1:{weftd.port}/metrics", timeout=10).read().decode()
    for name in ("weft_path_packets_total", "weft_path_signals_total", "weft_path_congested",
                 "weft_path_moves_total", "weft_reorder_held_total", "weft_balance_offers_received_total"):
        assert f"\n{name}" in text or text.startswith(name), name
    assert 'uplink="uplink1"' in text and 'signal="tx_drop"' in text
    r = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


def test_weftd_logged_each_change(weftd):
    with open(weftd.log) as f:
        log = f.read()
    assert "balancing policy congestion -> spray (weftctl)" in log, log
    assert "reorder paused" in log, log

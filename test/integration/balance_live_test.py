"""Balancing on a running weftd, through weftctl and Prometheus (no traffic needed: DPDK
net_ring ports, each looping its own transmissions back). Checks the commands docs/WEFTD.md
shows: `weftctl paths` (text and weft.paths/1 JSON), `weftctl balance policy NAME` (and
its refusals), `weftctl balance reorder pause|resume`; weftd's own reorder offers on
its uplinks come back to it (the ring) and are learnt as offers; the weft_path_* and
weft_reorder_* metrics pass promtool."""
import json
import os
import signal
import socket
import subprocess
import time
import urllib.request

import pytest
from weftkit.proc import sh

CONFIG = """mode = "inline"

[[ports]]
name = "host"
role = "host"
device = "net_ring0"

[[ports]]
name = "uplink0"
role = "fabric"
device = "net_ring1"

[[ports]]
name = "uplink1"
role = "fabric"
device = "net_ring2"

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
    config = os.path.join(work_dir, "balance.toml")
    with open(config, "w") as f:
        f.write(CONFIG)
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

    try:
        yield type("W", (), {"ctl": staticmethod(ctl), "port": port, "proc": proc, "log": log.name})
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

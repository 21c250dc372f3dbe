"""weft-probe live on a veth pair between two network namespaces: weft-gen scenarios are
replayed out of one end (AF_PACKET, scripts/pcap-send.py) while weft-probe watches the
other. For each scenario:

- the kernel programs count exactly what `weftctl analyze` finds in the same pcap: every
  frame, RoCE packets, malformed packets by reason, and per-QP packets;
- benign traffic (gradient, inference, congestion, loss with retransmissions) raises no
  alert; each attack raises its detector's alert, naming the attacker;
- weft-probe leaves no TC filter or clsact qdisc behind, also after being killed.

The namespaces are made once per run; each scenario is replayed once, the first time a
check of it runs, so `-k qpn-scan` replays only that one."""
import json
import os
import signal
import subprocess
import time
from types import SimpleNamespace

import pytest
from weftkit import netns
from weftkit.proc import analyze, generate, must, sh
from weftkit.scenarios import SCENARIO_ALERTS, SMALL_SCENARIO_ARGS, SMALL_SCENARIO_PROBE_CONFIG

NS_TX, NS_RX = f"wptx{os.getpid()}", f"wprx{os.getpid()}"
SCENARIOS = list(SCENARIO_ALERTS)
ATTACKS = [s for s in SCENARIOS if SCENARIO_ALERTS[s]]

# the analyzer's verdict names -> the probe's malformed counters
REASONS = {"ipv4_bad_total_length": "malformed_ip_length", "ipv6_bad_payload_length": "malformed_ip_length",
           "udp_bad_length": "malformed_udp_length", "bth_truncated": "malformed_truncated",
           "bth_bad_version": "malformed_version", "opcode_reserved": "malformed_opcode",
           "payload_inconsistent": "malformed_length"}


@pytest.fixture(scope="module")
def veth():
    """tx0 in NS_TX -- rx0 in NS_RX, for the whole file."""
    with netns.veth_between_namespaces(NS_TX, "tx0", NS_RX, "rx0"):
        yield


@pytest.fixture(scope="module")
def probe_config(work_dir):
    path = os.path.join(work_dir, "probe.toml")
    with open(path, "w") as f:
        f.write(SMALL_SCENARIO_PROBE_CONFIG)
    return path


def replay(tools, source_root, work_dir, config, scenario):
    """One scenario: weft-probe on rx0, an operator following its alerts, the pcap sent out
    of tx0, weft-probe stopped with SIGTERM; what every check of the scenario reads."""
    r = SimpleNamespace(scenario=scenario, attach_error=None)
    pcap = generate(tools.weft_gen, scenario, os.path.join(work_dir, scenario + ".pcap"), *SMALL_SCENARIO_ARGS)
    r.want = analyze(tools.weftctl, pcap)
    r.alerts_path = os.path.join(work_dir, scenario + ".alerts.jsonl")
    counters_path = os.path.join(work_dir, scenario + ".counters.json")
    r.sock = os.path.join(work_dir, "alerts.sock")
    p = subprocess.Popen(["ip", "netns", "exec", NS_RX, tools.weft_probe, "--iface", "rx0", "--config", config,
                          "--alerts", r.alerts_path, "--counters-json", counters_path, "--socket", r.sock],
                         stderr=subprocess.PIPE, text=True)
    line = p.stderr.readline()
    if "attached" not in line:
        p.kill()
        r.attach_error = line + p.communicate()[1]
        return r
    # an operator following the alerts while it happens
    follow = subprocess.Popen([tools.weftctl, "-s", r.sock, "alerts", "--follow", "--json"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(0.3)
    r.sent = int(must("/usr/bin/python3", os.path.join(source_root, "scripts", "pcap-send.py"), "tx0", pcap,
                      ns=NS_TX).stdout)
    time.sleep(0.5)
    listed = sh(tools.weftctl, "-s", r.sock, "alerts", "--json")
    try:
        r.listed = {a["detector"] for a in json.loads(listed.stdout)["alerts"]}
    except (ValueError, KeyError):
        r.listed = {f"<unreadable: {listed.stdout[:200]} {listed.stderr[:200]}>"}
    p.send_signal(signal.SIGTERM)
    r.stop_err = p.communicate(timeout=30)[1]
    r.returncode = p.returncode
    followed = follow.communicate(timeout=10)[0]
    r.followed = {json.loads(line)["detector"] for line in followed.splitlines() if line.strip()}
    try:
        with open(counters_path) as f:
            r.got = json.load(f)
    except (OSError, ValueError) as e:
        r.got = None
        r.counters_error = str(e)
    r.alerts = []
    if os.path.exists(r.alerts_path):
        with open(r.alerts_path) as f:
            r.alerts = [json.loads(line) for line in f]
    return r


@pytest.fixture(scope="module")
def scenario_run(tools, source_root, work_dir, veth, probe_config):
    """scenario_run(name) -> what replay() gathered, each scenario replayed once."""
    runs = {}

    def get(scenario):
        if scenario not in runs:
            runs[scenario] = replay(tools, source_root, work_dir, probe_config, scenario)
        r = runs[scenario]
        if r.attach_error is not None:
            pytest.fail(f"{scenario}: weft-probe did not attach: {r.attach_error[-1500:]}", pytrace=False)
        return r
    return get


def counters(r):
    if r.got is None:
        pytest.fail(f"{r.scenario}: weft-probe wrote no counters ({r.counters_error})", pytrace=False)
    return r.got["counters"]


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_probe_stopped_cleanly_on_sigterm(scenario_run, scenario):
    r = scenario_run(scenario)
    assert r.returncode == 0, f"rc {r.returncode}: {r.stop_err[-800:]}"


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_alerts_list_and_follow_saw_the_expected_alerts(scenario_run, scenario):
    r = scenario_run(scenario)
    assert r.listed == r.followed == SCENARIO_ALERTS[scenario], \
        f"listed {r.listed}, followed {r.followed}, expected {SCENARIO_ALERTS[scenario]}"


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_the_alert_socket_is_gone(scenario_run, scenario):
    r = scenario_run(scenario)
    assert not os.path.exists(r.sock), r.sock


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_every_frame_counted(scenario_run, scenario):
    r = scenario_run(scenario)
    c = counters(r)
    assert c["packets"] == r.sent == r.want["totals"]["frames"], \
        f"{c['packets']} counted of {r.sent} sent, analyze {r.want['totals']['frames']} frames"


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_roce_and_malformed_equal_analyzes(scenario_run, scenario):
    r = scenario_run(scenario)
    c, t = counters(r), r.want["totals"]
    assert c["roce"] == t["roce_packets"] and c["malformed"] == t["malformed"], \
        f"RoCE {c['roce']} == analyze {t['roce_packets']}, malformed {c['malformed']} == {t['malformed']}"


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_malformed_by_reason_equals_analyzes(scenario_run, scenario):
    r = scenario_run(scenario)
    c = counters(r)
    by_reason = {}
    for verdict, n in r.want["malformed"].items():
        if n:
            by_reason[REASONS.get(verdict, verdict)] = by_reason.get(REASONS.get(verdict, verdict), 0) + n
    assert all(c.get(k) == v for k, v in by_reason.items()), \
        (by_reason, {k: v for k, v in c.items() if k.startswith("malformed_")})


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_per_qp_packets_equal_analyzes(scenario_run, scenario):
    r = scenario_run(scenario)
    counters(r)
    qps = {(q["src"], q["dst"], q["dqpn"]): q["packets"] for q in r.got["qps"]}
    flows = {(f["src"], f["dst"], f["dqpn"]): f["packets"] for f in r.want["flows"]}
    assert qps == flows, f"{len(flows)} flows; differing (QP, packets): {set(qps.items()) ^ set(flows.items())}"


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_nothing_lost_ring_buffer_maps(scenario_run, scenario):
    c = counters(scenario_run(scenario))
    assert c["ringbuf_drops"] == 0 and c["qp_map_full"] == 0 and c["peer_map_full"] == 0, c


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_alerts_raised_equal_expected(scenario_run, scenario):
    r = scenario_run(scenario)
    raised = {a["detector"] for a in r.alerts}
    assert raised == SCENARIO_ALERTS[scenario], \
        f"alerts {sorted(raised) or 'none'}, expected {sorted(SCENARIO_ALERTS[scenario]) or 'none'}: {r.alerts[:3]}"


@pytest.mark.parametrize("scenario", ATTACKS)
def test_alert_has_time_host_interface_severity_evidence(scenario_run, scenario):
    r = scenario_run(scenario)
    assert r.alerts, f"{scenario} raised no alert"
    a = r.alerts[0]
    assert all(k in a for k in ("time", "host", "interface", "detector", "severity", "evidence")) \
        and a["interface"] == "rx0", a


# ---- a killed probe leaves its filters; the next one replaces them, and its own exit
# removes everything

@pytest.fixture(scope="module")
def after_kill(tools, veth):
    p = subprocess.Popen(["ip", "netns", "exec", NS_RX, tools.weft_probe, "--iface", "rx0"],
                         stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    p.stderr.readline()  # "attached ..."
    # `ip netns exec` execs the probe in its own process, so this SIGKILL reaches the probe
    # itself, and no other weft-probe on the machine
    p.send_signal(signal.SIGKILL)
    p.wait(timeout=10)
    left = sh("ip", "netns", "exec", NS_RX, "tc", "filter", "show", "dev", "rx0", "ingress").stdout
    p = subprocess.Popen(["ip", "netns", "exec", NS_RX, tools.weft_probe, "--iface", "rx0", "--duration", "0.5"],
                         stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    err = p.communicate(timeout=30)[1]
    remaining = {d: sh("ip", "netns", "exec", NS_RX, "tc", "filter", "show", "dev", "rx0", d).stdout
                 for d in ("ingress", "egress")}
    return SimpleNamespace(left=left, restart_rc=p.returncode, restart_err=err, remaining=remaining)


def test_after_sigkill_the_filter_is_still_there(after_kill):
    # nothing cleaned it: the restart below has something to replace
    assert "weft" in after_kill.left or "bpf" in after_kill.left, after_kill.left


def test_a_restarted_probe_attaches_over_the_leftover_and_exits_0(after_kill):
    assert after_kill.restart_rc == 0, after_kill.restart_err


@pytest.mark.parametrize("direction", ["ingress", "egress"])
def test_no_filter_left_behind(after_kill, direction):
    left = after_kill.remaining[direction]
    assert left.strip() == "", left

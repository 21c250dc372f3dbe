"""End to end against real SoftRoCE: two qemu guests running Debian's kernel with rdma_rxe
(scripts/softroce/run all) run weftctl devices, ibv_rc_pingpong, ib_write_bw, ib_read_bw
and weft-verbs' gradient and inference patterns; the host captures the RoCEv2 on the
bridge. With --loss the bridge drops a share of the frames towards g1 after the capture
point, so NAKs and retransmissions are real.

Checks: every program succeeds and both weft-verbs sides agree on what moved; weftctl
devices lists rxe0 with the guest's RoCE v2 GID; weftctl analyze of the capture agrees
per QP with tshark and verifies every ICRC; per direction, the captured packets equal the
sender's rxe sent_pkts, and (less the frames the bridge dropped) the receiver's rcvd_pkts.
With --probe weft-probe watches both taps and must count what rxe sent and flag only the
injected QPN scan. With --via-weftd the guests' taps are joined by weftd inline instead
of the bridge, and weftd's own flow table must agree with rxe's counters and with the
capture after it.

The guests boot once per pytest run (the module fixture `run`); --softroce-run gives the
harness's options, e.g. --softroce-run='--scale small --loss 5'. Checks of an option the
run was not given (marked run_option) are deselected, as pytest's summary line says."""
import json
import os
import re
import subprocess
from types import SimpleNamespace

import pytest
from weftkit.softroce import our_namespaces, read
from weftkit.ci import require_program
from weftkit.docs import weftd_ports, weftd_workers
from weftkit.proc import analyze
from weftkit.tshark import compare

GUESTS = {"g1": "10.99.0.1", "g2": "10.99.0.2"}
OTHER = {"g1": "g2", "g2": "g1"}
DIRECTIONS = ["g1->g2", "g2->g1"]


def read_json(path, default=None):
    """The JSON document a guest or a host tool left at `path`, or `default` when it is
    missing or not JSON."""
    try:
        return json.loads(read(path))
    except ValueError:
        return default


@pytest.fixture(scope="module")
def run(tools, source_root, work_dir, request):
    """scripts/softroce/run all with --softroce-run's options (minutes: two guests boot);
    its OUTDIR is this file's work directory. What it left behind is looked at at once."""
    options = request.config.getoption("softroce_run").split()
    # A namespace left by a run killed outright is removed by the next run; what must not
    # happen is this run leaving one: every weftrxe namespace after it must have been there before.
    before = our_namespaces()
    r = subprocess.run([os.path.join(source_root, "scripts", "softroce", "run"), "all", *options, work_dir],
                       env=dict(os.environ, WEFT_BUILD=tools.build), capture_output=True, text=True, timeout=900)
    with open(os.path.join(work_dir, "harness.log"), "w") as f:
        f.write(r.stdout + r.stderr)
    qemu = subprocess.run(["pgrep", "-f", "qemu-system-x86_64 -name g[12] "], capture_output=True, text=True)
    return SimpleNamespace(out=work_dir, lossy="--loss" in options, psp="--via-psp" in options, rc=r.returncode,
                           log=r.stdout[-2000:] + r.stderr[-2000:], left=our_namespaces() - before,
                           qemu=qemu.stdout.strip())


def path(run, *parts):
    return os.path.join(run.out, *parts)


def rxe_counters(run, guest):
    """The guest's rxe hw_counters after the run, name -> value."""
    out = {}
    for line in read(path(run, guest, "hw_counters.txt")).splitlines():
        k, _, v = line.partition(" ")
        if v.strip().isdigit():
            out[k] = int(v)
    return out


@pytest.fixture(scope="module")
def rxe(run):
    return {g: rxe_counters(run, g) for g in GUESTS}


@pytest.fixture(scope="module")
def capture(run):
    return path(run, "capture.pcap")


@pytest.fixture(scope="module")
def analysis(tools, capture):
    """weftctl analyze --json of the bridge capture, made once for every check."""
    if not os.path.exists(capture):
        pytest.fail(f"no capture at {capture}", pytrace=False)
    return analyze(tools.weftctl, capture)


def test_both_guests_ran_every_program(run):
    assert run.rc == 0, f"rc={run.rc}; see {path(run, 'harness.log')}: {run.log}"


def test_no_network_namespace_left_behind(run):
    assert not run.left, " ".join(sorted(run.left))


def test_no_qemu_left_behind(run):
    assert run.qemu == "", run.qemu


@pytest.mark.parametrize("guest", GUESTS)
def test_weftctl_devices_lists_rxe0_with_its_roce_v2_gid(run, guest):
    doc = read_json(path(run, guest, "devices.txt"), {})
    try:
        gids = [g for d in doc["devices"] if d["name"] == "rxe0" for p in d["ports"] for g in p["gids"]]
    except KeyError:
        gids = []
    assert any(g["type"] == "RoCE v2" and g["ip"] == GUESTS[guest] for g in gids), \
        f"want RoCE v2 GID {GUESTS[guest]}; devices.txt: {read(path(run, guest, 'devices.txt'))[:800]}"


def test_ibv_rc_pingpong_completed(run):
    text = read(path(run, "g2", "pingpong.txt"))
    assert "iters in" in text, text[-800:]


@pytest.mark.parametrize("test", ["write_bw", "read_bw"])
def test_perftest_completed(run, test):
    text = read(path(run, "g2", f"{test}.txt"))
    assert re.search(r"^\s*\d+\s+\d+\s", text, re.M), f"ib_{test}: {text[-800:]}"


# ---- weft-verbs: both sides' reports, and the client's latency figures

def verbs_reports(run, pattern):
    """(client's report, server's report) of a weft-verbs pattern; {} when missing."""
    return (read_json(path(run, "g2", f"verbs_{pattern}.txt"), {}),
            read_json(path(run, "g1", f"verbs_{pattern}.txt"), {}))


def verbs_ok(run, pattern):
    """Both sides' reports; fails the check when either side did not succeed."""
    client, server = verbs_reports(run, pattern)
    if not (client.get("ok") and server.get("ok")):
        pytest.fail(f"weft-verbs {pattern} did not succeed on both sides (see test_weft_verbs_both_sides_ok)",
                    pytrace=False)
    return client, server


@pytest.mark.parametrize("pattern", ["gradient", "inference"])
def test_weft_verbs_both_sides_ok(run, pattern):
    client, server = verbs_reports(run, pattern)
    assert client.get("ok") and server.get("ok"), \
        f"client={client.get('problems', client.get('error'))} server={server.get('problems', server.get('error'))}"


@pytest.mark.parametrize("pattern", ["gradient", "inference"])
def test_weft_verbs_what_one_side_sent_the_other_received(run, pattern):
    client, server = verbs_ok(run, pattern)
    c, s = client["local"], server["local"]
    assert c["operations_sent"] == s["operations_received"] > 0 and c["bytes_sent"] == s["bytes_received"] \
        and s["operations_sent"] == c["operations_received"] > 0, f"client {c}, server {s}"


@pytest.mark.parametrize("pattern,timed", [("gradient", "rdma_write_imm"), ("inference", "request")])
def test_weft_verbs_latency_p50_p99_p999_reported(run, pattern, timed):
    client, _ = verbs_ok(run, pattern)
    lat = {o["name"]: o for o in client["operations"]}.get(timed, {}).get("latency_us", {})
    assert 0 < lat.get("p50", 0) <= lat.get("p99", 0) <= lat.get("p99.9", 0), f"{timed}: {lat}"


def test_weft_verbs_gradient_writes_of_the_planned_size_each_way(run):
    client, _ = verbs_ok(run, "gradient")
    ops, plan = {o["name"]: o for o in client["operations"]}, client["plan"]
    want = plan["iterations"] * plan["qps"]
    w = ops["rdma_write_imm"]
    assert w["count"] == want and w["bytes"] == want * plan["message_bytes"], \
        f"want {want} writes of {plan['message_bytes']} B; got {w['count']} writes, {w['bytes']} B"


def test_weft_verbs_inference_requests_and_reads(run):
    client, _ = verbs_ok(run, "inference")
    ops, plan = {o["name"]: o for o in client["operations"]}, client["plan"]
    reads = -(-plan["iterations"] // plan["read_every"])
    assert ops["request"]["count"] == plan["iterations"] and ops["rdma_read"]["count"] == reads, \
        f"want {plan['iterations']} requests and {reads} READs; got {ops['request']['count']} and " \
        f"{ops['rdma_read']['count']}"


# ---- a wrong rkey: the client must fail naming rxe's status, the server must fail too

def test_weft_verbs_wrong_rkey_fails_with_remote_access_error(run):
    bad = read_json(path(run, "g2", "verbs_bad_rkey.txt"), {})
    assert bad.get("ok") is False and "remote access error" in bad.get("error", ""), bad


def test_weft_verbs_server_fails_and_names_the_clients_reason(run):
    err = read(path(run, "g1", "verbs_bad_rkey.err"))
    assert "weft-verbs server:" in err and "remote access error" in err, err


# ---- the bridge capture: weftctl analyze against tshark and against rxe's counters

def test_capture_exists(capture):
    assert os.path.exists(capture), capture


def test_weftctl_analyze_agrees_with_tshark_per_qp(tools, capture, analysis):
    require_program("tshark", "scripts/setup installs it")
    failures = compare(tools.weftctl, capture)
    assert not failures, failures[:20]


def test_every_icrc_verified_and_valid(analysis):
    t = analysis["totals"]
    assert t["icrc_checked"] == t["roce_packets"] > 0 and t["icrc_errors"] == 0, t


def bridge_drops(run):
    """Frames the bridge dropped towards g1 (--loss), from nftables' counter; -1 unreadable."""
    m = re.search(r"counter packets (\d+)", read(path(run, "loss.txt")))
    return int(m.group(1)) if m else -1


@pytest.mark.run_option("--loss")
def test_the_bridge_dropped_frames_towards_g1(run):
    assert bridge_drops(run) > 0, read(path(run, "loss.txt"))[-800:]


@pytest.mark.parametrize("direction", DIRECTIONS)
def test_packets_captured_equal_senders_rxe_sent_pkts(analysis, rxe, direction):
    sender, receiver = direction.split("->")
    captured = sum(f["packets"] for f in analysis["flows"] if f["src"] == GUESTS[sender])
    sent = rxe[sender].get("sent_pkts", -1)
    assert captured == sent, f"{direction}: captured {captured}, {sender} rxe sent_pkts {sent}"


@pytest.mark.parametrize("direction", DIRECTIONS)
def test_packets_captured_equal_receivers_rxe_rcvd_pkts(run, analysis, rxe, direction):
    sender, receiver = direction.split("->")
    captured = sum(f["packets"] for f in analysis["flows"] if f["src"] == GUESTS[sender])
    rcvd = rxe[receiver].get("rcvd_pkts", -1)
    if not run.lossy:
        # rxe counts a packet only once its QP is found: the last ACK of a session can
        # arrive after the receiver destroyed the QP (seen in CI, one packet, without
        # loss too). The capture and sent_pkts above stay exact.
        late = captured - rcvd
        allowed = 2
        if run.psp and direction == "g2->g1":
            # the timed ib_write_bw (-D) ends each side on its own clock: the client's last
            # messages reach a QP the server has destroyed. Uncounted packets may only be
            # among those g1 never acknowledged (seen: 65 of 65, 89 of 129), never earlier
            # ones; rxe's sequence and retry counters (below) say nothing was lost.
            allowed += unacknowledged_tail(path(run, "capture.pcap"), GUESTS["g2"], GUESTS["g1"])
        assert 0 <= late <= allowed, f"{direction}: captured ({captured}) == {receiver} rxe rcvd_pkts ({rcvd}) " \
                               f"+ packets for a QP already gone ({late}, at most {allowed})"
    else:
        # rxe counts a packet only once it passes its header checks, so a retransmission
        # that arrives after its QP is gone is not counted: under loss, one run in
        # several differed by one packet. Allow 2, never more, never the other way.
        lost = bridge_drops(run) if receiver == "g1" else 0
        late = captured - lost - rcvd
        assert 0 <= late <= 2, f"{direction}: captured - dropped ({captured - lost}) == {receiver} rxe " \
                               f"rcvd_pkts ({rcvd}) + uncounted late packets ({late}, at most 2)"


def unacknowledged_tail(capture, sender, receiver):
    """Packets of the sender's busiest QP stream past the highest PSN the receiver
    acknowledged in it (ACKs carry the PSN of the stream they acknowledge)."""
    from weftkit import pcap
    src, dst = bytes(map(int, sender.split("."))), bytes(map(int, receiver.split(".")))
    streams, acks = {}, []
    for f in pcap.frames(capture):
        if len(f) < 54 or f[12:14] != b"\x08\x00" or f[23] != 17:
            continue
        psn = int.from_bytes(f[51:54], "big")
        if f[26:30] == src:
            streams.setdefault(bytes(f[47:50]), []).append(psn)
        elif f[26:30] == dst and f[42] == 0x11:  # RC ACKNOWLEDGE
            acks.append(psn)
    psns = max(streams.values(), key=len)
    top = max(psns)
    acked = max((a for a in acks if top - 4096 <= a <= top), default=top)
    return top - acked


@pytest.mark.parametrize("opcode", ["RC_SEND_ONLY", "RC_SEND_FIRST", "RC_RDMA_WRITE_FIRST",
                                    "RC_RDMA_WRITE_LAST_WITH_IMMEDIATE", "RC_RDMA_READ_REQUEST",
                                    "RC_RDMA_READ_RESPONSE_LAST", "RC_ACKNOWLEDGE"])
def test_saw_opcode(analysis, opcode):
    seen = sorted({o for f in analysis["flows"] for o in f["opcodes"]})
    assert opcode in seen, seen


def test_every_rc_flow_paired_with_its_reverse_direction(analysis):
    unpaired = [(f["src"], f["dst"], f["dqpn"]) for f in analysis["flows"] if not f["reverse"]]
    assert not unpaired, unpaired


def test_the_wrong_rkey_shows_as_remote_access_error_naks(analysis):
    naks = sum(f["naks"].get("remote_access_error", 0) for f in analysis["flows"])
    assert naks > 0, naks


@pytest.mark.run_option("--loss")
def test_loss_shows_as_naks_or_retransmissions_in_the_analysis(analysis):
    naks = sum(sum(f["naks"].values()) for f in analysis["flows"])
    dups = sum(f["psn"]["duplicates"] for f in analysis["flows"])
    assert naks + dups > 0, f"naks {naks}, duplicates {dups}"


# ---- --probe: weft-probe on both taps through the whole run, then a QPN scan injected on the bridge

@pytest.fixture(scope="module")
def probe_counters(run):
    pc = read_json(path(run, "probe-counters.json"))
    if pc is None:
        pytest.fail("weft-probe wrote no counters (see test_weft_probe_wrote_its_counters)", pytrace=False)
    return pc


@pytest.fixture(scope="module")
def probe_alerts(run):
    return [json.loads(line) for line in read(path(run, "probe-alerts.jsonl")).splitlines() if line.strip()]


@pytest.mark.run_option("--probe")
def test_weft_probe_attached_to_both_taps_and_stopped_cleanly(run):
    log = read(path(run, "probe.log"))
    assert "attached to tap0, tap1" in log and "stopped;" in log, log[-600:]


@pytest.mark.run_option("--probe")
def test_weft_probe_wrote_its_counters(run):
    assert read_json(path(run, "probe-counters.json")) is not None, read(path(run, "probe-counters.json"))[:300]


@pytest.mark.run_option("--probe")
def test_weft_probe_lost_nothing_and_saw_no_malformed_roce(probe_counters):
    c = probe_counters["counters"]
    assert c["ringbuf_drops"] == c["qp_map_full"] == c["peer_map_full"] == c["malformed"] == 0, c


# g1's frames enter the bridge on tap0 (ingress) and leave on tap1 (egress): on each tap,
# each guest's RoCE must equal what its rxe sent
@pytest.mark.run_option("--probe")
@pytest.mark.parametrize("tap", ["tap0", "tap1"])
@pytest.mark.parametrize("guest", GUESTS)
def test_weft_probe_on_tap_guests_roce_equals_rxe_sent_pkts(probe_counters, rxe, tap, guest):
    seen = sum(q["packets"] for q in probe_counters["qps"] if q["interface"] == tap and q["src"] == GUESTS[guest])
    assert seen == rxe[guest].get("sent_pkts"), \
        f"weft-probe on {tap}: {guest}'s RoCE packets {seen}, {guest} rxe sent_pkts {rxe[guest].get('sent_pkts')}"


@pytest.mark.run_option("--probe")
def test_weft_probe_per_qp_packets_on_tap0_equal_analyze_of_the_bridge_capture(probe_counters, analysis):
    probe_qps = {(q["src"], q["dst"], q["dqpn"]): q["packets"] for q in probe_counters["qps"]
                 if q["interface"] == "tap0" and q["src"] in GUESTS.values()}
    flows = {(f["src"], f["dst"], f["dqpn"]): f["packets"] for f in analysis["flows"]}
    assert probe_qps == flows, set(probe_qps.items()) ^ set(flows.items())


@pytest.mark.run_option("--probe")
def test_no_alert_about_the_guests_traffic(run, probe_alerts):
    # pingpong, perftest, weft-verbs incl. one wrong rkey: before or during the attack
    attack_start = read(path(run, "attack-start.txt")).strip()
    benign = [a for a in probe_alerts if a["time"] < attack_start or a["src"] in GUESTS.values()
              or a["dst"] in GUESTS.values() or a["detector"] != "qpn-scan"]
    assert attack_start != "" and benign == [], f"attack start {attack_start!r}: {benign[:3]}"


@pytest.mark.run_option("--probe")
def test_the_injected_qpn_scan_raised_qpn_scan(run, probe_alerts):
    scans = [a for a in probe_alerts if a["detector"] == "qpn-scan" and a["src"] not in GUESTS.values()]
    assert len(scans) >= 1, f"{read(path(run, 'attack-sent.txt')).strip()} frames sent; alerts {probe_alerts[:3]}"


# ---- --via-weftd: weftd inline between the guests, its own flow table against rxe and the capture

@pytest.fixture(scope="module")
def weftd_flows(run):
    wd = read_json(path(run, "weftd-flows.json"))
    if wd is None:
        pytest.fail("weftd wrote no flows (see test_weftd_wrote_its_flows)", pytrace=False)
    return wd


@pytest.mark.run_option("--via-weftd")
def test_weftd_stopped_cleanly_on_sigterm_with_its_final_counters(run):
    log = read(path(run, "weftd.log"))
    assert "stopped by signal" in log and "worker 0" in log, log[-1000:]


@pytest.mark.run_option("--via-weftd")
def test_weftd_wrote_its_flows(run):
    assert read_json(path(run, "weftd-flows.json")) is not None, read(path(run, "weftd-flows.json"))[:300]


@pytest.mark.run_option("--via-weftd")
@pytest.mark.parametrize("guest", GUESTS)
def test_weftds_flows_from_guest_equal_rxe_sent_pkts(weftd_flows, rxe, guest):
    seen = sum(f["packets"] for f in weftd_flows["flows"] if f["src"] == GUESTS[guest])
    assert seen == rxe[guest].get("sent_pkts"), \
        f"weftd's flows from {guest}: {seen}; {guest} rxe sent_pkts {rxe[guest].get('sent_pkts')}"


@pytest.mark.run_option("--via-weftd")
@pytest.mark.parametrize("guest", GUESTS)
def test_everything_weftd_saw_from_guest_reached_the_other(weftd_flows, rxe, guest):
    fwd = sum(f["packets"] for f in weftd_flows["flows"] if f["src"] == GUESTS[guest])
    rcvd = rxe[OTHER[guest]].get("rcvd_pkts", -10)
    late = fwd - rcvd
    assert 0 <= late <= 2, f"weftd saw {fwd} from {guest}; {OTHER[guest]} rcvd_pkts {rcvd} + {late} for a QP " \
                           "already gone, at most 2"


@pytest.mark.run_option("--via-weftd")
def test_weftd_sent_on_each_port_exactly_what_it_took_from_the_other(weftd_flows):
    ports = {p["role"]: p for p in weftd_ports(weftd_flows)}
    assert ports["host"]["tx_packets"] == ports["fabric"]["rx_packets"] \
        and ports["fabric"]["tx_packets"] == ports["host"]["rx_packets"], ports


@pytest.mark.run_option("--via-weftd")
def test_weftd_every_icrc_valid_nothing_malformed_nothing_dropped(weftd_flows):
    t, workers = weftd_flows["totals"], weftd_workers(weftd_flows)
    assert t["icrc_errors"] == 0 and t["malformed"] == 0 \
        and all(w["dropped_malformed"] == w["dropped_tx_full"] == 0 for w in workers), (t, workers)


@pytest.mark.run_option("--via-weftd")
def test_weftd_forwarded_the_tcp_side_channels_and_arp(weftd_flows):
    workers = weftd_workers(weftd_flows)
    assert sum(w["forwarded_other"] for w in workers) > 0, workers


@pytest.mark.run_option("--via-weftd")
def test_weftds_per_qp_packets_bytes_opcodes_equal_analyze_of_the_capture_after_it(weftd_flows, analysis):
    def per_qp(d):
        return {(f["src"], f["dst"], f["dqpn"]): (f["packets"], f["bytes"], f["opcodes"]) for f in d["flows"]}
    got, want = per_qp(weftd_flows), per_qp(analysis)
    assert got == want, [k for k in set(got) | set(want) if got.get(k) != want.get(k)][:10]


# ---- --via-psp: g1 -- weftd A -- fabric -- weftd B -- g2, PSP between the two weftd, keys
# rotated every 3 s during the run, one forged frame injected at B

@pytest.fixture(scope="module")
def fabric(run):
    from weftkit import pcap
    p = path(run, "fabric.pcap")
    if not os.path.exists(p):
        pytest.fail(f"no fabric capture at {p}", pytrace=False)
    return list(pcap.frames(p))


def udp_dport(f):
    return int.from_bytes(f[36:38], "big") if f[12:14] == b"\x08\x00" and f[23] == 17 else None


@pytest.fixture(scope="module")
def psp_keys(run):
    return {side: read_json(path(run, f"keys-{side}.json"), {}) for side in "ab"}


@pytest.mark.run_option("--via-psp")
def test_no_roce_in_the_clear_on_the_fabric_and_psp_both_ways(fabric):
    assert not [f for f in fabric if udp_dport(f) == 4791]
    sealed = [f for f in fabric if udp_dport(f) == 1000]
    srcs = {bytes(f[26:30]) for f in sealed}
    assert {bytes([10, 99, 0, 1]), bytes([10, 99, 0, 2])} <= srcs, len(sealed)


@pytest.mark.run_option("--via-psp")
def test_no_payload_of_the_guests_on_the_fabric(fabric, capture):
    # every 32-byte run of payload the guests exchanged (the plaintext capture on g2's tap)
    # is absent from the fabric
    from weftkit import pcap
    wire = b"".join(fabric)
    chunks = []
    for f in pcap.frames(capture):
        chunk = f[14 + 20 + 8 + 12 + 16:][:32]
        if len(chunk) == 32 and len(set(chunk)) > 4:  # not a run of one byte
            chunks.append(chunk)
    # each search reads the whole fabric capture: 400 spread over the run are plenty
    step = max(1, len(chunks) // 400)
    for chunk in chunks[::step]:
        assert chunk not in wire
    assert len(chunks[::step]) > 100


@pytest.mark.run_option("--via-psp")
def test_keys_rotated_during_the_run_and_nothing_failed_authentication_but_the_forgery(psp_keys):
    a, b = psp_keys["a"], psp_keys["b"]
    assert a.get("generation", 0) >= 2 and b.get("generation", 0) >= 2, psp_keys
    assert a["counters"]["key_rotations"] >= 1 and b["counters"]["key_rotations"] >= 1
    assert a["counters"]["rx_auth_fail"] == 0
    assert b["counters"]["rx_auth_fail"] == 1  # the forged frame
    for side in (a, b):
        c = side["counters"]
        assert c["rx_bad"] == 0 and c["rx_replay"] == 0 and c["tx_error"] == 0 and c["tx_too_big"] == 0, c
        assert c["rx_plaintext_dropped"] == 0 and c["rx_unknown_spi"] == 0, c
        assert c["rx_packets"] > 0 and c["tx_packets"] > 0, c


@pytest.mark.run_option("--via-psp")
def test_every_sealed_frame_was_opened(psp_keys, rxe):
    # what each side sealed is what the other opened: no loss through two weftd
    assert psp_keys["a"]["counters"]["tx_packets"] == psp_keys["b"]["counters"]["rx_packets"]
    assert psp_keys["b"]["counters"]["tx_packets"] == psp_keys["a"]["counters"]["rx_packets"]


@pytest.mark.run_option("--via-psp")
def test_both_weftd_balanced_the_sealed_frames_over_their_source_ports(run):
    # policy congestion over 4 UDP source ports: sealed frames leave with the outer port of
    # their path, rewritten after sealing (unauthenticated), and still open on the far side
    for side in "ab":
        log = read(path(run, f"weftd-{side}.log"))
        m = re.search(r"sealed_ports_rewritten (\d+)", log)
        assert m and int(m.group(1)) > 0, log[-1500:]


@pytest.mark.run_option("--via-psp")
def test_the_timed_ib_write_bw_completed(run):
    text = read(path(run, "g2", "write_bw_timed.txt"))
    assert re.search(r"^\s*65536\s+\d+\s", text, re.M), f"ib_write_bw -D: {text[-800:]}"


@pytest.mark.run_option("--via-psp")
def test_a_rotation_to_a_new_key_fell_inside_the_timed_ib_write_bw(fabric, psp_keys):
    # inner UDP + BTH stay in the clear (the default crypt offset): the RDMA WRITEs of the
    # longest stream, by destination QP, and the SPI each was sealed under
    writes = {}
    for f in fabric:
        if udp_dport(f) != 1000 or len(f) < 74 or f[66] not in range(0x06, 0x0C):
            continue
        writes.setdefault(bytes(f[71:74]), []).append(int.from_bytes(f[46:50], "big"))
    assert writes, "no RDMA WRITE on the fabric"
    spis = max(writes.values(), key=len)
    changes = sum(1 for x, y in zip(spis, spis[1:]) if x != y)
    assert changes >= 1 and len(set(s >> 31 for s in spis)) == 2, (len(spis), changes)
    # the rotations loaded new keys: the old ones went stale on both sides
    for side in "ab":
        assert psp_keys[side]["counters"]["stale_events"] >= 1, psp_keys[side]["counters"]


@pytest.mark.run_option("--via-psp")
@pytest.mark.parametrize("guest", GUESTS)
def test_rxe_saw_no_sequence_error_and_retransmitted_nothing(rxe, guest):
    # through two weftd, rotations and a forgery: no packet lost, repeated or out of order
    c = rxe[guest]
    for name in ("rcvd_seq_err", "out_of_seq_request", "duplicate_request", "completer_retry_err",
                 "retry_exceeded_err"):
        assert c.get(name) == 0, (name, c)
    # traffic went both ways (the client mostly sends: what it receives is coalesced ACKs
    # and the reads' responses, fewer when TCG runs slower)
    assert c.get("rcvd_pkts", 0) > 200 and c.get("rcvd_pkts", 0) + c.get("sent_pkts", 0) > 2000, c


@pytest.mark.run_option("--via-psp")
def test_the_weftd_logs_hold_no_key_byte(run):
    # the first keys and every key the rotations brought in
    keys = read(path(run, "master.keys")).split() + read(path(run, "keys-history")).split()
    assert len(keys) >= 3
    logs = "".join(read(path(run, f)) for f in ("weftd-a.log", "weftd-b.log", "keys-a.json",
                                                  "keys-b.json", "rotate.log"))
    for k in keys:
        for i in range(0, 56, 8):
            assert k[i:i + 8] not in logs.lower()

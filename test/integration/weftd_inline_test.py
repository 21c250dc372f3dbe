"""weftd inline between two network namespaces, on real kernel interfaces through
net_af_packet: ns "a" (10.98.0.1) -- veth -- [weftd host port | weftd fabric ports] -- veth
-- ns "b" (10.98.0.2), weftd running in a third namespace of its own. Checks:
- ARP and a TCP exchange pass both ways (the TCP side channel of verbs programs);
- RoCE frames sent into a arrive at b byte for byte, ICRCs valid, and are counted;
- malformed RoCE (weft-gen's malformed scenario: opcode 0xff, lying lengths...) is
  dropped and counted, never forwarded;
- with two fabric ports, RoCE spreads over both by ECMP and each QP keeps one port;
- SIGTERM stops weftd cleanly with its final counters, and the namespaces go away.

Each setup (one fabric port, two fabric ports) runs once, in a module fixture that
builds the namespaces, runs weftd and the traffic, stops weftd and removes the namespaces
before any check looks at what it gathered."""
import json
import os
import signal
import subprocess
import time
from types import SimpleNamespace

import pytest
from weftkit import netns, pcap
from weftkit.docs import weftd_workers
from weftkit.proc import analyze, generate, must, sh

TAG = f"wi{os.getpid() % 100000}"
NS_A, NS_B, NS_B2, NS_M = f"{TAG}a", f"{TAG}b", f"{TAG}c", f"{TAG}m"


def wire(fabric_ports):
    # each uplink ends in a namespace of its own: joining them (a bridge) would flood
    # frames from one uplink back into the other and loop them through weftd
    links = [("a0", NS_A, "h0")] + [(f"b{i}", (NS_B, NS_B2)[i], f"f{i}") for i in range(fabric_ports)]
    for end, ns, mid in links:
        netns.veth(ns, end, NS_M, mid, tx_checksum=False)
    must("ip", "addr", "add", "10.98.0.1/24", "dev", "a0", ns=NS_A)
    must("ip", "addr", "add", "10.98.0.2/24", "dev", "b0", ns=NS_B)


def start_weftd(tools, fabric_ports, dump):
    args = [tools.weftd, "--inline", "--port", "host:net_af_packet0,iface=h0", "--file-prefix", TAG,
            "--dump-flows", dump]
    for i in range(fabric_ports):
        args += ["--port", f"fabric:net_af_packet{i + 1},iface=f{i}"]
    p = subprocess.Popen(["ip", "netns", "exec", NS_M, *args], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 30
    while time.time() < deadline:
        time.sleep(0.2)
        if p.poll() is not None:
            break
        # running once its ports are up: the af_packet sockets show in /proc/net/packet
        if len(sh("cat", "/proc/net/packet", ns=NS_M).stdout.splitlines()) > fabric_ports + 1:
            time.sleep(0.5)
            return p
    p.kill()
    _, err = p.communicate()
    raise RuntimeError(f"weftd did not start: {err[-2000:]}")


def stop_weftd(p, dump):
    """SIGTERM; returns (the --dump-flows document or None, stderr, exit code or "timeout")."""
    p.send_signal(signal.SIGTERM)
    try:
        _, err = p.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        p.kill()
        _, err = p.communicate()
        return None, err, "timeout"
    doc = None
    if os.path.exists(dump):
        with open(dump) as f:
            doc = json.load(f)
    return doc, err, p.returncode


def send_frames(source_root, path, ns, iface):
    """Replays a pcap out of iface from inside ns, paced (16000 frames/s) so that no
    socket ring on the way overflows: a lost frame would read as weftd's."""
    must("/usr/bin/python3", os.path.join(source_root, "scripts", "pcap-send.py"), "--rate", "16000", iface, path,
         ns=ns)


def capture(ns, iface, path, bpf="udp port 4791"):
    p = subprocess.Popen(["ip", "netns", "exec", ns, "tcpdump", "-i", iface, "-s", "0", "-U", "-w", path, bpf],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    time.sleep(1.0)
    return p


def end_capture(p):
    time.sleep(1.0)
    p.send_signal(signal.SIGINT)
    p.wait(timeout=10)


def tcp_exchange():
    server = subprocess.Popen(["ip", "netns", "exec", NS_B, "/usr/bin/python3", "-c",
                               "import socket\ns=socket.create_server(('10.98.0.2',18515))\n"
                               "s.settimeout(20)\nc,_=s.accept()\nc.sendall(c.recv(64)[::-1])\n"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    time.sleep(0.5)
    r = sh("/usr/bin/python3", "-c",
           "import socket\nc=socket.create_connection(('10.98.0.2',18515),timeout=10)\n"
           "c.sendall(b'weft-side-channel')\nprint(c.recv(64).decode())\n", ns=NS_A)
    server.wait(timeout=20)
    return r.stdout.strip()


@pytest.fixture(scope="module")
def traffic(tools, work_dir):
    """Well-formed RoCE (an all-reduce) and malformed RoCE, as pcaps and frames."""
    good = generate(tools.weft_gen, "gradient", os.path.join(work_dir, "gradient.pcap"), "--hosts=4",
                    "--message-size=64K", "--iterations=2", "--mtu=1024")
    bad = generate(tools.weft_gen, "malformed", os.path.join(work_dir, "malformed.pcap"), "--hosts=4",
                   "--message-size=16K", "--iterations=1", "--attack-count=64", "--mtu=1024")
    good_frames, bad_frames = list(pcap.frames(good)), list(pcap.frames(bad))
    both = os.path.join(work_dir, "good-and-bad.pcap")
    pcap.write(both, good_frames + bad_frames)
    return SimpleNamespace(good=good, good_frames=good_frames, bad_frames=bad_frames, both=both,
                           bad_doc=analyze(tools.weftctl, bad))


@pytest.fixture(scope="module")
def one_port(tools, source_root, work_dir, traffic):
    """One fabric port: a TCP exchange, then good and bad RoCE from a, captured at b."""
    with netns.namespaces(NS_A, NS_B, NS_B2, NS_M):
        wire(1)
        dump = os.path.join(work_dir, "inline1.json")
        wd = start_weftd(tools, 1, dump)
        try:
            reply = tcp_exchange()
            cap = os.path.join(work_dir, "at-b.pcap")
            tcpd = capture(NS_B, "b0", cap)
            send_frames(source_root, traffic.both, NS_A, "a0")
            end_capture(tcpd)
        finally:
            doc, err, rc = stop_weftd(wd, dump)
    return SimpleNamespace(reply=reply, got=list(pcap.frames(cap)), got_doc=analyze(tools.weftctl, cap),
                           doc=doc, err=err, rc=rc,
                           want_count=len(traffic.good_frames) + traffic.bad_doc["totals"]["roce_packets"])


@pytest.fixture(scope="module")
def one_port_worker(one_port):
    """weftd's worker 0 counters at the end of the one-port run."""
    if not one_port.doc:
        pytest.fail(f"weftd wrote no --dump-flows document (rc={one_port.rc}): {one_port.err[-1500:]}",
                    pytrace=False)
    return weftd_workers(one_port.doc)[0]


def test_arp_and_tcp_pass_through_weftd_both_ways(one_port):
    assert one_port.reply == "lennahc-edis-tfew", one_port.reply


def test_roce_arrives_at_b_every_well_formed_frame_sent(one_port):
    assert len(one_port.got) == one_port.want_count, \
        f"got {len(one_port.got)} frames at b of {one_port.want_count} well-formed sent"


def test_every_frame_that_arrived_is_byte_identical_to_one_sent(one_port, traffic):
    sent = set(traffic.good_frames + traffic.bad_frames)
    strangers = [i for i, f in enumerate(one_port.got) if f not in sent]
    assert not strangers, f"{len(strangers)} of {len(one_port.got)} frames at b were never sent, e.g. #{strangers[:5]}"


def test_at_b_every_icrc_valid_nothing_malformed(one_port):
    t = one_port.got_doc["totals"]
    assert t["icrc_errors"] == 0 and t["malformed"] == 0 and t["icrc_checked"] == len(one_port.got), \
        (t, len(one_port.got))


def test_sigterm_stops_weftd_cleanly_with_its_final_counters(one_port):
    assert one_port.rc == 0 and "stopped by signal" in one_port.err and "worker 0" in one_port.err, \
        f"rc={one_port.rc} {one_port.err[-1500:]}"


def test_malformed_roce_dropped_and_counted(one_port_worker, traffic):
    want = traffic.bad_doc["totals"]["malformed"]
    assert one_port_worker["dropped_malformed"] == want > 0, \
        f"dropped_malformed {one_port_worker['dropped_malformed']}, the analyzer's malformed {want}"


def test_roce_forwarded_and_counted(one_port_worker, one_port):
    assert one_port_worker["forwarded_roce"] == one_port.want_count, \
        f"forwarded_roce {one_port_worker['forwarded_roce']}, sent well-formed {one_port.want_count}"


def test_tcp_and_arp_counted_as_forwarded_other_traffic(one_port_worker):
    assert one_port_worker["forwarded_other"] > 0, one_port_worker


def test_drops_by_verdict_match_the_analyzers(one_port, one_port_worker, traffic):
    verdicts, want = one_port.doc.get("malformed", {}), traffic.bad_doc.get("malformed")
    assert verdicts == want, f"{verdicts} vs {want}"


# ---- two fabric ports: ECMP spreads QPs, each QP on one port

@pytest.fixture(scope="module")
def two_ports(tools, source_root, work_dir, traffic):
    """Two fabric ports: the good RoCE from a, captured on each uplink."""
    with netns.namespaces(NS_A, NS_B, NS_B2, NS_M):
        wire(2)
        dump = os.path.join(work_dir, "inline2.json")
        wd = start_weftd(tools, 2, dump)
        try:
            caps = [os.path.join(work_dir, f"uplink{i}.pcap") for i in range(2)]
            tcpds = [capture((NS_B, NS_B2)[i], f"b{i}", caps[i]) for i in range(2)]
            send_frames(source_root, traffic.good, NS_A, "a0")
            for t in tcpds:
                end_capture(t)
        finally:
            doc, err, rc = stop_weftd(wd, dump)
    docs = [analyze(tools.weftctl, c) for c in caps]
    return SimpleNamespace(docs=docs, err=err, rc=rc,
                           keys=[{(f["src"], f["dst"], f["dqpn"]) for f in d["flows"]} for d in docs])


def test_all_roce_arrives_over_the_two_uplinks(two_ports, traffic):
    total = sum(d["totals"]["roce_packets"] for d in two_ports.docs)
    assert total == len(traffic.good_frames), f"{total} of {len(traffic.good_frames)}"


def test_ecmp_uses_both_uplinks(two_ports):
    assert two_ports.keys[0] and two_ports.keys[1], \
        f"{len(two_ports.keys[0])} and {len(two_ports.keys[1])} QP flows"


def test_each_qp_flow_keeps_one_uplink(two_ports):
    # no reordering within a QP: RoCE's go-back-N would take it for loss
    assert not (two_ports.keys[0] & two_ports.keys[1]), two_ports.keys[0] & two_ports.keys[1]


def test_second_weftd_stopped_cleanly(two_ports):
    assert two_ports.rc == 0, two_ports.err[-800:]


def test_no_namespace_left_behind(one_port, two_ports):
    left = [ns for ns in netns.listed() if ns.startswith(TAG)]
    assert not left, left

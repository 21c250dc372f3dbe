#!/usr/bin/python3
"""weftd inline between two network namespaces, on real kernel interfaces through
net_af_packet: ns "a" (10.98.0.1) -- veth -- [weftd host port | weftd fabric ports] -- veth
-- ns "b" (10.98.0.2), weftd running in a third namespace of its own. Checks:
- ARP and a TCP exchange pass both ways (the TCP side channel of verbs programs);
- RoCE frames sent into a arrive at b byte for byte, ICRCs valid, and are counted;
- malformed RoCE (weft-gen's malformed scenario: opcode 0xff, lying lengths...) is
  dropped and counted, never forwarded;
- with two fabric ports, RoCE spreads over both by ECMP and each QP keeps one port;
- SIGTERM stops weftd cleanly with its final counters, and the namespaces go away.
usage: weftd_inline_test.py SOURCE_DIR BUILD_DIR WORKDIR"""
import json
import os
import signal
import socket
import struct
import subprocess
import sys
import time

SRC, BUILD, WORK = sys.argv[1:4]
os.makedirs(WORK, exist_ok=True)
weftd = os.path.join(BUILD, "tools", "weftd")
weftctl = os.path.join(BUILD, "tools", "weftctl")
weft_gen = os.path.join(BUILD, "tools", "weft-gen")
TAG = f"wi{os.getpid() % 100000}"
NS_A, NS_B, NS_B2, NS_M = f"{TAG}a", f"{TAG}b", f"{TAG}c", f"{TAG}m"
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Checks  # noqa: E402

check = Checks()


def sh(*cmd, ns=None, check_rc=True, **kw):
    full = (["ip", "netns", "exec", ns] if ns else []) + list(cmd)
    return subprocess.run(full, check=check_rc, capture_output=True, text=True, **kw)


def read_pcap(path):
    """Frames of a classic pcap (micro- or nanosecond), as bytes."""
    with open(path, "rb") as f:
        data = f.read()
    magic = struct.unpack("<I", data[:4])[0]
    endian = "<" if magic in (0xA1B2C3D4, 0xA1B23C4D) else ">"
    frames, at = [], 24
    while at + 16 <= len(data):
        _, _, caplen, _ = struct.unpack(endian + "IIII", data[at:at + 16])
        frames.append(data[at + 16:at + 16 + caplen])
        at += 16 + caplen
    return frames


def setup(fabric_ports):
    for ns in (NS_A, NS_B, NS_B2, NS_M):
        sh("ip", "netns", "add", ns)
        sh("ip", "link", "set", "lo", "up", ns=ns)
    # each uplink ends in a namespace of its own: joining them (a bridge) would flood
    # frames from one uplink back into the other and loop them through weftd
    links = [("a0", NS_A, "h0")] + [(f"b{i}", (NS_B, NS_B2)[i], f"f{i}") for i in range(fabric_ports)]
    for end, ns, mid in links:
        sh("ip", "link", "add", end, "netns", ns, "type", "veth", "peer", "name", mid, "netns", NS_M)
        for n, dev in ((ns, end), (NS_M, mid)):
            sh("sysctl", "-q", f"net.ipv6.conf.{dev}.disable_ipv6=1", ns=n)
            # veth leaves TCP/UDP checksums to "hardware" that never comes when a frame is
            # forwarded through a packet socket: have the senders compute them
            sh("ethtool", "-K", dev, "tx", "off", ns=n)
            sh("ip", "link", "set", dev, "up", ns=n)
    sh("ip", "addr", "add", "10.98.0.1/24", "dev", "a0", ns=NS_A)
    sh("ip", "addr", "add", "10.98.0.2/24", "dev", "b0", ns=NS_B)


def teardown():
    for ns in (NS_A, NS_B, NS_B2, NS_M):
        subprocess.run(["ip", "netns", "del", ns], capture_output=True)


def start_weftd(fabric_ports, dump):
    args = [weftd, "--inline", "--port", "host:net_af_packet0,iface=h0",
            "--file-prefix", TAG, "--dump-flows", dump]
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
    out, err = p.communicate()
    raise RuntimeError(f"weftd did not start: {err[-2000:]}")


def stop_weftd(p, dump):
    p.send_signal(signal.SIGTERM)
    try:
        _, err = p.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        p.kill()
        _, err = p.communicate()
        return None, err, "timeout"
    doc = json.load(open(dump)) if os.path.exists(dump) else None
    return doc, err, p.returncode


def send_frames(frames, ns, iface):
    """Injects frames on iface from inside ns, paced so no socket ring overflows."""
    code = (
        "import socket,sys,time,struct\n"
        "s=socket.socket(socket.AF_PACKET,socket.SOCK_RAW)\n"
        f"s.bind(('{iface}',0))\n"
        "data=sys.stdin.buffer.read();at=0;n=0\n"
        "while at<len(data):\n"
        "  l=struct.unpack('<I',data[at:at+4])[0];s.send(data[at+4:at+4+l]);at+=4+l;n+=1\n"
        "  if n%32==0: time.sleep(0.002)\n")
    blob = b"".join(struct.pack("<I", len(f)) + f for f in frames)
    subprocess.run(["ip", "netns", "exec", ns, "/usr/bin/python3", "-c", code], input=blob, check=True)


def capture(ns, iface, path, bpf="udp port 4791"):
    p = subprocess.Popen(["ip", "netns", "exec", ns, "tcpdump", "-i", iface, "-s", "0", "-U", "-w", path, bpf],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    time.sleep(1.0)
    return p


def end_capture(p):
    time.sleep(1.0)
    p.send_signal(signal.SIGINT)
    p.wait(timeout=10)


def analyze(path):
    return json.loads(subprocess.run([weftctl, "analyze", "--json", "-q", path], capture_output=True,
                                     text=True, check=True).stdout)


def tcp_exchange():
    server = subprocess.Popen(["ip", "netns", "exec", NS_B, "/usr/bin/python3", "-c",
                               "import socket\ns=socket.create_server(('10.98.0.2',18515))\n"
                               "s.settimeout(20)\nc,_=s.accept()\nc.sendall(c.recv(64)[::-1])\n"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    time.sleep(0.5)
    r = sh("/usr/bin/python3", "-c",
           "import socket\nc=socket.create_connection(('10.98.0.2',18515),timeout=10)\n"
           "c.sendall(b'weft-side-channel')\nprint(c.recv(64).decode())\n", ns=NS_A, check_rc=False)
    server.wait(timeout=20)
    return r.stdout.strip()


# ---- one fabric port: pass-through, RoCE byte for byte, malformed dropped ----
try:
    teardown()
    setup(1)
    dump = os.path.join(WORK, "inline1.json")
    wd = start_weftd(1, dump)
    reply = tcp_exchange()
    check("ARP and TCP pass through weftd both ways", reply == "lennahc-edis-tfew", reply)

    gen = os.path.join(WORK, "gradient.pcap")
    subprocess.run([weft_gen, "gradient", "-o", gen, "--hosts=4", "--message-size=64K", "--iterations=2",
                    "--mtu=1024"], check=True, capture_output=True)
    bad = os.path.join(WORK, "malformed.pcap")
    subprocess.run([weft_gen, "malformed", "-o", bad, "--hosts=4", "--message-size=16K", "--iterations=1",
                    "--attack-count=64", "--mtu=1024"], check=True, capture_output=True)
    good_frames, bad_frames = read_pcap(gen), read_pcap(bad)
    bad_doc = analyze(bad)
    cap = os.path.join(WORK, "at-b.pcap")
    tcpd = capture(NS_B, "b0", cap)
    send_frames(good_frames + bad_frames, NS_A, "a0")
    end_capture(tcpd)
    got = read_pcap(cap)
    want_count = len(good_frames) + bad_doc["totals"]["roce_packets"]
    sent = {}
    for f in good_frames + bad_frames:
        sent[f] = sent.get(f, 0) + 1
    identical = all(sent.get(f, 0) > 0 for f in got)
    check(f"RoCE arrives at b: {len(got)} frames of {want_count} well-formed sent", len(got) == want_count,
          f"got {len(got)}")
    check("every frame that arrived is byte-identical to one sent", identical)
    got_doc = analyze(cap)
    check("at b: every ICRC valid, nothing malformed", got_doc["totals"]["icrc_errors"] == 0
          and got_doc["totals"]["malformed"] == 0 and got_doc["totals"]["icrc_checked"] == len(got))
    doc, err, rc = stop_weftd(wd, dump)
    check("SIGTERM stops weftd cleanly with its final counters", rc == 0 and "stopped by signal" in err
          and "worker 0" in err, f"rc={rc} {err[-1500:]}")
    if doc:
        w = doc["dataplane"]["workers"][0]
        check(f"malformed RoCE dropped and counted ({w['firewall']['dropped_malformed']} == {bad_doc['totals']['malformed']})",
              w["firewall"]["dropped_malformed"] == bad_doc["totals"]["malformed"] > 0)
        check(f"RoCE forwarded and counted ({w['tx']['forwarded_roce']} == {want_count})", w["tx"]["forwarded_roce"] == want_count)
        check("TCP and ARP counted as forwarded other traffic", w["tx"]["forwarded_other"] > 0)
        verdicts = doc.get("malformed", {})
        check("drops by verdict match the analyzer's", verdicts == bad_doc.get("malformed"),
              f"{verdicts} vs {bad_doc.get('malformed')}")
finally:
    teardown()

# ---- two fabric ports: ECMP spreads QPs, each QP on one port ----
try:
    setup(2)
    dump = os.path.join(WORK, "inline2.json")
    wd = start_weftd(2, dump)
    caps = [os.path.join(WORK, f"uplink{i}.pcap") for i in range(2)]
    tcpds = [capture((NS_B, NS_B2)[i], f"b{i}", caps[i]) for i in range(2)]
    send_frames(good_frames, NS_A, "a0")
    for t in tcpds:
        end_capture(t)
    docs = [analyze(c) for c in caps]
    keys = [set((f["src"], f["dst"], f["dqpn"]) for f in d["flows"]) for d in docs]
    total = sum(d["totals"]["roce_packets"] for d in docs)
    check(f"all RoCE arrives over the two uplinks ({total} of {len(good_frames)})", total == len(good_frames))
    check(f"ECMP uses both uplinks ({len(keys[0])} and {len(keys[1])} QP flows)", keys[0] and keys[1])
    check("each QP flow keeps one uplink (no reordering within a QP)", not (keys[0] & keys[1]), keys[0] & keys[1])
    doc, err, rc = stop_weftd(wd, dump)
    check("second weftd stopped cleanly", rc == 0, err[-800:])
finally:
    teardown()

left = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
check("no namespace left behind", TAG not in left, left)
check.finish()

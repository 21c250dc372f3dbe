"""PSP between two weftd on real kernel interfaces (issue 11): host a -- weftd A -- fabric
link -- weftd B -- host b, each weftd inline in a network namespace of its own on
net_af_packet ports, both holding one master-key file, A sealing for the hosts behind B.

RoCE frames from 10.0.0.1 to 10.0.0.2 (weft-gen) are sent into A's host port, half before
and half after a rotation to a new master key: key 1 replaced in the file, `weftctl keys
rotate` on B (which loads it for receiving at once), then on A (whose senders move to it
rotate_send_delay_ms later). A capture on the fabric link and one at host b say:
- nothing crosses the fabric as RoCE in the clear, and no frame's payload bytes appear on it;
- host b receives every frame sent, byte for byte, in order, through the rotation (the SPI
  on the fabric changes generation half way; B counts no authentication failure);
- a sealed frame with one flipped bit, injected on the fabric link, is dropped and counted
  by B while the rest flows;
- `weftctl keys` names SPIs, generations and per-SA counters (B's SA under the new key
  opened the second half) and no key byte; B counts the old key 1's SA as stale.

This is the kernel-interface version of the SoftRoCE check (scripts/softroce/run
--via-psp, suite softroce-psp)."""
import json
import os
import signal
import subprocess
import time
from types import SimpleNamespace

import pytest
from weftkit import netns, pcap
from weftkit.proc import generate, must, sh

TAG = f"wps{os.getpid() % 100000}"
NS_A, NS_MA, NS_MB, NS_B = f"{TAG}a", f"{TAG}ma", f"{TAG}mb", f"{TAG}b"
KEY0 = "34448a064292601b11a0978f56a2d34cf3fc35ede1a6bc04f8db3e5243a2b0ca"
KEY1 = "563952565d3a78ae773ec1b779f2f2d99f4a7f53a6fbb9b07d5b71f39364d739"
NEW_KEY1 = "0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0"
SEND_DELAY_MS = 500

CONFIG = """mode = "inline"

[[ports]]
name = "host"
role = "host"
device = "net_af_packet0"
args = "iface={host}"

[[ports]]
name = "fabric"
role = "fabric"
device = "net_af_packet1"
args = "iface={fabric}"

[psp]
master_keys = "{keys}"
rx_spi = {rx_spi}
rotate_send_delay_ms = {delay}

[[psp.peers]]
name = "peer"
hosts = ["{peer_hosts}"]
spi = {peer_spi}
"""


METRICS = "127.0.0.1:19911"  # B's, inside its own namespace


def start_weftd(tools, ns, config, sock, prefix, *extra):
    p = subprocess.Popen(["ip", "netns", "exec", ns, tools.weftd, "--config", config, "--no-huge",
                          "--control-socket", sock, "--file-prefix", prefix, *extra],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    p.start_lines = []
    while True:  # warnings first, then the line that says it runs
        line = p.stderr.readline()
        p.start_lines.append(line)
        if "running" in line:
            return p
        if not line or "warning" not in line:
            p.kill()
            raise RuntimeError(f"weftd did not start: {''.join(p.start_lines)}{p.stderr.read()}")


def send(source_root, path, ns, iface):
    must("/usr/bin/python3", os.path.join(source_root, "scripts", "pcap-send.py"), "--rate", "4000", iface,
         path, ns=ns)


def capture(ns, iface, path):
    p = subprocess.Popen(["ip", "netns", "exec", ns, "tcpdump", "-i", iface, "-U", "-s", "0", "-w", path,
                          "-Q", "in", "udp"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    p.stderr.readline()  # listening
    return p


@pytest.fixture(scope="module")
def run(tools, source_root, work_dir):
    keys = os.path.join(work_dir, "master.keys")
    write_keys(keys, KEY0, KEY1)
    # RoCE from 10.0.0.1 to 10.0.0.2 only: what A seals for B
    allr = generate(tools.weft_gen, "gradient", os.path.join(work_dir, "all.pcap"), "--hosts", "2",
                    "--iterations", "2", "--message-size", "16K", "--mtu", "1024")
    frames = [f for f in pcap.frames(allr) if f[26:30] == bytes([10, 0, 0, 1])]
    half = len(frames) // 2
    first, second = os.path.join(work_dir, "first.pcap"), os.path.join(work_dir, "second.pcap")
    pcap.write(first, frames[:half])
    pcap.write(second, frames[half:])
    r = SimpleNamespace(frames=frames, half=half)
    with netns.namespaces(NS_A, NS_MA, NS_MB, NS_B):
        netns.veth(NS_A, "a0", NS_MA, "ha", tx_checksum=False)
        netns.veth(NS_MA, "fa", NS_MB, "fb", tx_checksum=False)
        netns.veth(NS_MB, "hb", NS_B, "b0", tx_checksum=False)
        conf = {}
        for side, host, fabric, rx, peer_hosts, peer_spi in (("a", "ha", "fa", "0x11111111", "10.0.0.2/32",
                                                              "0x22222222"),
                                                             ("b", "hb", "fb", "0x22222222", "10.0.0.1/32",
                                                              "0x11111111")):
            conf[side] = os.path.join(work_dir, f"weftd-{side}.toml")
            with open(conf[side], "w") as f:
                f.write(CONFIG.format(host=host, fabric=fabric, keys=keys, rx_spi=rx, peer_hosts=peer_hosts,
                                      peer_spi=peer_spi, delay=SEND_DELAY_MS))
        sock_a, sock_b = os.path.join(work_dir, "a.sock"), os.path.join(work_dir, "b.sock")
        a = start_weftd(tools, NS_MA, conf["a"], sock_a, f"{TAG}-a")
        b = start_weftd(tools, NS_MB, conf["b"], sock_b, f"{TAG}-b", "--metrics", METRICS)
        fabric_cap, host_cap = os.path.join(work_dir, "fabric.pcap"), os.path.join(work_dir, "host-b.pcap")
        caps = [capture(NS_MB, "fb", fabric_cap), capture(NS_B, "b0", host_cap)]
        try:
            time.sleep(0.5)
            send(source_root, first, NS_A, "a0")
            time.sleep(0.5)
            r.keys_before = json.loads(must(tools.weftctl, "-s", sock_a, "keys", "--json").stdout)
            # a new key 1 (not in use): the receiver first, then the sender
            write_keys(keys, KEY0, NEW_KEY1)
            r.b_rotated = json.loads(must(tools.weftctl, "-s", sock_b, "keys", "rotate", "--json").stdout)
            r.rotated = json.loads(must(tools.weftctl, "-s", sock_a, "keys", "rotate", "--json").stdout)
            r.keys_pending = json.loads(must(tools.weftctl, "-s", sock_a, "keys", "--json").stdout)
            r.rotate_again = sh(tools.weftctl, "-s", sock_a, "keys", "rotate")
            time.sleep(SEND_DELAY_MS / 1000 + 0.3)
            r.keys_text = must(tools.weftctl, "-s", sock_a, "keys").stdout
            send(source_root, second, NS_A, "a0")
            time.sleep(1)
            # a forged frame injected on the fabric link towards B: the last sealed frame with
            # an IV B has not seen (a copy as it is would be refused as a replay before its
            # ICV is even checked) and so an ICV that no longer matches
            sealed = list(pcap.frames(fabric_cap))
            r.fabric_so_far = len(sealed)
            if sealed:
                bad = bytearray(sealed[-1])
                iv_at = 14 + 20 + 8 + 8
                iv = int.from_bytes(bad[iv_at:iv_at + 8], "big") + 1000
                bad[iv_at:iv_at + 8] = iv.to_bytes(8, "big")
                tampered = os.path.join(work_dir, "tampered.pcap")
                pcap.write(tampered, [bytes(bad)])
                send(source_root, tampered, NS_MA, "fa")
            time.sleep(1)
            r.b_keys = json.loads(must(tools.weftctl, "-s", sock_b, "keys", "--json").stdout)
            r.a_keys = json.loads(must(tools.weftctl, "-s", sock_a, "keys", "--json").stdout)
            r.metrics = must("/usr/bin/python3", "-c", "import urllib.request, sys; sys.stdout.write("
                             f"urllib.request.urlopen('http://{METRICS}/metrics', timeout=10).read().decode())",
                             ns=NS_MB).stdout
        finally:
            for c in caps:
                c.send_signal(signal.SIGINT)
                c.wait(timeout=20)
            for p in (a, b):
                p.send_signal(signal.SIGTERM)
            r.start_a = "".join(a.start_lines)
            r.err_a = a.communicate(timeout=30)[1]
            r.err_b = b.communicate(timeout=30)[1]
    r.fabric = list(pcap.frames(fabric_cap))
    r.delivered = [f for f in pcap.frames(host_cap)]
    return r


def write_keys(path, key0, key1):
    # as an operator's tool should: a new file renamed over the old
    with open(path + ".new", "w") as f:
        os.fchmod(f.fileno(), 0o600)
        f.write(f"{key0}\n{key1}\n")
    os.rename(path + ".new", path)


def is_psp(f):
    return f[12:14] == b"\x08\x00" and f[23] == 17 and int.from_bytes(f[36:38], "big") == 1000


def is_roce(f):
    return f[12:14] == b"\x08\x00" and f[23] == 17 and int.from_bytes(f[36:38], "big") == 4791


def test_nothing_crosses_the_fabric_as_roce_in_the_clear(run):
    assert run.fabric, run.err_a
    assert not [f for f in run.fabric if is_roce(f)]
    sealed = [f for f in run.fabric if is_psp(f)]
    assert len(sealed) == len(run.frames) + 1  # and the tampered copy


def test_no_payload_bytes_on_the_fabric(run):
    wire = b"".join(run.fabric)
    for f in run.frames:
        chunk = f[14 + 20 + 8 + 12 + 16:][:32]  # past BTH and RETH: payload
        if len(chunk) == 32:
            assert chunk not in wire


def test_host_b_receives_every_frame_byte_for_byte_through_the_rotation(run):
    assert [f for f in run.delivered if is_roce(f)] == run.frames, run.err_b


def test_the_rotation_loaded_the_new_key_and_delayed_the_senders(run):
    assert run.rotated["rotated"] == {"generation": 1, "new_key": True, "senders_move_in_ms": SEND_DELAY_MS}
    assert run.b_rotated["rotated"]["new_key"] is True
    # during the delay A still seals with key 0, and refuses another rotation
    assert run.keys_pending["master_key_in_use"] == 0 and run.keys_pending["senders_move_in_ms"] > 0
    assert run.rotate_again.returncode != 0 and "rotate again after that" in run.rotate_again.stderr
    assert run.a_keys["master_key_in_use"] == 1 and run.a_keys["senders_move_in_ms"] == 0


def test_b_counted_the_old_key_1_as_stale(run):
    assert run.b_keys["counters"]["stale_events"] >= 1
    assert run.a_keys["counters"]["stale_events"] >= 1


def test_per_sa_counters_split_the_frames_by_key(run):
    second = len(run.frames) - run.half
    rx = {sa["spi"]: sa for sa in run.b_keys["security_associations"] if sa["direction"] == "receive"}
    # the SA under the new key 1 was made at B's rotation: it opened the second half only,
    # and failed the tampered copy of its last frame
    assert rx["a2222222"]["packets"] == second and rx["a2222222"]["auth_fail"] == 1, rx
    assert rx["22222222"]["packets"] == run.half and rx["22222222"]["auth_fail"] == 0, rx
    tx = [sa for sa in run.a_keys["security_associations"] if sa["direction"] == "send"]
    assert len(tx) == 1 and tx[0]["peer"] == "peer" and tx[0]["spi"] == "a2222222", tx
    assert tx[0]["packets"] == second


def test_prometheus_has_the_per_sa_counters(run):
    second = len(run.frames) - run.half
    assert (f'weft_psp_sa_packets_total{{direction="receive",spi="a2222222",peer=""}} {second}'
            in run.metrics), run.metrics[-2000:]
    assert 'weft_psp_sa_auth_fail_total{direction="receive",spi="a2222222",peer=""} 1' in run.metrics
    assert 'weft_crypt_stale_events_total{worker="0"}' in run.metrics
    pt = subprocess.run(["promtool", "check", "metrics"], input=run.metrics, capture_output=True, text=True)
    assert pt.returncode == 0, pt.stdout + pt.stderr


def test_the_rotation_changed_the_generation_half_way(run):
    assert run.keys_before["generation"] == 0 and run.rotated["generation"] == 1
    spis = [int.from_bytes(f[14 + 20 + 8 + 4:14 + 20 + 8 + 8], "big") for f in run.fabric if is_psp(f)]
    assert spis[:run.half] == [0x22222222] * run.half
    assert set(spis[run.half:run.half + 10]) == {0xA2222222}


def test_b_dropped_the_tampered_frame_and_nothing_else(run):
    c = run.b_keys["counters"]
    assert c["rx_auth_fail"] == 1
    assert c["rx_packets"] == len(run.frames)
    assert c["rx_replay"] == 0 and c["rx_bad"] == 0


def test_weftd_warns_at_start_that_host_mtu_frames_cannot_be_sealed(run):
    # both links are 1500: a full-size host packet plus 40 bytes does not fit the fabric
    assert "PSP adds 40 bytes" in run.start_a and "RoCE MTU of 1024 or less" in run.start_a, run.start_a
    assert "raise the fabric MTU to 1540" in run.start_a


def test_keys_show_spis_and_no_key_byte(run):
    text = run.keys_text + json.dumps(run.rotated) + run.err_a + run.err_b
    assert "a2222222" in run.keys_text
    text += json.dumps(run.a_keys) + json.dumps(run.b_keys)
    for key in (KEY0, KEY1, NEW_KEY1):
        for i in range(0, 64 - 8, 8):
            assert key[i:i + 8] not in text.lower()

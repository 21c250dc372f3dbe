"""What an operator hits in the first hour, and what a local attacker would try, on the
real binaries as root (issue 10). Each class of problem has its checks here; the CLI-only
ones (numbers, usage, tables) are in test/cli/operator_input_test.py.

- one weft-probe per interface: a second is refused and the first keeps counting;
- weft-probe --alerts into a pipe whose reader went away: a clean exit, filters detached;
- Linux cooked captures (tcpdump -i any) read as Ethernet, by weftctl and weftd alike;
- a capture corrupt part-way: both say where (record, offset) and exit 1, keeping what
  was read;
- sockets: only a stale socket is removed, nothing else at the path;
- outputs: never through a planted symbolic link, never into a missing directory after
  the run, created 0600;
- af_packet socket-ring drops are counted and shown by weftctl ports;
- DPDK runtime directories: none left by a run, dead ones reclaimed, others untouched;
- a port on a missing interface named before EAL starts."""
import json
import os
import signal
import socket
import stat
import struct
import subprocess
import time
from types import SimpleNamespace

import pytest
from weftkit import netns
from weftkit.proc import analyze, generate, must, sh
from weftkit.scenarios import SMALL_SCENARIO_ARGS, SMALL_SCENARIO_PROBE_CONFIG

TAG = f"wos{os.getpid() % 100000}"
NS_TX, NS_RX = f"{TAG}t", f"{TAG}r"


@pytest.fixture(scope="module")
def veth():
    """tx0 in NS_TX -- rx0 in NS_RX."""
    with netns.veth_between_namespaces(NS_TX, "tx0", NS_RX, "rx0"):
        yield


@pytest.fixture(scope="module")
def gradient(tools, work_dir):
    return generate(tools.weft_gen, "gradient", os.path.join(work_dir, "gradient.pcap"), *SMALL_SCENARIO_ARGS)


def send(source_root, pcap, ns, iface, rate=16000):
    args = ["--rate", str(rate)] if rate else []
    return must("/usr/bin/python3", os.path.join(source_root, "scripts", "pcap-send.py"), *args, iface, pcap,
                ns=ns)


def tc_filters(ns, dev):
    return "".join(sh("tc", "filter", "show", "dev", dev, d, ns=ns).stdout for d in ("ingress", "egress"))


def start_probe(tools, *args):
    p = subprocess.Popen(["ip", "netns", "exec", NS_RX, tools.weft_probe, "--iface", "rx0", *args],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = p.stderr.readline()
    assert "attached" in line, line + p.stderr.read()
    return p


# ---- one weft-probe per interface -----------------------------------------------------------

@pytest.fixture(scope="module")
def two_probes(tools, veth, gradient, source_root, work_dir):
    counters = os.path.join(work_dir, "first.counters.json")
    first = start_probe(tools, "--socket", "none", "--alerts", os.path.join(work_dir, "first.alerts"),
                        "--counters-json", counters)
    second = sh(tools.weft_probe, "--iface", "rx0", "--socket", "none", "--duration", "1", ns=NS_RX,
                timeout=30)
    filters_after_second = tc_filters(NS_RX, "rx0")
    send(source_root, gradient, NS_TX, "tx0")
    time.sleep(0.5)
    first.send_signal(signal.SIGTERM)
    _, err = first.communicate(timeout=30)
    with open(counters) as f:
        doc = json.load(f)
    return SimpleNamespace(second=second, filters=filters_after_second, first_rc=first.returncode,
                           first_err=err, counters=doc["counters"], want=analyze(tools.weftctl, gradient),
                           left=tc_filters(NS_RX, "rx0"))


def test_a_second_probe_on_a_watched_interface_is_refused_naming_the_first(two_probes):
    assert two_probes.second.returncode == 1, two_probes.second.stderr
    assert "rx0: already watched by another weft-probe (pid " in two_probes.second.stderr


def test_the_refused_probe_left_the_first_ones_filters_in_place(two_probes):
    assert "bpf" in two_probes.filters, two_probes.filters


def test_the_first_probe_counted_every_frame_after_the_second_was_refused(two_probes):
    assert two_probes.first_rc == 0, two_probes.first_err
    assert two_probes.counters["packets"] == two_probes.want["totals"]["frames"]


def test_no_exclusivity_message_from_libbpf(two_probes):
    assert "Exclusivity" not in two_probes.second.stderr + two_probes.first_err


def test_the_first_probe_removed_its_filters(two_probes):
    assert two_probes.left.strip() == "", two_probes.left


# ---- alerts into a closed pipe ---------------------------------------------------------------

@pytest.fixture(scope="module")
def closed_pipe(tools, veth, source_root, work_dir):
    config = os.path.join(work_dir, "probe.toml")
    with open(config, "w") as f:
        f.write(SMALL_SCENARIO_PROBE_CONFIG)
    scan = generate(tools.weft_gen, "qpn-scan", os.path.join(work_dir, "qpn-scan.pcap"), *SMALL_SCENARIO_ARGS)
    p = start_probe(tools, "--socket", "none", "--config", config, "--alerts", "-")
    p.stdout.close()  # the reader goes away (`| head -1` after its line) before any alert
    send(source_root, scan, NS_TX, "tx0")
    try:
        err = p.stderr.read()
        rc = p.wait(timeout=30)
    except subprocess.TimeoutExpired:
        p.kill()
        rc, err = "still running", ""
    return SimpleNamespace(rc=rc, err=err, left=tc_filters(NS_RX, "rx0"))


def test_a_closed_alerts_pipe_ends_the_probe_cleanly(closed_pipe):
    # before: killed by SIGPIPE (-13), its filters and clsact left attached
    assert closed_pipe.rc == 0, closed_pipe.err
    assert "the alerts reader closed the pipe" in closed_pipe.err


def test_a_closed_alerts_pipe_leaves_no_filter(closed_pipe):
    assert closed_pipe.left.strip() == "", closed_pipe.left


def test_a_closed_alerts_pipe_ends_the_probe_with_no_alert_to_write(tools, veth):
    # before: the probe learnt of it only at its next write, which a quiet fabric may never bring
    p = start_probe(tools, "--socket", "none", "--alerts", "-")
    p.stdout.close()
    try:
        rc = p.wait(timeout=5)
    except subprocess.TimeoutExpired:
        p.kill()
        rc = "still running 5 s after its reader left"
    err = p.stderr.read()
    assert rc == 0, err
    assert tc_filters(NS_RX, "rx0").strip() == ""


@pytest.mark.parametrize("program", ["weftd", "weft-probe"])
def test_sighup_stops_as_cleanly_as_sigterm(tools, veth, gradient, work_dir, program):
    # a closed terminal: before, weftd died without its counters and dump, weft-probe left
    # its filters and clsact
    if program == "weftd":
        dump = os.path.join(work_dir, "hup.json")
        p = subprocess.Popen([tools.weftd, "--pcap", gradient, "--no-huge", "--control-socket", "none",
                              "--file-prefix", f"{TAG}-hup", "--dump-flows", dump],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        assert "running" in p.stderr.readline()
    else:
        p = start_probe(tools, "--socket", "none", "--alerts", os.path.join(work_dir, "hup.alerts"))
    time.sleep(0.5)
    p.send_signal(signal.SIGHUP)
    _, err = p.communicate(timeout=30)
    assert p.returncode == 0, err
    if program == "weftd":
        assert json.load(open(dump))["totals"]["frames"] > 0
        assert not any(n.startswith(".hup.json") for n in os.listdir(work_dir))
    else:
        assert tc_filters(NS_RX, "rx0").strip() == ""
        assert "clsact" not in sh("tc", "qdisc", "show", "dev", "rx0", ns=NS_RX).stdout


# ---- weftctl alerts --follow when the probe stops ----------------------------------------------

def test_alerts_follow_says_when_the_probe_stops_and_exits_1(tools, veth, work_dir):
    # before: exit 0, silently
    sock = os.path.join(work_dir, "follow.sock")
    probe = start_probe(tools, "--socket", sock, "--alerts", os.path.join(work_dir, "follow.alerts"))
    follower = subprocess.Popen([tools.weftctl, "alerts", "--follow", "-s", sock], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
    time.sleep(1)
    probe.send_signal(signal.SIGTERM)
    probe.communicate(timeout=30)
    _, err = follower.communicate(timeout=30)
    assert follower.returncode == 1, err
    assert f"weft-probe at {sock} stopped" in err, err


# ---- Linux cooked captures (tcpdump -i any) ---------------------------------------------------

@pytest.fixture(scope="module")
def cooked(tools, veth, gradient, source_root, work_dir):
    """The frames sent, captured on the receiving side as Linux cooked v1 and v2 on `any`
    (inbound only: `any` sees each frame once per interface it crosses)."""
    caps = {"sll": ("-i", "any", "-y", "LINUX_SLL"), "sll2": ("-i", "any", "-y", "LINUX_SLL2")}
    procs, paths = [], {}
    for name, how in caps.items():
        paths[name] = os.path.join(work_dir, f"cooked-{name}.pcap")
        procs.append(subprocess.Popen(["ip", "netns", "exec", NS_RX, "tcpdump", *how, "-U", "-s", "0", "-w",
                                       paths[name], "inbound and udp"],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True))
    for p in procs:
        p.stderr.readline()  # "listening on ..."
    send(source_root, gradient, NS_TX, "tx0")
    time.sleep(1)
    for p in procs:
        p.send_signal(signal.SIGINT)
        p.wait(timeout=20)
    docs = {name: analyze(tools.weftctl, path) for name, path in paths.items()}
    dump = os.path.join(work_dir, "cooked-weftd.json")
    weftd = sh(tools.weftd, "--pcap", paths["sll2"], "--exit-on-eof", "--no-huge", "--control-socket", "none",
               "--file-prefix", f"{TAG}-sll", "--dump-flows", dump, timeout=120)
    with open(dump) as f:
        docs["weftd-sll2"] = json.load(f)
    return SimpleNamespace(paths=paths, docs=docs, weftd=weftd, want=analyze(tools.weftctl, gradient))


def flows_by_id(doc):
    return {(f["src"], f["dst"], f["dqpn"]): (f["packets"], f["psn"], f["icrc_errors"]) for f in doc["flows"]}


@pytest.mark.parametrize("kind", ["sll", "sll2", "weftd-sll2"])
def test_a_cooked_capture_reads_as_the_ethernet_frames_sent(cooked, kind):
    # before: weftctl refused the file, weftd read it as 0 RoCE and exited 0
    want, got = cooked.want, cooked.docs[kind]
    for key in ("frames", "bytes", "roce_packets", "roce_bytes", "icrc_checked"):
        assert got["totals"][key] == want["totals"][key], key
    assert got["totals"]["icrc_errors"] == 0
    assert flows_by_id(got) == flows_by_id(want)


def test_the_cooked_captures_are_what_tcpdump_any_writes(cooked):
    for kind, link in (("sll", 113), ("sll2", 276)):
        with open(cooked.paths[kind], "rb") as f:
            head = f.read(24)
        assert struct.unpack("<I", head[20:24])[0] == link, kind


# ---- a capture corrupt part-way ---------------------------------------------------------------

@pytest.fixture(scope="module")
def corrupt(tools, work_dir):
    good = generate(tools.weft_gen, "gradient", os.path.join(work_dir, "g200.pcap"), "--packets", "200")
    data = bytearray(open(good, "rb").read())
    offset, record = 24, 1
    while record < 51:
        offset += 16 + struct.unpack_from("<I", data, offset + 8)[0]
        record += 1
    struct.pack_into("<I", data, offset + 8, 0xFFFFFFFF)
    path = os.path.join(work_dir, "corrupt.pcap")
    with open(path, "wb") as f:
        f.write(data)
    ctl = sh(tools.weftctl, "analyze", "--json", "-q", path)
    with open(path, "rb") as f:
        piped = sh(tools.weftctl, "analyze", "--json", "-q", "-", stdin=f)
    dump = os.path.join(work_dir, "corrupt-weftd.json")
    weftd = sh(tools.weftd, "--pcap", path, "--exit-on-eof", "--no-huge", "--control-socket", "none",
               "--file-prefix", f"{TAG}-corrupt", "--dump-flows", dump, timeout=120)
    with open(dump) as f:
        weftd_doc = json.load(f)
    return SimpleNamespace(offset=offset, ctl=ctl, piped=piped, weftd=weftd, weftd_doc=weftd_doc)


@pytest.mark.parametrize("reader", ["ctl", "piped", "weftd"])
def test_a_corrupt_capture_is_an_error_naming_the_record_and_offset(corrupt, reader):
    r = getattr(corrupt, reader)
    assert r.returncode == 1, r.stderr
    assert f"record 51 at byte offset {corrupt.offset}" in r.stderr, r.stderr
    # before: "last record truncated ..., analysed the 50 complete frames", exit 0
    assert "corrupt" in r.stderr and "last record truncated" not in r.stderr, r.stderr


@pytest.mark.parametrize("reader", ["ctl", "piped"])
def test_what_came_before_the_corruption_is_still_reported(corrupt, reader):
    doc = json.loads(getattr(corrupt, reader).stdout)
    assert doc["totals"]["frames"] == 50
    for key in ("frames", "bytes", "roce_packets", "icrc_errors", "flows"):
        assert doc["totals"][key] == corrupt.weftd_doc["totals"][key], key


# ---- sockets: only a stale one is removed -----------------------------------------------------

def test_a_regular_file_at_the_control_socket_path_is_refused_and_kept(tools, work_dir, gradient):
    path = os.path.join(work_dir, "not-a-socket")
    with open(path, "w") as f:
        f.write("precious\n")
    r = sh(tools.weftd, "--pcap", gradient, "--exit-on-eof", "--no-huge", "--control-socket", path,
           "--file-prefix", f"{TAG}-sock", timeout=60)
    assert r.returncode == 1 and "is not a socket" in r.stderr, r.stderr
    assert open(path).read() == "precious\n"


def test_weft_probe_refuses_a_regular_file_at_its_socket_path(tools, veth, work_dir):
    path = os.path.join(work_dir, "probe-not-a-socket")
    with open(path, "w") as f:
        f.write("precious\n")
    r = sh(tools.weft_probe, "--iface", "rx0", "--socket", path, "--duration", "1", ns=NS_RX, timeout=30)
    assert r.returncode == 1 and "is not a socket" in r.stderr, r.stderr
    assert open(path).read() == "precious\n"


def test_a_stale_socket_is_replaced(tools, work_dir, gradient):
    path = os.path.join(work_dir, "stale.sock")
    s = socket.socket(socket.AF_UNIX)
    s.bind(path)
    s.close()  # the file stays, nobody answers: what a SIGKILLed weftd leaves
    r = sh(tools.weftd, "--pcap", gradient, "--exit-on-eof", "--no-huge", "--control-socket", path,
           "--file-prefix", f"{TAG}-stale", timeout=60)
    assert r.returncode == 0, r.stderr
    assert not os.path.exists(path)  # replaced, then removed on exit


# ---- outputs ----------------------------------------------------------------------------------

@pytest.fixture
def planted(work_dir):
    """A symbolic link planted at an output path, pointing at a file an attacker wants
    overwritten or appended to."""
    target = os.path.join(work_dir, "victim")
    with open(target, "w") as f:
        f.write("precious\n")
    link = os.path.join(work_dir, "planted-output")
    if os.path.lexists(link):
        os.unlink(link)
    os.symlink(target, link)
    return SimpleNamespace(link=link, target=target)


def outputs(tools, gradient, link):
    """Each program's output options, with the output at `link`."""
    probe = [tools.weft_probe, "--iface", "rx0", "--socket", "none", "--duration", "1"]
    return {
        "weftd --dump-flows": [tools.weftd, "--pcap", gradient, "--exit-on-eof", "--no-huge", "--control-socket",
                               "none", "--file-prefix", f"{TAG}-out", "--dump-flows", link],
        "weft-gen -o": [tools.weft_gen, "gradient", "-q", "-o", link],
        "weft-probe --counters-json": probe + ["--counters-json", link],
        "weft-probe --alerts": probe + ["--alerts", link],
    }


@pytest.mark.parametrize("which", ["weftd --dump-flows", "weft-gen -o", "weft-probe --counters-json",
                                   "weft-probe --alerts"])
def test_no_output_is_written_through_a_planted_symlink(tools, veth, gradient, planted, which):
    cmd = outputs(tools, gradient, planted.link)[which]
    r = sh(*cmd, ns=NS_RX if "probe" in which else None, timeout=120)
    assert r.returncode != 0, r.stderr
    assert "symbolic link" in r.stderr, r.stderr
    assert open(planted.target).read() == "precious\n"
    assert os.path.islink(planted.link)


@pytest.mark.parametrize("which", ["weftd --dump-flows", "weft-gen -o", "weft-probe --counters-json",
                                   "weft-probe --alerts"])
def test_an_output_in_a_missing_directory_fails_before_the_work(tools, veth, gradient, work_dir, which):
    path = os.path.join(work_dir, "no-such-dir", "out")
    cmd = outputs(tools, gradient, path)[which]
    start = time.monotonic()
    r = sh(*cmd, ns=NS_RX if "probe" in which else None, timeout=120)
    assert r.returncode != 0, r.stderr
    assert os.path.join(work_dir, "no-such-dir") in r.stderr and "does not exist" in r.stderr, r.stderr
    # weft-probe would have run its --duration, weftd its whole capture
    assert "attached" not in r.stderr and "running" not in r.stderr, r.stderr
    assert time.monotonic() - start < 5


@pytest.mark.parametrize("which", ["weftd --dump-flows", "weft-gen -o", "weft-probe --counters-json",
                                   "weft-probe --alerts"])
def test_outputs_are_created_mode_0600(tools, veth, gradient, work_dir, which):
    path = os.path.join(work_dir, "private-" + which.replace(" ", "_").replace("-", ""))
    if os.path.exists(path):
        os.unlink(path)
    cmd = outputs(tools, gradient, path)[which]
    r = sh(*cmd, ns=NS_RX if "probe" in which else None, timeout=120)
    assert r.returncode == 0, r.stderr
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


# ---- af_packet socket-ring drops ---------------------------------------------------------------

@pytest.fixture(scope="module")
def ring_drops(tools, source_root, work_dir):
    """weftd inline on veths with a small socket ring on its host port (framecnt=64),
    stopped (SIGSTOP) while a 3000-frame burst goes into it: the kernel fills the ring and
    drops the rest whatever the speed of the machine or of the sender (polling lazily was
    not enough: on a fast CI machine a slow sender never outran it)."""
    ns_a, ns_m, ns_b = f"{TAG}a", f"{TAG}m", f"{TAG}b"
    frames = generate(tools.weft_gen, "gradient", os.path.join(work_dir, "burst.pcap"), "--packets", "3000",
                      "--mtu", "1024")
    with netns.namespaces(ns_a, ns_m, ns_b):
        netns.veth(ns_a, "a0", ns_m, "h0", tx_checksum=False)
        netns.veth(ns_b, "b0", ns_m, "f0", tx_checksum=False)
        sock = os.path.join(work_dir, "ring.sock")
        p = subprocess.Popen(["ip", "netns", "exec", ns_m, tools.weftd, "--inline", "--port",
                              "host:net_af_packet0,iface=h0,framecnt=64", "--port", "fabric:net_af_packet1,iface=f0",
                              "--no-huge", "--idle-sleep-us", "1000", "--control-socket", sock,
                              "--file-prefix", f"{TAG}-ring"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        try:
            deadline = time.time() + 30
            while not os.path.exists(sock) and time.time() < deadline and p.poll() is None:
                time.sleep(0.1)
            p.send_signal(signal.SIGSTOP)
            try:
                send(source_root, frames, ns_a, "a0", rate=0)
            finally:
                p.send_signal(signal.SIGCONT)
            time.sleep(1)
            ports = json.loads(must(tools.weftctl, "-s", sock, "ports", "--json").stdout)
            text = must(tools.weftctl, "-s", sock, "ports").stdout
        finally:
            # stopped whatever went wrong above: a weftd left running would outlive the test
            p.send_signal(signal.SIGTERM)
            _, err = p.communicate(timeout=30)
    host = next(x for x in ports["ports"] if x["role"] == "host")
    return SimpleNamespace(host=host, text=text, err=err, rc=p.returncode)


def test_socket_ring_drops_are_counted(ring_drops):
    d = ring_drops.host["driver_counters"]
    assert d["socket_ring_drops"] > 0, ring_drops.host
    assert d["rx_missed"] >= d["socket_ring_drops"]


def test_every_frame_of_the_burst_is_either_received_or_a_counted_drop(ring_drops):
    d = ring_drops.host["driver_counters"]
    assert ring_drops.host["rx_packets"] + d["socket_ring_drops"] == 3000, ring_drops.host


def test_weftctl_ports_says_the_socket_ring_dropped_frames(ring_drops):
    assert "socket ring was full" in ring_drops.text, ring_drops.text


# ---- af_packet on a jumbo-frame link --------------------------------------------------------

def test_af_packet_takes_whole_jumbo_frames(tools, source_root, work_dir):
    # before: the PMD's 2048-byte ring frames cut RoCE at MTU 4096, read as malformed
    ns_a, ns_m = f"{TAG}ja", f"{TAG}jm"
    frames = generate(tools.weft_gen, "gradient", os.path.join(work_dir, "jumbo.pcap"), "--mtu", "4096",
                      "--hosts", "3", "--iterations", "1", "--message-size", "64K")
    want = analyze(tools.weftctl, frames)
    dump = os.path.join(work_dir, "jumbo.json")
    with netns.namespaces(ns_a, ns_m):
        netns.veth(ns_a, "j0", ns_m, "m0")
        for ns, dev in ((ns_a, "j0"), (ns_m, "m0")):
            must("ip", "link", "set", dev, "mtu", "9000", ns=ns)
        p = subprocess.Popen(["ip", "netns", "exec", ns_m, tools.weftd, "--passive", "--port",
                              "mirror:net_af_packet0,iface=m0", "--no-huge", "--control-socket", "none",
                              "--file-prefix", f"{TAG}-jumbo", "--dump-flows", dump],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        try:
            assert "running" in p.stderr.readline()
            send(source_root, frames, ns_a, "j0")
            time.sleep(1)
        finally:
            p.send_signal(signal.SIGTERM)
            _, err = p.communicate(timeout=30)
    got = json.load(open(dump))["totals"]
    assert got["malformed"] == 0, err
    assert got["roce_packets"] == want["totals"]["roce_packets"], err
    assert got["roce_bytes"] == want["totals"]["roce_bytes"]


# ---- DPDK runtime directories ------------------------------------------------------------------

def dead_pid():
    p = subprocess.Popen(["true"])
    p.wait()
    return p.pid


def test_a_run_leaves_no_dpdk_runtime_directory_and_reclaims_dead_ones(tools, gradient):
    root = "/var/run/dpdk"
    os.makedirs(root, exist_ok=True)
    dead = os.path.join(root, f"weftd-{dead_pid()}")
    os.makedirs(dead, exist_ok=True)
    for name in ("config", "fbarray_memzone", "mp_socket"):
        open(os.path.join(dead, name), "w").close()
    kept = os.path.join(root, f"weftd-{dead_pid() + 1}")
    while os.path.exists(kept):
        kept += "0"
    os.makedirs(kept)
    open(os.path.join(kept, "not-dpdks"), "w").close()
    prefix = f"{TAG}-rundir"
    r = sh(tools.weftd, "--pcap", gradient, "--exit-on-eof", "--no-huge", "--control-socket", "none",
           "--file-prefix", prefix, timeout=60)
    try:
        assert r.returncode == 0, r.stderr
        assert not os.path.exists(os.path.join(root, prefix))
        assert not os.path.exists(dead), os.listdir(dead)
        # not DPDK's file: never deleted
        assert os.path.exists(os.path.join(kept, "not-dpdks"))
    finally:
        for d in (dead, kept):
            if os.path.isdir(d):
                for f in os.listdir(d):
                    os.unlink(os.path.join(d, f))
                os.rmdir(d)


# ---- a port on a missing interface -------------------------------------------------------------

@pytest.mark.parametrize("show_plan", [True, False])
def test_a_missing_interface_is_named_before_eal_starts(tools, show_plan):
    r = sh(tools.weftd, "--inline", "--port", "host:net_af_packet0,iface=nosuch0", "--port",
           "fabric:net_af_packet1,iface=lo", "--no-huge", *(["--show-plan"] if show_plan else []), timeout=30)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "interface nosuch0 (iface=) does not exist on this host" in r.stderr, r.stderr
    assert "EAL" not in r.stderr

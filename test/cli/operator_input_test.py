"""What an operator types, checked as they meet it (issue 10): every number range-checked
and refused with its range, usage mistakes named, the flow table fitting the terminal,
captures from standard input. The root-only classes (probes, sockets, outputs as root,
DPDK) are in test/integration/operator_safety_test.py."""
import json
import os
import re
import subprocess

import pytest
from weftkit.proc import analyze, generate, must, sh


@pytest.fixture(scope="module")
def capture(tools, work_dir):
    return generate(tools.weft_gen, "gradient", os.path.join(work_dir, "grad.pcap"), "--hosts", "4",
                    "--message-size", "64K", "--iterations", "1", "--mtu", "1024")


@pytest.fixture(scope="module")
def capture6(tools, work_dir):
    return generate(tools.weft_gen, "gradient", os.path.join(work_dir, "grad6.pcap"), "--hosts", "4",
                    "--message-size", "64K", "--iterations", "1", "--mtu", "1024", "--ipv6")


# ---- every number range-checked -----------------------------------------------------------------

BAD_NUMBERS = [
    # (program, arguments, what the message must say)
    ("weftd", ["--workers", "0", "--show-plan"], "--workers: must be an integer from 1 to 128, not '0'"),
    ("weftd", ["--workers", "-1", "--show-plan"], "from 1 to 128, not '-1'"),
    ("weftd", ["--workers", "4294967297", "--show-plan"], "from 1 to 128, not '4294967297'"),
    ("weftd", ["--memory-mb", "1", "--show-plan"], "--memory-mb: must be an integer from 64 to 1048576"),
    ("weftd", ["--idle-sleep-us", "2x", "--show-plan"], "--idle-sleep-us: must be an integer from 0 to 1000000"),
    ("weftctl", ["analyze", "--top", "-1", "CAPTURE"], "--top: must be an integer from 1 to 1000000000, not '-1'"),
    ("weftctl", ["analyze", "--top", "0", "CAPTURE"], "from 1 to 1000000000, not '0'"),
    ("weftctl", ["analyze", "--max-flows", "0", "CAPTURE"], "--max-flows: must be an integer from 1 to 16777214"),
    ("weftctl", ["analyze", "--max-flows", "99999999999", "CAPTURE"], "from 1 to 16777214"),
    ("weftctl", ["analyze", "--qpn", "0x1000000", "CAPTURE"], "not a 24-bit QP number"),
    ("weft-probe", ["--iface", "lo", "--poll-ms", "5"], "--poll-ms: must be an integer from 10 to 60000, not '5'"),
    ("weft-probe", ["--iface", "lo", "--duration", "nan"], "--duration: must be a number from 0 to 10000000"),
    ("weft-probe", ["--iface", "lo", "--duration", "0x3"], "--duration: must be a number from 0 to 10000000"),
    ("weft-verbs", ["client", "10.0.0.1", "--size", "5G"], "--size: must be a size from 16 to 1073741824"),
    ("weft-verbs", ["client", "10.0.0.1", "--request-size", "0"], "--request-size: must be a size from 16"),
]


EMPTY_VALUES = [
    # before: '' meant the default (a socket, a prefix), or nothing (no dump, no filter)
    ("weftd", ["--control-socket", "", "--show-plan"], "--control-socket: must not be empty"),
    ("weftd", ["--file-prefix", "", "--show-plan"], "--file-prefix: must not be empty"),
    ("weftd", ["--dump-flows", "", "--show-plan"], "--dump-flows: must not be empty"),
    ("weftctl", ["-s", "", "status"], "--socket: must not be empty"),
    ("weftctl", ["analyze", "--qpn", "", "CAPTURE"], "--qpn: must not be empty"),
    ("weft-probe", ["--iface", "lo", "--alerts", ""], "--alerts: must not be empty"),
]


@pytest.mark.parametrize("program,args,words", EMPTY_VALUES, ids=[" ".join([p] + a) for p, a, _ in EMPTY_VALUES])
def test_an_empty_value_is_refused_not_taken_for_the_default(tools, capture, program, args, words):
    r = sh(getattr(tools, program.replace("-", "_")), *[capture if a == "CAPTURE" else a for a in args])
    assert r.returncode == 2 and words in r.stderr, r.stderr


def test_a_relative_socket_path_is_refused(tools, capture, work_dir):
    # before: a directory named like the socket was made, then refused
    r = sh(tools.weftd, "--pcap", capture, "--control-socket", "relative.sock", "--show-plan", cwd=work_dir)
    assert r.returncode == 1 and "must be an absolute path" in r.stderr, r.stderr
    assert not os.path.exists(os.path.join(work_dir, "relative.sock"))


def test_one_interface_on_two_ports_is_refused(tools):
    r = sh(tools.weftd, "--inline", "--port", "host:net_af_packet0,iface=lo", "--port",
           "fabric:net_af_packet1,iface=lo", "--show-plan")
    assert r.returncode == 1 and "use the same interface lo" in r.stderr, r.stderr


def test_the_dump_cannot_overwrite_the_capture_it_reads(tools, work_dir, capture):
    import shutil
    victim = os.path.join(work_dir, "victim.pcap")
    shutil.copy(capture, victim)
    r = sh(tools.weftd, "--pcap", victim, "--dump-flows", victim, "--exit-on-eof", "--no-huge",
           "--control-socket", "none")
    assert r.returncode == 1 and "it would be overwritten" in r.stderr, r.stderr
    assert open(victim, "rb").read() == open(capture, "rb").read()


def test_weft_gen_refuses_json_and_the_capture_on_one_stdout(tools):
    r = sh(tools.weft_gen, "gradient", "-o", "-", "--json")
    assert r.returncode == 2 and "--json" in r.stderr, r.stderr[:300]


def test_weftctl_says_a_socket_path_that_is_a_file_is_not_a_socket(tools, capture):
    r = sh(tools.weftctl, "-s", capture, "status")
    assert r.returncode == 1 and "is not a socket" in r.stderr, r.stderr


def test_weftd_and_weftctl_agree_on_a_last_record_cut_short(tools, work_dir, capture):
    data = open(capture, "rb").read()
    cut = os.path.join(work_dir, "cut.pcap")
    with open(cut, "wb") as f:
        f.write(data[:-100])
    ctl = sh(tools.weftctl, "analyze", "--json", "-q", cut)
    dump = os.path.join(work_dir, "cut.json")
    weftd = sh(tools.weftd, "--pcap", cut, "--exit-on-eof", "--no-huge", "--control-socket", "none",
               "--dump-flows", dump)
    assert ctl.returncode == 0 and weftd.returncode == 0, weftd.stderr
    assert "last record truncated" in ctl.stderr and "last record truncated" in weftd.stderr, weftd.stderr
    a, w = json.loads(ctl.stdout), json.load(open(dump))
    for key in ("frames", "roce_packets", "truncated_records"):
        assert a["totals"][key] == w["totals"][key], key
    assert a["totals"]["truncated_records"] == 1
    assert w["source"]["truncation"]


@pytest.mark.parametrize("program,args,words", BAD_NUMBERS, ids=[" ".join([p] + a) for p, a, _ in BAD_NUMBERS])
def test_a_number_out_of_range_is_refused_with_its_range(tools, capture, program, args, words):
    # before: --workers 0 meant 1, --top -1 meant "all", 4294967297 wrapped
    r = sh(getattr(tools, program.replace("-", "_")), *[capture if a == "CAPTURE" else a for a in args])
    assert r.returncode == 2, r.stdout + r.stderr
    assert words in r.stderr, r.stderr


def test_a_file_prefix_that_is_a_path_is_refused(tools, capture):
    # before: --file-prefix ../../x put DPDK's runtime directory and the socket elsewhere
    r = sh(tools.weftd, "--pcap", capture, "--file-prefix", "../../x", "--show-plan")
    assert r.returncode == 1 and "must be a name" in r.stderr, r.stderr


def check_config(program, work_dir, name, text):
    """`program --check-config` of a file `name` in the work directory holding `text`."""
    path = os.path.join(work_dir, name)
    with open(path, "w") as f:
        f.write(text)
    return sh(program, "--check-config", path)


@pytest.mark.parametrize("key,value,words", [
    ("qpn_scan_distinct_qps", "4294967312", "must be an integer from 1 to 1000000"),
    ("qpn_scan_distinct_qps", "0", "must be an integer from 1 to 1000000"),
    ("window_ms", "99999999999999", "detectors.window_ms: must be an integer from"),
    ("rkey_guessing_naks", "-3", "detectors.rkey_guessing_naks: must be an integer from"),
])
def test_a_detector_threshold_out_of_range_is_refused(tools, work_dir, key, value, words):
    # before: 4294967312 became 16, a huge window overflowed, 0 alerted on benign traffic
    r = check_config(tools.weft_probe, work_dir, f"{key}.toml", f"[detectors]\n{key} = {value}\n")
    assert r.returncode == 1, r.stdout
    assert words in r.stderr, r.stderr


PSP_BASE = {"master_keys": '"/etc/weft/psp.keys"', "rx_spi": "0x11111111"}
PSP_PORTS = ('mode = "inline"\n[[ports]]\nname = "host"\nrole = "host"\ndevice = "net_af_packet0"\n'
             'args = "iface=eth0"\n[[ports]]\nname = "up"\nrole = "fabric"\ndevice = "net_af_packet1"\n'
             'args = "iface=eth1"\n')
PSP_PEER = '\n[[psp.peers]]\nname = "b"\nhosts = ["10.0.0.2/32"]\nspi = 0x22222222\n'


@pytest.mark.parametrize("changes,peer,words", [
    ({"rx_spi": "0x80000000"}, PSP_PEER, "psp.rx_spi: bit 31 must be clear: it names the key generation"),
    ({"rx_spi": "0x91111111"}, PSP_PEER, "psp.rx_spi: bit 31 must be clear"),
    ({}, PSP_PEER.replace("0x22222222", "0xA2222222"), "psp.peers[0].spi: bit 31 must be clear"),
    ({"rx_spi": "0x22222222"}, PSP_PEER, "psp.peers[0].spi: is this weftd's own rx_spi"),
    ({"master_keys": None}, PSP_PEER, "psp.master_keys: is required with [psp]"),
    ({"master_keys": '""'}, PSP_PEER, "psp.master_keys: is required with [psp]"),
    ({}, PSP_PEER + PSP_PEER.replace("0x22222222", "0x33333333"),
     "psp.peers[1].name: 'b' names psp.peers[0] too"),
    ({}, PSP_PEER + PSP_PEER.replace('"b"', '"c"').replace("10.0.0.2/32", "10.0.0.0/24"),
     "psp.peers[1].hosts: 10.0.0.0/24 overlaps psp.peers[0]'s 10.0.0.2/32"),
    ({}, "", "psp.peers: at least one [[psp.peers]] is required"),
    ({"rx_spi": "0x100000000"}, PSP_PEER, "psp.rx_spi: must be an integer from 1 to 4294967295"),
    ({"version": "2"}, PSP_PEER, "psp.version: must be an integer from 0 to 1"),
    ({"mode": '"esp"'}, PSP_PEER, 'psp.mode: must be "transport" or "tunnel"'),
    ({"crypt_offset": "64"}, PSP_PEER, "psp.crypt_offset: must be an integer from 0 to 63"),
    ({"rotate_interval_s": "5"}, PSP_PEER, "psp.rotate_interval_s: must be 0 (no timer) or at least 10"),
    ({"rotate_interval_s": "2592001"}, PSP_PEER, "psp.rotate_interval_s: must be an integer from 0 to 2592000"),
    ({"rotate_interval_s": "60", "rotate_send_delay_ms": "40000"}, PSP_PEER,
     "psp.rotate_send_delay_ms: must be at most half of rotate_interval_s (30000 ms)"),
    ({"rotate_send_delay_ms": "600001"}, PSP_PEER, "psp.rotate_send_delay_ms: must be an integer from 0 to 600000"),
    ({"rotate_every": "60"}, PSP_PEER, "psp.rotate_every: unknown key; known: master_keys, rx_spi"),
    ({"rx_spi": None}, PSP_PEER, "psp.rx_spi: is required with [psp]"),
    ({}, PSP_PEER.replace("spi = 0x22222222\n", ""), "psp.peers[0].spi: is required"),
    ({}, PSP_PEER.replace("10.0.0.2/32", "10.0.0.2/24"), "psp.peers[0].hosts: 10.0.0.2/24 is not an address or prefix"),
])
def test_a_psp_setting_out_of_range_is_refused(tools, work_dir, changes, peer, words):
    settings = {**PSP_BASE, **changes}
    text = PSP_PORTS + "[psp]\n" + "".join(f"{k} = {v}\n" for k, v in settings.items() if v is not None) + peer
    r = check_config(tools.weftd, work_dir, "psp-bad.toml", text)
    assert r.returncode == 1, (text, r.stdout)
    assert words in r.stderr, (text, r.stderr)


def test_a_psp_configuration_with_the_timer_is_valid(tools, work_dir):
    r = check_config(tools.weftd, work_dir, "psp-good.toml",
                     PSP_PORTS + "[psp]\n" + "".join(f"{k} = {v}\n" for k, v in PSP_BASE.items()) +
                     "rotate_interval_s = 60\nrotate_send_delay_ms = 30000\n" + PSP_PEER)
    assert r.returncode == 0 and "valid" in r.stdout, r.stderr


@pytest.mark.parametrize("balance,words", [
    ('policy = "random"', 'balance.policy: must be "ecmp", "flowlet", "congestion" or "spray"'),
    ('policy = "spray"', 'balance.policy "spray" needs two paths at least'),
    ("reorder = true", "balance.reorder needs balance.reorder_hosts"),
    ('reorder_hosts = ["10.0.0.1/8"]', "balance.reorder_hosts: 10.0.0.1/8 is not an address or prefix"),
    ("reorder_depth = 48", "balance.reorder_depth: must be a power of two"),
    ('[balance.classes.bulk]\npolicy = "ecmp"', "balance.classes.bulk: not a traffic class"),
    ("[balance.classes.inference]\ndscp = 64", "balance.classes.inference.dscp: must be an integer from 0 to 63"),
    ('[balance.classes.inference]\npolicy = "fast"', 'balance.classes.inference.policy: must be "ecmp"'),
    ('[balance.classes.gradient]\npolicy = "spray"', 'balance.classes.gradient.policy "spray" needs two paths at least'),
    ("[balance.classes.inference]\nqueue = 3", "balance.classes.inference.queue: unknown key; known: policy, dscp"),
    ("reorder_timeout_us = 5", "balance.reorder_timeout_us: must be an integer from 10 to 1000000"),
    ('policy = "congestion"', 'balance.policy "congestion" needs two paths at least'),
    ('policy = "congestion"\nsource_ports = 2\nround_us = 99', "balance.round_us: must be an integer from 100 to 10000000"),
    ('policy = "congestion"\nsource_ports = 2\ncongested_rounds = 0', "balance.congested_rounds: must be an integer from 1 to 1000"),
    ('policy = "congestion"\nsource_ports = 2\nclear_rounds = 100001', "balance.clear_rounds: must be an integer from 1 to 100000"),
    ('policy = "congestion"\nsource_ports = 2\nsignal_permille = 1001', "balance.signal_permille: must be an integer from 1 to 1000"),
    ('policy = "flowlet"\nflowlet_gap_us = 0', "balance.flowlet_gap_us: must be an integer from 1 to 10000000"),
    ('policy = "flowlet"\nsource_ports = 16385', "balance.source_ports: must be an integer from 0 to 16384"),
    ('policy = "flowlet"', 'balance.policy "flowlet" needs two paths at least'),
    ("source_ports = 4", "balance.source_ports: only the flowlet and congestion policies write source ports"),
    ('policy = "flowlet"\ngap = 5', "balance.gap: unknown key; known: policy, flowlet_gap_us, source_ports, round_us, congested_rounds, clear_rounds, signal_permille, reorder, reorder_hosts, reorder_depth, reorder_flows, reorder_timeout_us, offer_interval_ms, classes"),
])
def test_a_balance_setting_out_of_range_is_refused(tools, work_dir, balance, words):
    r = check_config(tools.weftd, work_dir, "balance-bad.toml",
                     PSP_PORTS + "[balance]\n" + balance + "\n")  # one uplink
    assert r.returncode == 1, r.stdout
    assert words in r.stderr, r.stderr


@pytest.mark.parametrize("rule,words", [
    ('class = "bulk"\ndscp = 1', "classify.rules[0].class: bulk: must be gradient, inference or control"),
    ("dscp = 1", "classify.rules[0].class: is required"),
    ('class = "inference"\ndscp = 64', "classify.rules[0].dscp: must be an integer from 0 to 63"),
    ('class = "inference"\ndest_qp = [5, 1]', "classify.rules[0].dest_qp: must be [MIN, MAX]"),
    ('class = "inference"\nsrc_ports = [1, 70000]', "classify.rules[0].src_ports: must be [MIN, MAX]"),
    ('class = "inference"', "classify.rules[0]: matches everything"),
    ('class = "inference"\nsources = ["10.0.0.1/24"]', "classify.rules[0].sources: 10.0.0.1/24 is not"),
    ('class = "inference"\ndscp = 26\nqp = 1', "classify.rules[0].qp: unknown key"),
])
def test_a_classify_rule_that_cannot_be_right_is_refused(tools, work_dir, rule, words):
    r = check_config(tools.weftd, work_dir, "classify-bad.toml",
                     PSP_PORTS + "[[classify.rules]]\n" + rule + "\n")
    assert r.returncode == 1, r.stdout
    assert words in r.stderr, r.stderr


def test_a_flowlet_configuration_is_valid_and_the_plan_says_so(tools, work_dir):
    r = check_config(tools.weftd, work_dir, "balance-good.toml",
                     PSP_PORTS + '[balance]\npolicy = "flowlet"\nflowlet_gap_us = 200\nsource_ports = 8\n')
    assert r.returncode == 0 and "valid" in r.stdout, r.stderr
    assert "flowlets" in r.stdout and "200 us quiet" in r.stdout, r.stdout


# ---- usage mistakes named ------------------------------------------------------------------------

def test_an_unknown_command_is_named(tools):
    # before: "A subcommand is required"
    r = sh(tools.weftctl, "bogus")
    assert r.returncode == 2
    assert "weftctl: unknown command 'bogus' (commands: analyze, devices, status, ports, flows, alerts" in r.stderr


def test_the_socket_option_works_after_the_subcommand(tools, work_dir):
    # before: "-s" was an unknown option after the subcommand
    missing = os.path.join(work_dir, "no-weftd.sock")
    for args in (["-s", missing, "status"], ["status", "-s", missing]):
        r = sh(tools.weftctl, *args)
        assert r.returncode == 1 and f"cannot reach weftd at {missing}" in r.stderr, (args, r.stderr)


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to run weftctl as another user")
def test_a_non_root_user_is_told_permission_denied_not_that_no_weftd_runs(tools):
    os.makedirs("/run/weft", mode=0o700, exist_ok=True)
    r = sh("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", tools.weftctl, "status")
    assert r.returncode == 1
    assert "Permission denied" in r.stderr and "run as root" in r.stderr, r.stderr
    assert "no weftd answers" not in r.stderr


# ---- the flow table fits the terminal -------------------------------------------------------------

def table(tools, capture, *args, columns):
    env = dict(os.environ, COLUMNS=str(columns))
    return must(tools.weftctl, "analyze", "-q", "--all", *args, capture, env=env).stdout


@pytest.mark.parametrize("columns", [80, 120])
@pytest.mark.parametrize("family", ["v4", "v6"])
def test_the_table_fits_the_terminal(tools, capture, capture6, columns, family):
    # before: 125 columns before OPCODES, rows up to 211
    text = table(tools, capture if family == "v4" else capture6, columns=columns)
    widest = max(len(line) for line in text.splitlines())
    assert widest <= columns, "\n" + text


def test_columns_are_taken_strictly_in_order_of_importance(tools, capture6):
    # before: at 80 columns with long IPv6 addresses, CNP was shown and PACKETS hidden
    order = ["SRC", "DST", "DQPN", "PACKETS", "BYTES", "NAKS", "GAPS", "CNP", "ECN", "ICRC", "MSGS",
             "DUPS", "SPORT"]
    for columns in (60, 70, 80, 90, 100):
        text = table(tools, capture6, columns=columns)
        shown = set(next(line for line in text.splitlines() if line.startswith("SRC")).split())
        taken = [c for c in order if c in shown]
        assert taken == order[:len(taken)], (columns, taken)


def test_narrower_terminals_show_fewer_columns_and_wide_shows_all(tools, capture):
    header = lambda t: next(line for line in t.splitlines() if line.startswith("SRC")).split()
    at = {c: table(tools, capture, columns=c) for c in (50, 60, 80)}
    wide = table(tools, capture, "--wide", columns=50)
    assert set(header(at[50])) < set(header(at[60])) <= set(header(at[80])) < set(header(wide))
    assert "OPCODES" in header(wide) and "OPCODES" not in header(at[80])
    # who and which QP always, what is hidden is said
    assert header(at[50])[:3] == ["SRC", "DST", "DQPN"]
    assert "hidden; --wide shows them" in at[50]


def test_ipv6_rows_stay_aligned(tools, capture6):
    lines = table(tools, capture6, "--wide", columns=200).splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("SRC"))
    rows = [line for line in lines[start:] if line and not line.startswith("(")]
    # each column starts at the same place in every row: the header's DQPN right edge
    dqpn_end = rows[0].index("DQPN") + len("DQPN")
    for row in rows[1:]:
        assert re.match(r"0x[0-9a-f]+$", row[:dqpn_end].split()[-1]), row


# ---- a capture from standard input -----------------------------------------------------------------

def test_analyze_reads_standard_input(tools, capture):
    # before: "-: No such file or directory"
    with open(capture, "rb") as f:
        r = subprocess.run([tools.weftctl, "analyze", "--json", "-q", "-"], stdin=f, capture_output=True)
    assert r.returncode == 0, r.stderr
    piped, direct = json.loads(r.stdout), analyze(tools.weftctl, capture)
    assert piped["totals"] == direct["totals"]
    assert piped["flows"] == direct["flows"]


def test_progress_from_a_pipe_is_in_bytes(tools, work_dir):
    # progress shows after the first second: the pipe pauses after its first tenth
    big = generate(tools.weft_gen, "gradient", os.path.join(work_dir, "big.pcap"), "--packets", "100000",
                   "--mtu", "256")
    size = os.path.getsize(big)
    feed = f"head -c {size // 10} {big}; sleep 1.2; tail -c +{size // 10 + 1} {big}"
    r = subprocess.run(f"({feed}) | {tools.weftctl} analyze - > /dev/null", shell=True, capture_output=True,
                       text=True)
    assert r.returncode == 0, r.stderr
    progress = [line for line in r.stderr.splitlines() if line.startswith("analyze:")]
    # a pipe has no size: bytes read, never a percentage of an unknown whole
    assert progress and all("read" in line and "%" not in line for line in progress), r.stderr


# ---- one reader, one rule: a link type Weft does not read --------------------------------------

def test_weftd_and_weftctl_refuse_the_same_unreadable_link_type_alike(tools, work_dir):
    # raw IP (LINKTYPE_RAW, 101): before, weftd read it as 0 RoCE with exit 0 while weftctl
    # refused it
    import struct
    path = os.path.join(work_dir, "raw-ip.pcap")
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 101))
        packet = bytes(40)
        f.write(struct.pack("<IIII", 0, 0, len(packet), len(packet)) + packet)
    ctl = sh(tools.weftctl, "analyze", path)
    weftd = sh(tools.weftd, "--pcap", path, "--exit-on-eof", "--no-huge", "--control-socket", "none")
    words = "link type RAW (DLT 12) is not a link type Weft reads (Ethernet, or Linux cooked as tcpdump -i any " \
            "writes)"
    assert ctl.returncode == 1 and words in ctl.stderr, ctl.stderr
    assert weftd.returncode == 1 and words in weftd.stderr, weftd.stderr

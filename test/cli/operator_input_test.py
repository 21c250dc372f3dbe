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
]


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


@pytest.mark.parametrize("key,value,words", [
    ("qpn_scan_distinct_qps", "4294967312", "must be an integer from 1 to 1000000"),
    ("qpn_scan_distinct_qps", "0", "must be an integer from 1 to 1000000"),
    ("window_ms", "99999999999999", "detectors.window_ms: must be an integer from"),
    ("rkey_guessing_naks", "-3", "detectors.rkey_guessing_naks: must be an integer from"),
])
def test_a_detector_threshold_out_of_range_is_refused(tools, work_dir, key, value, words):
    # before: 4294967312 became 16, a huge window overflowed, 0 alerted on benign traffic
    path = os.path.join(work_dir, f"{key}.toml")
    with open(path, "w") as f:
        f.write(f"[detectors]\n{key} = {value}\n")
    r = sh(tools.weft_probe, "--check-config", path)
    assert r.returncode == 1, r.stdout
    assert words in r.stderr, r.stderr


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

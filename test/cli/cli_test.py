"""Command-line behaviour of weftctl and weft-gen as an operator meets it: exit codes,
one-line errors, truncated captures, pcapng, filters, JSON schema, determinism, pacing.
One check per test; the captures they share are made once per run (module fixtures)."""
import hashlib
import json
import os

import pytest
from weftkit import pcap
from weftkit.ci import require_program
from weftkit.proc import analyze, generate, must, sh
from weftkit.scenarios import ALL as SCENARIOS

SMALL = ["--hosts", "4", "--message-size", "64K", "--iterations", "1", "--mtu", "1024"]


@pytest.fixture(scope="module")
def weftctl(tools):
    return tools.weftctl


@pytest.fixture(scope="module")
def gen(tools):
    return tools.weft_gen


@pytest.fixture(scope="module")
def grad(gen, work_dir):
    """A small all-reduce capture most checks read."""
    return generate(gen, "gradient", os.path.join(work_dir, "grad.pcap"), *SMALL)


@pytest.fixture(scope="module")
def full(weftctl, grad):
    """weftctl analyze --json of grad."""
    return analyze(weftctl, grad)


@pytest.fixture(scope="module")
def flow0(full):
    return full["flows"][0]


# --- help and usage

def test_weftctl_help(weftctl):
    r = sh(weftctl, "--help")
    assert r.returncode == 0 and "analyze" in r.stdout, r.stdout + r.stderr


def test_analyze_help_explains(weftctl):
    r = sh(weftctl, "analyze", "--help")
    assert r.returncode == 0 and "--json" in r.stdout and "destination QPN" in r.stdout, r.stdout


def test_weftctl_without_subcommand_is_usage_error(weftctl):
    r = sh(weftctl)
    assert r.returncode == 2, (r.returncode, r.stderr)


def test_analyze_without_file_is_usage_error(weftctl):
    r = sh(weftctl, "analyze")
    assert r.returncode == 2, (r.returncode, r.stderr)


def test_bad_qpn_exit_2_one_line(weftctl, grad):
    r = sh(weftctl, "analyze", grad, "--qpn", "zz")
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1, r.stderr


def test_bad_host_exit_2(weftctl, grad):
    r = sh(weftctl, "analyze", grad, "--host", "not-an-ip")
    assert r.returncode == 2 and "not-an-ip" in r.stderr, r.stderr


# --- unreadable inputs: exit 1 with one clear line

def test_missing_file_exit_1_says_so(weftctl, work_dir):
    r = sh(weftctl, "analyze", os.path.join(work_dir, "missing.pcap"))
    assert r.returncode == 1 and "No such file" in r.stderr and len(r.stderr.strip().splitlines()) == 1, \
        r.stderr


def test_non_capture_file_exit_1(weftctl, work_dir):
    notcap = os.path.join(work_dir, "notcap.pcap")
    with open(notcap, "w") as f:
        f.write("this is not a capture\n" * 10)
    r = sh(weftctl, "analyze", notcap)
    assert r.returncode == 1 and "not a pcap" in r.stderr, r.stderr


def test_directory_exit_1(weftctl, work_dir):
    r = sh(weftctl, "analyze", work_dir)
    assert r.returncode == 1 and "directory" in r.stderr, r.stderr


def test_empty_file_exit_1(weftctl, work_dir):
    empty = os.path.join(work_dir, "empty.pcap")
    open(empty, "w").close()
    r = sh(weftctl, "analyze", empty)
    assert r.returncode == 1, r.stderr


# --- truncated last record: reported, not fatal

@pytest.fixture(scope="module")
def truncated(weftctl, grad, work_dir):
    cut = os.path.join(work_dir, "cut.pcap")
    with open(grad, "rb") as f:
        data = f.read()
    with open(cut, "wb") as f:
        f.write(data[:-20])  # inside the last record (every frame here is > 20 bytes)
    return sh(weftctl, "analyze", "--json", "-q", cut)


def test_truncated_last_record_exit_0_with_warning(truncated):
    assert truncated.returncode == 0 and "truncated" in truncated.stderr, truncated.stderr


def test_truncated_last_record_counted_other_frames_analysed(truncated, full):
    totals = json.loads(truncated.stdout).get("totals", {}) if truncated.returncode == 0 else {}
    assert totals.get("truncated_records") == 1 and totals.get("frames") == full["totals"]["frames"] - 1, \
        (totals, full["totals"]["frames"])


# --- pcapng gives the same flows as pcap

def test_pcapng_equals_pcap(weftctl, grad, full, work_dir):
    editcap = require_program("editcap", "scripts/setup installs it with tshark")
    ng = os.path.join(work_dir, "grad.pcapng")
    must(editcap, "-F", "pcapng", grad, ng)
    assert analyze(weftctl, ng)["flows"] == full["flows"]


# --- JSON schema

def test_schema_name(full):
    assert full["schema"] == "weft.flows/1", full["schema"]


@pytest.mark.parametrize("key", ["totals", "malformed", "table", "flows"])
def test_document_has(full, key):
    assert key in full, sorted(full)


@pytest.mark.parametrize("key", ["src", "dst", "dqpn", "sports", "packets", "bytes", "opcodes", "psn",
                                 "naks", "cnp", "ecn_ce", "icrc_errors", "messages", "message_sizes",
                                 "reverse", "outstanding_reads"])
def test_flow_has(flow0, key):
    assert key in flow0, sorted(flow0)


def test_psn_has_gaps_duplicates_out_of_order(flow0):
    assert set(flow0["psn"]) == {"gaps", "duplicates", "out_of_order"}, flow0["psn"]


# --- filters

def test_host_filter_keeps_only_that_hosts_flows(weftctl, grad, flow0):
    host = flow0["src"]
    sub = analyze(weftctl, grad, "--host", host, "--all")
    assert sub["flows"] and all(host in (f["src"], f["dst"]) for f in sub["flows"]), \
        [(f["src"], f["dst"]) for f in sub["flows"]]


def test_qpn_filter_keeps_only_that_qp(weftctl, grad, flow0):
    sub = analyze(weftctl, grad, "--qpn", hex(flow0["dqpn"]))
    assert [f["dqpn"] for f in sub["flows"]] == [flow0["dqpn"]]


def test_json_lists_every_flow_by_default(full):
    assert len(full["flows"]) == full["totals"]["flows"], (len(full["flows"]), full["totals"]["flows"])


def test_top_2(weftctl, grad, full):
    sub = analyze(weftctl, grad, "--top", "2")
    assert len(sub["flows"]) == 2 and sub["totals"]["flows"] == full["totals"]["flows"], \
        (len(sub["flows"]), sub["totals"]["flows"])


def test_human_report_lists_flows(weftctl, grad, flow0):
    r = sh(weftctl, "analyze", "-q", grad)
    assert r.returncode == 0 and flow0["src"] in r.stdout and "DQPN" in r.stdout, r.stdout[:600] + r.stderr


# --- weft-gen: determinism, errors, listing, pacing

@pytest.fixture(scope="module")
def seeded(gen, work_dir):
    """sha256 of three inference captures: seeds 7, 7 and 8."""
    def digest(name, seed):
        path = generate(gen, "inference", os.path.join(work_dir, name), "--seed", seed, "--clients", "3",
                        "--requests", "3")
        with open(path, "rb") as f:
            return hashlib.sha256(f.read()).hexdigest()
    return digest("a.pcap", "7"), digest("b.pcap", "7"), digest("c.pcap", "8")


def test_same_seed_same_bytes(seeded):
    assert seeded[0] == seeded[1]


def test_other_seed_other_bytes(seeded):
    assert seeded[0] != seeded[2]


def test_unknown_scenario_exit_2(gen, work_dir):
    r = sh(gen, "nonsense", "-o", os.path.join(work_dir, "x.pcap"))
    assert r.returncode == 2 and "unknown scenario" in r.stderr, r.stderr


def test_missing_output_exit_2(gen):
    r = sh(gen, "gradient")
    assert r.returncode == 2, (r.returncode, r.stderr)


def test_unwritable_output_exit_1(gen):
    r = sh(gen, "gradient", "-o", "/nonexistent-dir/x.pcap", "-q")
    assert r.returncode == 1, (r.returncode, r.stderr)


def test_list_names_every_scenario(gen):
    r = sh(gen, "--list")
    assert r.returncode == 0 and all(n in r.stdout for n in SCENARIOS), \
        [n for n in SCENARIOS if n not in r.stdout]


def test_help_explains_every_scenario(gen):
    r = sh(gen, "--help")
    assert r.returncode == 0 and all(n in r.stdout for n in SCENARIOS), \
        [n for n in SCENARIOS if n not in r.stdout]


@pytest.fixture(scope="module")
def paced(gen, work_dir):
    return generate(gen, "gradient", os.path.join(work_dir, "paced.pcap"), "--link-gbps", "100",
                    "--hosts", "2", "--message-size", "64K", "--iterations", "1", "--mtu", "4096",
                    "--packets", "20")


def test_nanosecond_pcap(paced):
    assert pcap.header(paced).nanosecond


def test_timestamps_paced_at_100_gbps(paced):
    # back-to-back frames are spaced by their serialisation time at --link-gbps (the frame
    # plus preamble, SFD and inter-frame gap: 24 bytes), to the nanosecond
    recs = list(pcap.records(paced))
    off = [(i, recs[i + 1].ts_ns - recs[i].ts_ns, (recs[i].orig_len + 24) * 8 / 100)
           for i in range(len(recs) - 1)
           if abs((recs[i + 1].ts_ns - recs[i].ts_ns) - (recs[i].orig_len + 24) * 8 / 100) > 1]
    assert len(recs) == 20 and not off, f"{len(recs)} frames; (index, delta, expected): {off[:5]}"

"""weft-gen's limits as an operator first meets them: --packets N writes N frames unless
the scenario's own length (given too) or its attack ends it first, which weft-gen then
says; every number is range-checked and refused with its range; sizes whose frames cannot
be held in memory are refused instead of exhausting it."""
import json
import os
import resource

import pytest
from weftkit import pcap
from weftkit.proc import sh

SMALL = ["--hosts", "4", "--message-size", "64K", "--mtu", "256"]


@pytest.fixture(scope="module")
def gen(tools):
    return tools.weft_gen


def frames(path):
    return sum(1 for _ in pcap.records(path))


def test_packets_alone_writes_that_many_gradient_frames(gen, work_dir):
    out = os.path.join(work_dir, "grad-100k.pcap")
    r = sh(gen, "gradient", "-q", "-o", out, "--packets", "100000", *SMALL)
    try:
        assert r.returncode == 0 and frames(out) == 100000 and not r.stderr, (r.returncode, r.stderr)
    finally:
        os.unlink(out)  # 30 MB


def test_packets_alone_writes_that_many_inference_frames(gen, work_dir):
    # more than its default --requests make (2750 frames)
    out = os.path.join(work_dir, "inference.pcap")
    r = sh(gen, "inference", "-q", "-o", out, "--packets", "20000", "--clients", "4", "--kv-block", "1K",
           "--mtu", "1024")
    assert r.returncode == 0 and frames(out) == 20000 and not r.stderr, (r.returncode, r.stderr)


@pytest.mark.parametrize("scenario,limit,said", [
    ("gradient", ["--iterations", "1"], "--iterations 1"),
    ("loss", ["--iterations", "1"], "--iterations 1"),
    ("inference", ["--requests", "2"], "--requests 2"),
    ("qpn-scan", [], "--attack-count 256"),
])
def test_the_limit_that_ended_it_first_is_named(gen, work_dir, scenario, limit, said):
    out = os.path.join(work_dir, f"{scenario}-short.pcap")
    r = sh(gen, scenario, "-q", "-o", out, "--packets", "100000", *SMALL, *limit)
    n = frames(out)
    assert r.returncode == 0 and 0 < n < 100000, (r.returncode, n, r.stderr)
    assert f"{n} frames, fewer than --packets 100000" in r.stderr and said in r.stderr, r.stderr


def test_packets_reached_before_the_iterations_end(gen, work_dir):
    out = os.path.join(work_dir, "grad-both.pcap")
    r = sh(gen, "gradient", "-q", "-o", out, "--packets", "1000", "--iterations", "100", *SMALL)
    assert r.returncode == 0 and frames(out) == 1000 and not r.stderr, (r.returncode, r.stderr)


BAD_NUMBERS = [
    ("--seed", "-1", "from 0 to 18446744073709551615"),
    ("--link-gbps", "0", "from 0.001 to 1600"),
    ("--link-gbps", "1601", "from 0.001 to 1600"),
    ("--packets", "-1", "from 0 to 1000000000000"),
    ("--packets", "1e6", "from 0 to 1000000000000"),
    ("--start-ns", "4294967296000000000", "from 0 to 4294967295000000000"),
    ("--mtu", "1000", "256,512,1024,2048,4096"),
    ("--vlan", "4095", "from 0 to 4094"),
    ("--ack-interval", "0", "from 1 to 1048576"),
    ("--hosts", "0", "from 1 to 60000"),
    ("--hosts", "60001", "from 1 to 60000"),
    ("--message-size", "0", "from 1 to 1073741824"),
    ("--message-size", "2G", "from 1 to 1073741824"),
    ("--iterations", "-1", "from 0 to 4294967295"),
    ("--qps-per-peer", "257", "from 1 to 256"),
    ("--clients", "0", "from 1 to 60000"),
    ("--requests", "-1", "from 0 to 4294967295"),
    ("--kv-block", "-64K", "from 1 to 1073741824"),
    ("--ce-fraction", "1.5", "from 0 to 1"),
    ("--loss-rate", "-0.1", "from 0 to 1"),
    ("--attack-count", "0", "from 1 to 1048576"),
    ("--attack-count", "1048577", "from 1 to 1048576"),
    ("--compute-gap-ns", "-1", "from 0 to 3600000000000"),
]


@pytest.mark.parametrize("option,value,range_words", BAD_NUMBERS,
                         ids=[f"{o} {v}" for o, v, _ in BAD_NUMBERS])
def test_bad_number_refused_with_its_range(gen, work_dir, option, value, range_words):
    out = os.path.join(work_dir, "refused.pcap")
    more = [] if option == "--packets" else ["--packets", "10"]
    r = sh(gen, "gradient", "-q", "-o", out, option, value, *more)
    assert r.returncode == 2 and option in r.stderr and range_words in r.stderr, (r.returncode, r.stderr)
    assert not os.path.exists(out)


LIMIT_MB = 4096


def limit_memory():
    # 4 GiB of address space: what was refused must be refused, not attempted until the
    # machine runs out (a test machine would otherwise page or kill something else)
    resource.setrlimit(resource.RLIMIT_AS, (LIMIT_MB << 20, LIMIT_MB << 20))


@pytest.fixture(scope="module")
def bounded(tools):
    """sh() keyword arguments that hold a weft-gen run to LIMIT_MB. An ASan build maps
    terabytes of shadow memory at start, so its limit is ASan's own, on resident memory."""
    with open(os.path.join(tools.build, "meson-info", "intro-buildoptions.json")) as f:
        sanitize = next(o["value"] for o in json.load(f) if o["name"] == "b_sanitize")
    if "address" not in sanitize:
        return {"preexec_fn": limit_memory}
    options = ":".join(filter(None, [os.environ.get("ASAN_OPTIONS"), f"hard_rss_limit_mb={LIMIT_MB}"]))
    return {"env": dict(os.environ, ASAN_OPTIONS=options)}


@pytest.mark.parametrize("scenario,args,named", [
    ("gradient", ["--hosts", "60000", "--qps-per-peer", "256"], "--hosts x --qps-per-peer"),
    ("loss", ["--hosts", "2", "--message-size", "1G", "--mtu", "256"], "--message-size"),
    ("inference", ["--clients", "60000", "--kv-block", "1G"], "--clients x --kv-block"),
])
def test_sizes_beyond_memory_are_refused(gen, work_dir, bounded, scenario, args, named):
    out = os.path.join(work_dir, "too-big.pcap")
    r = sh(gen, scenario, "-q", "-o", out, "--packets", "10", *args, timeout=120, **bounded)
    assert r.returncode == 2 and named in r.stderr and "at most" in r.stderr, (r.returncode, r.stderr)


@pytest.mark.parametrize("scenario,args", [
    # a ring of 3000 hosts: one iteration is 18 million messages, made a step at a time
    ("gradient", ["--hosts", "3000", "--message-size", "1K"]),
    # storms and bulk READs at the largest --attack-count: made as they are sent
    ("cnp-storm", ["--attack-count", "1048576"]),
    ("bulk-read", ["--attack-count", "1048576", "--mtu", "256"]),
])
def test_large_scenarios_run_in_bounded_memory(gen, work_dir, bounded, scenario, args):
    out = os.path.join(work_dir, "large.pcap")
    r = sh(gen, scenario, "-q", "-o", out, "--packets", "1000", *args, timeout=120, **bounded)
    assert r.returncode == 0 and frames(out) == 1000, (r.returncode, r.stderr[-2000:])

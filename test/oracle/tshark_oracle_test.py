"""Oracle test: per-QP packet, byte and opcode counts from `weftctl analyze --json` must
equal those computed from Wireshark's own InfiniBand dissector (tshark), on the real
SoftRoCE captures and on every weft-gen scenario (kept small for CI), plus IPv6 + VLAN.
The IBA rules that exclude malformed frames independently of Weft's parser, and the
comparison itself, are in scripts/python/weftkit/tshark.py.

Four checks per capture; each capture is made and dissected once, the first time a check
needs it. meson runs one capture per test (oracle-NAME: --oracle-capture NAME).
Without tshark the checks are skipped, and fail under CI=true."""
import os

import pytest
from weftkit.ci import require_program
from weftkit.proc import generate
from weftkit.scenarios import ALL as SCENARIOS
from weftkit.tshark import count_differences, flow_set_differences, tshark_flows, weft_flows

SMALL = ["--hosts=4", "--message-size=256K", "--iterations=2", "--clients=6", "--requests=6",
         "--kv-block=32K", "--attack-count=64", "--mtu=1024"]
# name -> where the capture comes from: "fixture" (test/fixtures/NAME/capture.pcap) or
# weft-gen's arguments.
# test/oracle/meson.build lists the same names, one meson test each.
CAPTURES = {"softroce-sample": "fixture", "softroce-small": "fixture", "softroce-loss": "fixture",
            **{s: [s, *SMALL] for s in SCENARIOS},
            "gradient-ipv6-vlan": ["gradient", "--ipv6", "--vlan=42", "--hosts=3", "--message-size=64K",
                                   "--iterations=1"]}


def pytest_generate_tests(metafunc):
    # --oracle-capture NAME (repeatable) runs those captures only; unknown names are an error,
    # not an empty run
    if "name" in metafunc.fixturenames:
        chosen = metafunc.config.getoption("oracle_capture") or list(CAPTURES)
        unknown = [n for n in chosen if n not in CAPTURES]
        if unknown:
            raise pytest.UsageError(f"--oracle-capture {unknown}: not one of {list(CAPTURES)}")
        metafunc.parametrize("name", chosen)


@pytest.fixture(scope="module")
def compared(tools, source_root, work_dir):
    """compared(name) -> (tshark's flows, frames it excluded, weft's flows, weft's document)."""
    done = {}

    def get(name):
        # looked for at each call: a skip (or CI's failure) must reach every check of the capture
        require_program("tshark", "scripts/setup installs it")
        if name not in done:
            how = CAPTURES[name]
            if how == "fixture":
                path = os.path.join(source_root, "test", "fixtures", name, "capture.pcap")
            else:
                scenario, *args = how
                path = generate(tools.weft_gen, scenario, os.path.join(work_dir, f"oracle-{name}.pcap"), *args)
            theirs, excluded = tshark_flows(path)
            ours, doc = weft_flows(tools.weftctl, path)
            done[name] = (theirs, excluded, ours, doc)
        return done[name]
    return get


def test_same_qp_flows_as_tshark(compared, name):
    theirs, _, ours, _ = compared(name)
    assert theirs, "tshark found no RoCE flow at all"
    assert not flow_set_differences(theirs, ours), flow_set_differences(theirs, ours)


def test_per_qp_packets_bytes_opcodes_equal_tsharks(compared, name):
    theirs, _, ours, _ = compared(name)
    diff = count_differences(theirs, ours)
    assert not diff, f"{len(diff)} differences, first: {diff[:20]}"


def test_malformed_equals_frames_excluded_by_the_iba_rules(compared, name):
    _, excluded, _, doc = compared(name)
    assert excluded == doc["totals"]["malformed"], \
        f"excluded by the IBA rules {excluded}, weft counted {doc['totals']['malformed']}"


def test_no_icrc_error(compared, name):
    # none of these captures holds a bad ICRC: one here is Weft's mistake
    _, _, _, doc = compared(name)
    assert doc["totals"]["icrc_errors"] == 0, f"{doc['totals']['icrc_errors']} ICRC errors"

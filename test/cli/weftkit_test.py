"""The shared pcap reader and writer (scripts/python/weftkit/pcap.py) that every Python
test, bench and helper script reads captures through: both byte orders, micro- and
nanosecond files, checked against weft-gen's files and against weftctl's own reader."""
import os
import struct

import pytest
from weftkit import pcap
from weftkit.proc import analyze, generate


@pytest.fixture(scope="module")
def gen_pcap(tools, work_dir):
    """A small weft-gen capture (little-endian, nanosecond) with its analysis."""
    path = generate(tools.weft_gen, "inference", os.path.join(work_dir, "inference.pcap"), "--hosts=3",
                    "--clients=3", "--requests=3", "--mtu=1024")
    return path, analyze(tools.weftctl, path)


def test_reads_weft_gens_nanosecond_file_frame_for_frame(gen_pcap):
    path, doc = gen_pcap
    recs = list(pcap.records(path))
    h = pcap.header(path)
    assert h.nanosecond and h.byte_order == "<" and h.linktype == pcap.LINKTYPE_ETHERNET, h
    assert len(recs) == doc["totals"]["frames"] and sum(len(r.data) for r in recs) == doc["totals"]["bytes"], \
        (len(recs), doc["totals"])
    assert all(a.ts_ns <= b.ts_ns for a, b in zip(recs, recs[1:])), "timestamps out of order"


@pytest.mark.parametrize("byte_order", ["<", ">"], ids=["little-endian", "big-endian"])
@pytest.mark.parametrize("nanosecond", [True, False], ids=["nanosecond", "microsecond"])
def test_round_trip(gen_pcap, work_dir, byte_order, nanosecond):
    path, _ = gen_pcap
    recs = list(pcap.records(path))
    out = os.path.join(work_dir, f"rt-{byte_order == '<'}-{nanosecond}.pcap")
    pcap.write(out, recs, nanosecond=nanosecond, byte_order=byte_order)
    back = list(pcap.records(out))
    scale = 1 if nanosecond else 1000  # a microsecond file keeps microseconds
    want = [r._replace(ts_ns=r.ts_ns // scale * scale) for r in recs]
    assert back == want, f"{len(back)} records back of {len(want)}"
    assert pcap.header(out) == pcap.Header(byte_order, nanosecond, 262144, pcap.LINKTYPE_ETHERNET)


@pytest.mark.parametrize("byte_order", ["<", ">"], ids=["little-endian", "big-endian"])
def test_weftctl_reads_what_the_writer_wrote(tools, gen_pcap, work_dir, byte_order):
    # an independent reader: the same flows from the rewritten file as from weft-gen's own
    path, doc = gen_pcap
    out = os.path.join(work_dir, f"rewritten-{byte_order == '<'}.pcap")
    pcap.write(out, pcap.records(path), nanosecond=False, byte_order=byte_order)
    got = analyze(tools.weftctl, out)
    assert got["totals"] == doc["totals"], (got["totals"], doc["totals"])
    assert [(f["src"], f["dst"], f["dqpn"], f["packets"], f["bytes"]) for f in got["flows"]] == \
        [(f["src"], f["dst"], f["dqpn"], f["packets"], f["bytes"]) for f in doc["flows"]]


def test_bare_frames_are_stamped_step_ns_apart(work_dir):
    out = os.path.join(work_dir, "bare.pcap")
    assert pcap.write(out, [b"\x00" * 60, b"\x01" * 64], step_ns=500) == 2
    assert list(pcap.records(out)) == [pcap.Record(0, 60, b"\x00" * 60), pcap.Record(500, 64, b"\x01" * 64)]


def test_a_record_cut_short_is_an_error_naming_its_offset(gen_pcap, work_dir):
    path, _ = gen_pcap
    cut = os.path.join(work_dir, "cut.pcap")
    with open(path, "rb") as f:
        data = f.read()
    with open(cut, "wb") as f:
        f.write(data[:-20])
    with pytest.raises(ValueError, match=r"record at offset \d+ holds"):
        list(pcap.frames(cut))


@pytest.mark.parametrize("head", [b"", b"this is not a capture\n" * 2,
                                  struct.pack("<I", 0x0A0D0D0A) + b"\0" * 20],  # pcapng's magic
                         ids=["empty", "text", "pcapng"])
def test_not_a_classic_pcap_is_an_error(work_dir, head):
    bad = os.path.join(work_dir, "bad.pcap")
    with open(bad, "wb") as f:
        f.write(head)
    with pytest.raises(ValueError, match="not a"):
        list(pcap.records(bad))

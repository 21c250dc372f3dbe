#!/usr/bin/python3
"""Builds the seed corpora of the packet fuzz targets (input format: test/fuzz/frames.hpp,
a 2-byte little-endian header per frame, low 15 bits its length, top bit "do not verify the
ICRC").

usage: test/fuzz/make_corpus.py captures OUTDIR CAPTURE...
           one seed per distinct (opcode, length class) frame of each capture, plus one
           seed of up to 8 consecutive RoCE frames per capture (at most 4096 bytes, the
           parse-track target's -max_len)
       test/fuzz/make_corpus.py synth OUTDIR
           hand-made frame sequences with correct ICRCs for what a capture rarely shows
           in one short input: more flows and hosts than the targets' tables hold,
           eviction and re-creation, PSN gaps, duplicates, NAKs, READs, CNPs, ECN marks,
           an unverified frame (header top bit) with a wrong ICRC
       test/fuzz/make_corpus.py report OUTDIR SEED...
           the flow-report target's seeds: each SEED prefixed with one byte of report
           options (top, sort key, filters; see fuzz_flow_report.cpp)

test/fuzz/corpus was made by `captures` (test/fixtures/softroce-sample/capture.pcap and
weft-gen's small scenarios) and `synth`; test/fuzz/corpus-flow-report by `report` over a
selection of those."""
import os
import struct
import sys
import zlib

MAX_LEN = 4096


def record(frame, verify=True):
    return struct.pack("<H", len(frame) | (0 if verify else 0x8000)) + frame


def captures(out, caps):
    # run by hand: find the shared package (scripts/python/weftkit) from this file's place
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts", "python"))
    from weftkit import pcap

    seen = set()
    for cap in caps:
        name = os.path.splitext(os.path.basename(cap))[0]
        run, run_len, full = [], 0, False
        for i, fr in enumerate(pcap.frames(cap)):
            key = (fr[42] if len(fr) > 42 else None, len(fr) // 512, len(fr) < 64)
            if key not in seen:
                seen.add(key)
                with open(os.path.join(out, f"{name}-{i}.bin"), "wb") as f:
                    f.write(record(fr))
            if len(run) < 8 and i >= 16 and not full:
                full = run_len + 2 + len(fr) > MAX_LEN
                if not full:
                    run.append(fr)
                    run_len += 2 + len(fr)
        with open(os.path.join(out, f"{name}-train.bin"), "wb") as f:
            f.write(b"".join(record(fr) for fr in run))


# ---- synthetic RoCEv2 frames (Ethernet, IPv4, UDP 4791, BTH, extension headers, ICRC)

def ipv4_checksum(h):
    s = sum(struct.unpack("!10H", h))
    s = (s & 0xFFFF) + (s >> 16)
    s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def icrc(ip_to_end):
    """ICRC over IP header .. payload (no ICRC), variant fields masked (IPv4 only)."""
    c = bytearray(b"\xff" * 8 + ip_to_end)
    ip = 8
    c[ip + 1] = 0xFF  # TOS
    c[ip + 8] = 0xFF  # TTL
    c[ip + 10] = c[ip + 11] = 0xFF  # header checksum
    udp = ip + 20
    c[udp + 6] = c[udp + 7] = 0xFF  # UDP checksum
    c[udp + 8 + 4] = 0xFF  # BTH resv8a
    return struct.pack("<I", zlib.crc32(bytes(c)))


def frame(src, dst, qp, opcode, psn, ext=b"", payload=b"", ecn=0, sport=0xC000):
    pad = -len(payload) % 4
    bth = struct.pack("!BBHBBBB", opcode, pad << 4, 0xFFFF, 0, qp >> 16, (qp >> 8) & 0xFF, qp & 0xFF)
    bth += struct.pack("!I", psn & 0xFFFFFF)
    l4 = bth + ext + payload + b"\0" * pad
    udp = struct.pack("!HHHH", sport, 4791, 8 + len(l4) + 4, 0)
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, ecn, 20 + len(udp) + len(l4) + 4, 0, 0x4000, 64, 17, 0,
                     bytes([10, 0, 0, src]), bytes([10, 0, 0, dst]))
    ip = ip[:10] + struct.pack("!H", ipv4_checksum(ip)) + ip[12:]
    eth = bytes([2, 0, 0, 0, 0, dst]) + bytes([2, 0, 0, 0, 0, src]) + b"\x08\x00"
    return eth + ip + udp + l4 + icrc(ip + udp + l4)


SEND_ONLY, WRITE_ONLY, READ_REQUEST, READ_RESPONSE_ONLY, ACK, CNP = 0x04, 0x0A, 0x0C, 0x10, 0x11, 0x81


def aeth(syndrome, msn=0):
    return struct.pack("!I", syndrome << 24 | msn)


def reth(length):
    return struct.pack("!QII", 0x1000, 0x1234, length)


def synth(out):
    seeds = {
        # 20 flows over 10 hosts: past both tables' sizes (16 flows, 8 hosts; 8 and 6 in
        # the report target), so flows and hosts are refused
        "synth-many-flows": [frame(1 + i % 10, 1 + (i + 3) % 10, 0x100 + i, SEND_ONLY, 0) for i in range(20)],
        # a flow, 8 frames of another, the first again: evicted (idle > 1000 ns at 300 ns
        # per frame, an eviction pass every 7th frame) and created anew
        "synth-evict": [frame(1, 2, 0x11, SEND_ONLY, 5)] + [frame(3, 4, 0x22, SEND_ONLY, p) for p in range(8)]
        + [frame(1, 2, 0x11, SEND_ONLY, 6)],
        # requests with a gap, a duplicate, out of order; the reverse direction's ACK and NAKs
        "synth-psn": [frame(1, 2, 0x33, SEND_ONLY, p, payload=b"x" * 13) for p in (10, 11, 13, 13, 12)]
        + [frame(2, 1, 0x44, ACK, 12, ext=aeth(0x00, 1)), frame(2, 1, 0x44, ACK, 12, ext=aeth(0x60, 1)),
           frame(2, 1, 0x44, ACK, 12, ext=aeth(0x20, 1))],
        # a READ and its response, a WRITE, a CNP, ECN CE
        "synth-read-write": [frame(1, 2, 0x55, READ_REQUEST, 100, ext=reth(300)),
                             frame(2, 1, 0x66, READ_RESPONSE_ONLY, 100, ext=aeth(0), payload=b"r" * 300),
                             frame(1, 2, 0x55, WRITE_ONLY, 101, ext=reth(40), payload=b"w" * 40, ecn=3),
                             frame(2, 1, 0x77, CNP, 0, payload=b"\0" * 16)],
    }
    for name, frames in seeds.items():
        with open(os.path.join(out, f"{name}.bin"), "wb") as f:
            f.write(b"".join(record(fr) for fr in frames))
    # a wrong ICRC, accounted with verification off (header top bit) and then on
    bad = bytearray(frame(1, 2, 0x88, SEND_ONLY, 7, payload=b"abcd"))
    bad[-1] ^= 0xFF
    with open(os.path.join(out, "synth-unverified.bin"), "wb") as f:
        f.write(record(bytes(bad), verify=False) + record(bytes(bad)))


def report(out, seeds):
    # option bytes: all flows by bytes; top 1 by packets; top 2 by messages for one QP;
    # top 3 by NAKs for one host; all by gaps for a QP and a host
    options = [0x00, 0x05, 0x2A, 0x4F, 0x70]
    for i, seed in enumerate(seeds):
        with open(seed, "rb") as f:
            data = f.read()
        name = os.path.splitext(os.path.basename(seed))[0]
        with open(os.path.join(out, f"{name}.bin"), "wb") as f:
            f.write(bytes([options[i % len(options)]]) + data)


def main():
    if len(sys.argv) < 3 or sys.argv[1] not in ("captures", "synth", "report"):
        sys.exit(__doc__)
    out = sys.argv[2]
    os.makedirs(out, exist_ok=True)
    {"captures": lambda: captures(out, sys.argv[3:]), "synth": lambda: synth(out),
     "report": lambda: report(out, sys.argv[3:])}[sys.argv[1]]()
    print(f"{len(os.listdir(out))} seeds in {out}")


main()

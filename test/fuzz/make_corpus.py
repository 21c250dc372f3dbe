#!/usr/bin/python3
"""Builds the fuzz seed corpus from captures: one seed per distinct (opcode, length class)
frame, plus seeds of 8 consecutive RoCE frames, in the fuzz target's format
(2-byte little-endian length + frame). usage: test/fuzz/make_corpus.py OUTDIR CAPTURE..."""
import os
import struct
import sys

# run by hand: find the shared package (scripts/python/weftkit) from this file's place in the tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts", "python"))
from weftkit import pcap  # noqa: E402


def record(frame):
    return struct.pack("<H", len(frame)) + frame


out = sys.argv[1]
os.makedirs(out, exist_ok=True)
seen = set()
for cap in sys.argv[2:]:
    name = os.path.splitext(os.path.basename(cap))[0]
    run = []
    for i, fr in enumerate(pcap.frames(cap)):
        key = (fr[42] if len(fr) > 42 else None, len(fr) // 512, len(fr) < 64)
        if key not in seen:
            seen.add(key)
            with open(os.path.join(out, f"{name}-{i}.bin"), "wb") as f:
                f.write(record(fr))
        if len(run) < 8 and i >= 16:
            run.append(fr)
    with open(os.path.join(out, f"{name}-train.bin"), "wb") as f:
        f.write(b"".join(record(fr) for fr in run))
print(f"{len(os.listdir(out))} seeds in {out}")

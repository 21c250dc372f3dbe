#!/usr/bin/python3
"""Replays a pcap's frames out of an interface through an AF_PACKET socket, in order,
as fast as the socket takes them or at --rate frames per second (the live half of
weft-gen's scenarios). Prints how many frames it sent.
usage: scripts/pcap-send.py [--rate FPS] [--times FILE] IFACE FILE.pcap"""
import argparse
import os
import socket
import sys
import time

# run by hand and by scripts/softroce/run: find the shared package beside this script
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "python"))
from weftkit import pcap  # noqa: E402


parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
parser.add_argument("--rate", type=float, default=0, help="frames per second (0: as fast as possible)")
parser.add_argument("--times", help="write each frame's send time (CLOCK_MONOTONIC ns), one per line, here")
parser.add_argument("iface")
parser.add_argument("pcap")
args = parser.parse_args()
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind((args.iface, 0))
n = 0
sent_at = []
start = time.monotonic()
for frame in pcap.frames(args.pcap):
    if args.rate > 0:
        # pace against the start, so sleeps do not accumulate error
        delay = start + n / args.rate - time.monotonic()
        if delay > 0:
            time.sleep(delay)
    s.send(frame)
    if args.times:
        sent_at.append(time.clock_gettime_ns(time.CLOCK_MONOTONIC))
    n += 1
if args.times:
    with open(args.times, "w") as f:
        f.write("".join(f"{t}\n" for t in sent_at))
print(n)

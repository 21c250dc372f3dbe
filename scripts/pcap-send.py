#!/usr/bin/python3
"""Replays a pcap's frames out of an interface through an AF_PACKET socket, in order and
as fast as the socket takes them (the live half of weft-gen's scenarios).
usage: scripts/pcap-send.py IFACE FILE.pcap   (prints how many frames it sent)"""
import socket
import struct
import sys


def frames(path):
    with open(path, "rb") as f:
        head = f.read(24)
        magic = struct.unpack("<I", head[:4])[0]
        endian = "<" if magic in (0xA1B2C3D4, 0xA1B23C4D) else ">"
        while True:
            rec = f.read(16)
            if len(rec) < 16:
                return
            _, _, incl, _ = struct.unpack(endian + "IIII", rec)
            yield f.read(incl)


iface, path = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind((iface, 0))
n = 0
for frame in frames(path):
    s.send(frame)
    n += 1
print(n)

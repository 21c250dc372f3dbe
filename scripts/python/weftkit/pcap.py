"""Classic pcap files (not pcapng), the one reader and writer of Weft's Python code.

Both byte orders and both timestamp resolutions are read: weft-gen writes little-endian
nanosecond files, tcpdump and the SoftRoCE fixtures microsecond ones, and a capture made
on a big-endian machine swaps every header field. Timestamps come back in nanoseconds
whatever the file holds, so callers never look at the magic themselves."""
import struct
from typing import Iterable, Iterator, NamedTuple, Union

MAGIC_MICRO = 0xA1B2C3D4
MAGIC_NANO = 0xA1B23C4D
LINKTYPE_ETHERNET = 1
_GLOBAL_HEADER = 24
_RECORD_HEADER = 16


class Header(NamedTuple):
    byte_order: str  # struct's "<" or ">"
    nanosecond: bool
    snaplen: int
    linktype: int


class Record(NamedTuple):
    ts_ns: int      # capture time, nanoseconds since the epoch
    orig_len: int   # the frame's length on the wire (data may be shorter: snaplen)
    data: bytes


def parse_header(head: bytes) -> Header:
    """The global header's fields; ValueError for anything that is not a classic pcap."""
    if len(head) < _GLOBAL_HEADER:
        raise ValueError(f"not a pcap: {len(head)}-byte file header, need {_GLOBAL_HEADER}")
    for order in ("<", ">"):
        magic = struct.unpack(order + "I", head[:4])[0]
        if magic in (MAGIC_MICRO, MAGIC_NANO):
            _, _, _, _, snaplen, linktype = struct.unpack(order + "HHiIII", head[4:24])
            return Header(order, magic == MAGIC_NANO, snaplen, linktype)
    raise ValueError(f"not a classic pcap (magic {head[:4].hex()}; pcapng is not read here)")


def header(path) -> Header:
    with open(path, "rb") as f:
        return parse_header(f.read(_GLOBAL_HEADER))


def records(path) -> Iterator[Record]:
    """Every record of the file, in order. A record cut short by the end of the file is
    an error (ValueError naming the offset), not a silently shorter frame: a test that
    compared such a frame would fail for the wrong reason, and a replay would send it."""
    with open(path, "rb") as f:
        h = parse_header(f.read(_GLOBAL_HEADER))
        scale = 1 if h.nanosecond else 1000
        offset = _GLOBAL_HEADER
        while rec := f.read(_RECORD_HEADER):
            if len(rec) < _RECORD_HEADER:
                raise ValueError(f"{path}: record header cut short at offset {offset}")
            sec, frac, incl, orig = struct.unpack(h.byte_order + "IIII", rec)
            data = f.read(incl)
            if len(data) < incl:
                raise ValueError(f"{path}: record at offset {offset} holds {len(data)} of {incl} bytes")
            yield Record(sec * 1_000_000_000 + frac * scale, orig, data)
            offset += _RECORD_HEADER + incl


def frames(path) -> Iterator[bytes]:
    """The frames' bytes alone, in order."""
    return (r.data for r in records(path))


def write(path, items: Iterable[Union[bytes, Record]], *, nanosecond=True, byte_order="<",
          snaplen=262144, linktype=LINKTYPE_ETHERNET, step_ns=1000):
    """Writes frames (bytes, stamped step_ns apart from time 0) or Records (their own
    times and original lengths) as a classic pcap. Returns the number of records."""
    scale = 1 if nanosecond else 1000
    n = 0
    with open(path, "wb") as f:
        f.write(struct.pack(byte_order + "IHHiIII", MAGIC_NANO if nanosecond else MAGIC_MICRO,
                            2, 4, 0, 0, snaplen, linktype))
        for item in items:
            rec = item if isinstance(item, Record) else Record(n * step_ns, len(item), item)
            sec, ns = divmod(rec.ts_ns, 1_000_000_000)
            f.write(struct.pack(byte_order + "IIII", sec, ns // scale, len(rec.data), rec.orig_len))
            f.write(rec.data)
            n += 1
    return n

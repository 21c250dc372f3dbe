"""Wireshark's InfiniBand dissector (tshark) as an oracle for Weft's per-QP counts: the
same capture through tshark and through `weftctl analyze --json` must give the same QP
flows, packets, bytes and opcodes.

Frames tshark dissects but that are not well-formed RoCEv2 (weft-gen's malformed
scenario's lies) are excluded by rules written here from the IBA specification,
independently of Weft's parser; the number excluded must equal Weft's malformed total.
Used by test/oracle/tshark_oracle_test.py and test/e2e/softroce_test.py."""
import collections
import json
import subprocess

# ---- independent statement of the IBA opcode table (vol. 1 rel. 1.5) -----------------
OPS = {0: "SEND_FIRST", 1: "SEND_MIDDLE", 2: "SEND_LAST", 3: "SEND_LAST_WITH_IMMEDIATE",
       4: "SEND_ONLY", 5: "SEND_ONLY_WITH_IMMEDIATE", 6: "RDMA_WRITE_FIRST",
       7: "RDMA_WRITE_MIDDLE", 8: "RDMA_WRITE_LAST", 9: "RDMA_WRITE_LAST_WITH_IMMEDIATE",
       10: "RDMA_WRITE_ONLY", 11: "RDMA_WRITE_ONLY_WITH_IMMEDIATE", 12: "RDMA_READ_REQUEST",
       13: "RDMA_READ_RESPONSE_FIRST", 14: "RDMA_READ_RESPONSE_MIDDLE",
       15: "RDMA_READ_RESPONSE_LAST", 16: "RDMA_READ_RESPONSE_ONLY", 17: "ACKNOWLEDGE",
       18: "ATOMIC_ACKNOWLEDGE", 19: "COMPARE_SWAP", 20: "FETCH_ADD", 21: "RESYNC",
       22: "SEND_LAST_WITH_INVALIDATE", 23: "SEND_ONLY_WITH_INVALIDATE", 28: "FLUSH",
       29: "ATOMIC_WRITE"}
VALID_LOW = {"RC": set(range(0, 21)) | {22, 23, 28, 29}, "UC": set(range(0, 12)),
             "RD": set(range(0, 22)), "UD": {4, 5}, "XRC": set(range(0, 21)) | {22, 23}}
PREFIX = {0: "RC", 1: "UC", 2: "RD", 3: "UD", 5: "XRC"}
# extension header bytes after the BTH, by low five bits, for RC
EXT = {0: 0, 1: 0, 2: 0, 3: 4, 4: 0, 5: 4, 6: 16, 7: 0, 8: 0, 9: 4, 10: 16, 11: 20, 12: 16,
       13: 4, 14: 0, 15: 4, 16: 4, 17: 4, 18: 12, 19: 28, 20: 28, 21: 0, 22: 4, 23: 4,
       28: 20, 29: 16}
NO_PAYLOAD = {12, 17, 18, 19, 20, 21, 28}
RESPONSES = {13, 14, 15, 16, 17, 18}


def opcode_name(op):
    if op == 0x81:
        return "CNP"
    t = PREFIX.get(op >> 5)
    if t is None or (op & 31) not in VALID_LOW[t]:
        return None
    return t + "_" + OPS[op & 31]


def ext_bytes(op):
    if op == 0x81:
        return 16
    t, low = PREFIX[op >> 5], op & 31
    n = EXT[low]
    request = low not in RESPONSES
    if t == "RD":
        n += 4 + (8 if request else 0)
    elif t == "UD":
        n += 8
    elif t == "XRC" and request:
        n += 4
    return n


def well_formed(op, tver, pad, udp_len, ip_payload_len, ip_fits):
    """True when the frame is RoCEv2 as the IBA spec defines it."""
    if opcode_name(op) is None or tver != 0 or not ip_fits or udp_len != ip_payload_len:
        return False
    body = udp_len - 8 - 12 - 4 - ext_bytes(op)  # payload + pad
    if body < 0:
        return False
    no_payload = op == 0x81 or (op & 31) in NO_PAYLOAD
    if no_payload:
        return body == 0 and pad == 0
    return body % 4 == 0 and pad <= body


FIELDS = ["ip.src", "ipv6.src", "ip.dst", "ipv6.dst", "infiniband.bth.destqp",
          "infiniband.bth.opcode", "frame.len", "udp.length", "infiniband.bth.tver",
          "ip.len", "ip.hdr_len", "ipv6.plen", "udp.dstport", "vlan.id", "infiniband.bth.padcnt"]


def tshark_flows(capture):
    cmd = ["tshark", "-r", capture, "-d", "udp.port==4791,infiniband", "--disable-protocol",
           "rpcordma", "-T", "fields", "-E", "separator=;", "-E", "occurrence=a",
           "-E", "aggregator=,"]
    for f in FIELDS:
        cmd += ["-e", f]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    flows = collections.defaultdict(lambda: {"packets": 0, "bytes": 0, "opcodes": collections.Counter()})
    excluded = 0
    for line in out.splitlines():
        v = dict(zip(FIELDS, line.split(";")))
        if v["udp.dstport"].split(",")[0] != "4791":
            continue
        if not v["infiniband.bth.opcode"] or not v["infiniband.bth.destqp"]:
            excluded += 1  # tshark could not even find a BTH
            continue
        op = int(v["infiniband.bth.opcode"].split(",")[0])
        frame_len = int(v["frame.len"])
        vlans = len(v["vlan.id"].split(",")) if v["vlan.id"] else 0
        l2 = 14 + 4 * vlans
        if v["ip.src"]:
            src, dst = v["ip.src"], v["ip.dst"]
            ip_len, hdr = int(v["ip.len"]), int(v["ip.hdr_len"])
            ip_fits, ip_payload = l2 + ip_len <= frame_len, ip_len - hdr
        else:
            src, dst = v["ipv6.src"], v["ipv6.dst"]
            plen = int(v["ipv6.plen"])
            ip_fits, ip_payload = l2 + 40 + plen <= frame_len, plen
        tver = int(v["infiniband.bth.tver"] or 0)
        pad = int(v["infiniband.bth.padcnt"] or 0)
        if not well_formed(op, tver, pad, int(v["udp.length"].split(",")[0]), ip_payload, ip_fits):
            excluded += 1
            continue
        key = (src, dst, int(v["infiniband.bth.destqp"], 16))
        f = flows[key]
        f["packets"] += 1
        f["bytes"] += frame_len
        f["opcodes"][opcode_name(op)] += 1
    return flows, excluded


def weft_flows(weftctl, capture):
    out = subprocess.run([weftctl, "analyze", "--json", "--all", "-q", capture], check=True,
                         capture_output=True, text=True).stdout
    doc = json.loads(out)
    flows = {}
    for f in doc["flows"]:
        flows[(f["src"], f["dst"], f["dqpn"])] = {
            "packets": f["packets"], "bytes": f["bytes"], "opcodes": collections.Counter(f["opcodes"])}
    return flows, doc


def compare(weftctl, capture):
    """Every disagreement between tshark (with the IBA rules) and weftctl analyze on the
    capture, one line each; empty when they agree."""
    failures = []
    theirs, excluded = tshark_flows(capture)
    ours, doc = weft_flows(weftctl, capture)
    failures += flow_set_differences(theirs, ours)
    failures += count_differences(theirs, ours)
    if excluded != doc["totals"]["malformed"]:
        failures.append(f"malformed: excluded by the IBA rules {excluded}, weft counted {doc['totals']['malformed']}")
    if doc["totals"]["icrc_errors"] != 0:
        failures.append(f"{doc['totals']['icrc_errors']} ICRC errors in a capture that has none")
    return failures


def flow_set_differences(theirs, ours):
    if set(theirs) == set(ours):
        return []
    only_t = sorted(set(theirs) - set(ours))[:5]
    only_w = sorted(set(ours) - set(theirs))[:5]
    return [f"flow sets differ: only in tshark {only_t}, only in weft {only_w}"]


def count_differences(theirs, ours):
    """Per QP present in both: packets, bytes and opcodes that differ."""
    out = []
    for key in sorted(set(theirs) & set(ours)):
        t, w = theirs[key], ours[key]
        for field in ("packets", "bytes", "opcodes"):
            if t[field] != w[field]:
                out.append(f"{key} {field}: tshark {t[field]} weft {w[field]}")
    return out

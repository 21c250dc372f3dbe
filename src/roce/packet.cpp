#include "weft/roce/packet.hpp"

#include <algorithm>

namespace weft::roce {

std::string_view to_string(Verdict v) {
    switch (v) {
#define WEFT_X(id, name, text) \
    case Verdict::id:          \
        return name;
        WEFT_ROCE_VERDICTS(WEFT_X)
#undef WEFT_X
    }
    return "unknown";
}

std::string_view describe(Verdict v) {
    switch (v) {
#define WEFT_X(id, name, text) \
    case Verdict::id:          \
        return text;
        WEFT_ROCE_VERDICTS(WEFT_X)
#undef WEFT_X
    }
    return "unknown verdict";
}

uint32_t Packet::wire_icrc() const {
    return load_le32(frame.data() + icrc_offset);
}

namespace {

// Decodes the extension headers `op` names, in wire order, starting at p.
void decode_ext_headers(const uint8_t* p, uint16_t headers, Packet& out) {
    if (headers & kRdeth) {
        out.rdeth_ee_context = decode_reserved8_value24(p);
        p += 4;
    }
    if (headers & kDeth) {
        out.deth = Deth::decode(p);
        p += 8;
    }
    if (headers & kXrceth) {
        out.xrc_srq = decode_reserved8_value24(p);
        p += 4;
    }
    if (headers & kFeth) p += 4;
    if (headers & kReth) {
        out.reth = Reth::decode(p);
        p += 16;
    }
    if (headers & kAtomicEth) {
        out.atomic_eth = AtomicEth::decode(p);
        p += 28;
    }
    if (headers & kAeth) {
        out.aeth = Aeth::decode(p);
        p += 4;
    }
    if (headers & kAtomicAckEth) {
        out.atomic_ack_data = load_be64(p);
        p += 8;
    }
    if (headers & kImmDt) {
        out.immediate = load_be32(p);
        p += 4;
    }
    if (headers & kIeth) out.invalidate_rkey = load_be32(p);
}

}  // namespace

namespace {

// The common case on a RoCE fabric: untagged Ethernet, IPv4 without options and not a
// fragment, UDP to 4791, BTH version 0 with a known opcode, lengths consistent. Checked
// with a handful of loads and decoded straight into `out`; true when it applies. Any
// frame it declines goes through the general walk below, which gives the precise verdict,
// so the fast path can only accept what the general path would accept, with the same view
// (the parser tests compare both paths on every opcode, encapsulation and edit).
constexpr size_t kFastL3 = kEthHeaderSize;
constexpr size_t kFastL4 = kFastL3 + kIpv4MinHeaderSize;
constexpr size_t kFastBth = kFastL4 + kUdpHeaderSize;
constexpr size_t kFastMin = kFastBth + kBthSize + kIcrcSize;

inline bool parse_fast(const uint8_t* f, size_t n, Packet& out) {
    if (n < kFastMin) return false;
    const uint8_t* ip = f + kFastL3;
    // ethertype IPv4, version 4 + IHL 5, protocol UDP, no fragment bits, destination 4791
    if (load_be16(f + 12) != kEtherTypeIpv4 || ip[0] != 0x45 || ip[9] != kIpProtoUdp ||
        (load_be16(ip + 6) & 0x3fff) != 0 || load_be16(f + kFastL4 + 2) != kRoceV2Port)
        return false;
    const size_t total = load_be16(ip + 2);
    const size_t ip_end = kFastL3 + total;
    if (ip_end > n || ip_end < kFastMin || load_be16(f + kFastL4 + 4) != total - kIpv4MinHeaderSize)
        return false;
    const uint8_t* bth = f + kFastBth;
    const OpcodeInfo& info = opcode_info(bth[0]);
    if (!info.valid || (bth[1] & 0x0f) != 0) return false;
    const size_t payload_at = kFastBth + kBthSize + info.header_bytes;
    const size_t icrc_at = ip_end - kIcrcSize;
    if (payload_at > icrc_at) return false;
    const size_t padded = icrc_at - payload_at;
    const uint8_t pad = (bth[1] >> 4) & 3;
    if (info.payload ? (padded % 4 != 0 || pad > padded) : (padded != 0 || pad != 0)) return false;

    out.l3_offset = uint16_t(kFastL3);
    out.l4_offset = uint16_t(kFastL4);
    out.bth_offset = uint16_t(kFastBth);
    out.payload_offset = uint16_t(payload_at);
    out.icrc_offset = uint16_t(icrc_at);
    out.payload_length = uint16_t(padded - pad);
    out.vlan_count = 0;
    out.ip_version = IpVersion::V4;
    out.dscp = ip[1] >> 2;
    out.ecn = ip[1] & 3;
    out.src = IpAddress::from_v4(ip + 12);
    out.dst = IpAddress::from_v4(ip + 16);
    out.src_port = load_be16(f + kFastL4);
    out.dst_port = kRoceV2Port;
    out.bth.decode_from(bth);
    out.op = &info;
    if (info.headers) decode_ext_headers(bth + kBthSize, info.headers, out);
    return true;
}

}  // namespace

Verdict parse(std::span<const uint8_t> frame, Packet& out) {
    out.frame = frame;
    if (parse_fast(frame.data(), std::min<size_t>(frame.size(), 0xffff), out)) return Verdict::Ok;
    return parse_general(frame, out);
}

Verdict parse_general(std::span<const uint8_t> frame, Packet& out) {
    // Reset only what every path may read; decoded extension headers are meaningful
    // only when op->headers names them (zeroing the whole view costs more than parsing).
    out.frame = frame;
    out.l3_offset = out.l4_offset = out.bth_offset = out.payload_offset = 0;
    out.icrc_offset = out.payload_length = 0;
    out.vlan_count = 0;
    out.ip_version = IpVersion::None;
    out.ecn = out.dscp = 0;
    out.src_port = out.dst_port = 0;
    out.op = nullptr;
    const uint8_t* const f = frame.data();
    // Frames longer than 64 KiB cannot be expressed by IP lengths; the offsets are 16-bit.
    const size_t n = frame.size() > 0xffff ? 0xffff : frame.size();

    // ---- Ethernet and VLAN tags
    if (n < kEthHeaderSize) return Verdict::EthTruncated;
    size_t off = 12;
    uint16_t ethertype = load_be16(f + off);
    off += 2;
    while (ethertype == kEtherTypeVlan || ethertype == kEtherTypeQinQ) {
        if (out.vlan_count == kMaxVlanTags) return Verdict::VlanTooDeep;
        if (n < off + kVlanTagSize) return Verdict::VlanTruncated;
        out.vlan_ids[out.vlan_count++] = load_be16(f + off) & 0x0fff;
        ethertype = load_be16(f + off + 2);
        off += kVlanTagSize;
    }
    out.l3_offset = uint16_t(off);

    // ---- IPv4 / IPv6: `ip_end` is where the IP datagram ends (Ethernet pad follows)
    size_t ip_end = 0;
    uint8_t protocol = 0;
    if (ethertype == kEtherTypeIpv4) {
        if (n < off + kIpv4MinHeaderSize) return Verdict::Ipv4Truncated;
        const uint8_t* ip = f + off;
        if ((ip[0] >> 4) != 4) return Verdict::Ipv4BadHeader;
        size_t ihl = size_t(ip[0] & 0x0f) * 4;
        if (ihl < kIpv4MinHeaderSize) return Verdict::Ipv4BadHeader;
        if (n < off + ihl) return Verdict::Ipv4Truncated;
        size_t total = load_be16(ip + 2);
        out.ip_version = IpVersion::V4;
        out.dscp = ip[1] >> 2;
        out.ecn = ip[1] & 3;
        out.src = IpAddress::from_v4(ip + 12);
        out.dst = IpAddress::from_v4(ip + 16);
        protocol = ip[9];
        if (total < ihl || off + total > n) return Verdict::Ipv4BadTotalLength;
        uint16_t frag = load_be16(ip + 6);
        bool more_fragments = frag & 0x2000;
        uint16_t frag_offset = frag & 0x1fff;
        off += ihl;
        ip_end = (off - ihl) + total;
        if (frag_offset != 0) return Verdict::NotRoce;  // a later fragment: no UDP header
        if (more_fragments && protocol == kIpProtoUdp && ip_end >= off + kUdpHeaderSize &&
            load_be16(f + off + 2) == kRoceV2Port)
            return Verdict::Ipv4Fragment;
    } else if (ethertype == kEtherTypeIpv6) {
        if (n < off + kIpv6HeaderSize) return Verdict::Ipv6Truncated;
        const uint8_t* ip = f + off;
        if ((ip[0] >> 4) != 6) return Verdict::Ipv6BadHeader;
        uint8_t traffic_class = uint8_t((ip[0] & 0x0f) << 4 | ip[1] >> 4);
        out.ip_version = IpVersion::V6;
        out.dscp = traffic_class >> 2;
        out.ecn = traffic_class & 3;
        out.src = IpAddress::from_v6(ip + 8);
        out.dst = IpAddress::from_v6(ip + 24);
        protocol = ip[6];  // extension headers are not RoCEv2's: treated as not RoCE
        size_t payload = load_be16(ip + 4);
        off += kIpv6HeaderSize;
        if (off + payload > n) return Verdict::Ipv6BadPayloadLength;
        ip_end = off + payload;
    } else {
        return Verdict::NotRoce;
    }
    out.l4_offset = uint16_t(off);
    if (protocol != kIpProtoUdp) return Verdict::NotRoce;

    // ---- UDP
    if (ip_end < off + kUdpHeaderSize) {
        // Too short to tell the port: a RoCE monitor cannot call it RoCE, but it is
        // still a broken UDP datagram worth counting.
        return Verdict::UdpTruncated;
    }
    out.src_port = load_be16(f + off);
    out.dst_port = load_be16(f + off + 2);
    if (out.dst_port != kRoceV2Port) return Verdict::NotRoce;
    size_t udp_length = load_be16(f + off + 4);
    if (udp_length != ip_end - off) return Verdict::UdpBadLength;
    off += kUdpHeaderSize;

    // ---- BTH
    out.bth_offset = uint16_t(off);
    if (ip_end < off + kBthSize + kIcrcSize) return Verdict::BthTruncated;
    out.bth.decode_from(f + off);
    if (out.bth.tver != 0) return Verdict::BthBadVersion;
    const OpcodeInfo& info = opcode_info(out.bth.opcode);
    if (!info.valid) return Verdict::OpcodeReserved;
    out.op = &info;
    off += kBthSize;

    // ---- extension headers, payload, pad, ICRC
    const size_t icrc_at = ip_end - kIcrcSize;
    if (off + info.header_bytes > icrc_at) return Verdict::ExtHeaderTruncated;
    decode_ext_headers(f + off, info.headers, out);
    off += info.header_bytes;
    out.payload_offset = uint16_t(off);
    out.icrc_offset = uint16_t(icrc_at);
    size_t padded = icrc_at - off;  // payload + pad
    if (!info.payload) {
        if (padded != 0 || out.bth.pad_count != 0) return Verdict::PayloadInconsistent;
    } else {
        // IBA pads every payload to a multiple of four bytes.
        if (padded % 4 != 0 || out.bth.pad_count > padded) return Verdict::PayloadInconsistent;
    }
    out.payload_length = uint16_t(padded - out.bth.pad_count);
    return Verdict::Ok;
}

}  // namespace weft::roce

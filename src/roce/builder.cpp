#include "weft/roce/builder.hpp"

#include <cstring>

#include "weft/roce/icrc.hpp"
#include "weft/roce/opcode.hpp"
#include "weft/roce/packet.hpp"

namespace weft::roce {

namespace {

constexpr size_t kEthMinFrame = 60;  // without FCS

size_t l3_size(const FrameSpec& s) {
    return s.src.is_v4() ? kIpv4MinHeaderSize : kIpv6HeaderSize;
}

// UDP payload size: BTH + extension headers + payload + pad + ICRC.
size_t roce_size(const FrameSpec& s, const OpcodeInfo& info) {
    size_t payload = info.payload ? s.payload_length : 0;
    size_t pad = (4 - payload % 4) % 4;
    return kBthSize + info.header_bytes + payload + pad + kIcrcSize;
}

// A deterministic, position-dependent pattern (cheap, and corruption shows up).
void fill_payload(uint8_t* p, size_t n, uint32_t seed) {
    uint32_t x = seed * 2654435761u + 0x9e3779b9u;
    for (size_t i = 0; i < n; ++i) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        p[i] = uint8_t(x);
    }
}

uint8_t* encode_ext_headers(const FrameSpec& s, uint16_t headers, uint8_t* p) {
    if (headers & kRdeth) encode_reserved8_value24(p, s.rdeth_ee_context), p += 4;
    if (headers & kDeth) s.deth.encode(p), p += 8;
    if (headers & kXrceth) encode_reserved8_value24(p, s.xrc_srq), p += 4;
    if (headers & kFeth) store_be32(p, s.feth), p += 4;
    if (headers & kReth) s.reth.encode(p), p += 16;
    if (headers & kAtomicEth) s.atomic_eth.encode(p), p += 28;
    if (headers & kAeth) s.aeth.encode(p), p += 4;
    if (headers & kAtomicAckEth) store_be64(p, s.atomic_ack_data), p += 8;
    if (headers & kImmDt) store_be32(p, s.immediate), p += 4;
    if (headers & kIeth) store_be32(p, s.invalidate_rkey), p += 4;
    if (headers & kCnpPad) std::memset(p, 0, 16), p += 16;
    return p;
}

}  // namespace

size_t frame_size(const FrameSpec& s) {
    const OpcodeInfo& info = opcode_info(s.bth.opcode);
    size_t n = kEthHeaderSize + s.vlan_count * kVlanTagSize + l3_size(s) + kUdpHeaderSize +
               roce_size(s, info);
    return n < kEthMinFrame ? kEthMinFrame : n;
}

size_t build_frame(const FrameSpec& s, std::span<uint8_t> out) {
    const OpcodeInfo& info = opcode_info(s.bth.opcode);
    if (!info.valid || s.vlan_count > kMaxVlanTags) return 0;
    if (!info.payload && s.payload_length != 0) return 0;
    if (s.src.is_v4() != s.dst.is_v4()) return 0;
    const size_t total = frame_size(s);
    if (out.size() < total || total > 0xffff) return 0;
    uint8_t* f = out.data();
    std::memset(f, 0, total);

    // Ethernet + tags
    std::memcpy(f, s.dst_mac.bytes.data(), 6);
    std::memcpy(f + 6, s.src_mac.bytes.data(), 6);
    size_t off = 12;
    for (unsigned i = 0; i < s.vlan_count; ++i) {
        bool outer_of_two = s.vlan_count == 2 && i == 0;
        store_be16(f + off, outer_of_two ? kEtherTypeQinQ : kEtherTypeVlan);
        store_be16(f + off + 2, s.vlan_ids[i] & 0x0fff);
        off += 4;
    }
    const bool v4 = s.src.is_v4();
    store_be16(f + off, v4 ? kEtherTypeIpv4 : kEtherTypeIpv6);
    off += 2;

    // IP + UDP
    const size_t udp_len = kUdpHeaderSize + roce_size(s, info);
    const uint8_t tclass = uint8_t(s.dscp << 2 | (s.ecn & 3));
    if (v4) {
        encode_ipv4_header(f + off, tclass, uint16_t(kIpv4MinHeaderSize + udp_len), s.ip_id, s.ttl,
                           kIpProtoUdp, s.src.bytes.data() + 12, s.dst.bytes.data() + 12);
        off += kIpv4MinHeaderSize;
    } else {
        encode_ipv6_header(f + off, tclass, s.flow_label, uint16_t(udp_len), kIpProtoUdp, s.ttl,
                           s.src.bytes.data(), s.dst.bytes.data());
        off += kIpv6HeaderSize;
    }
    // UDP checksum 0, as RoCE NICs and rxe send (the ICRC protects the packet).
    encode_udp_header(f + off, s.src_port, s.dst_port, uint16_t(udp_len), 0);
    off += kUdpHeaderSize;

    // BTH + extension headers + payload + pad
    Bth bth = s.bth;
    size_t payload = info.payload ? s.payload_length : 0;
    bth.pad_count = uint8_t((4 - payload % 4) % 4);
    bth.encode(f + off);
    uint8_t* p = encode_ext_headers(s, info.headers, f + off + kBthSize);
    fill_payload(p, payload, s.payload_seed);

    // ICRC through the parser's own view of the frame, so writer and reader agree.
    Packet view;
    std::span<const uint8_t> frame(f, total);
    if (s.dst_port != kRoceV2Port) return total;  // non-RoCE UDP: no ICRC to write
    if (parse(frame, view) != Verdict::Ok) return 0;
    icrc_write(f, view);
    return total;
}

}  // namespace weft::roce

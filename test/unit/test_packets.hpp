// Shared helpers of the unit tests: frames built through the project's one writer
// (roce::build_frame), a few hand edits of length fields for malformed packets, an
// independent reference ICRC (zlib over one masked copy), and feeding frames to a
// flow::Table. Everything a test checks is written in the test itself.
#pragma once

#include <gtest/gtest.h>
#include <zlib.h>

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "weft/flow/table.hpp"
#include "weft/roce/builder.hpp"
#include "weft/roce/bytes.hpp"
#include "weft/roce/icrc.hpp"
#include "weft/roce/packet.hpp"

namespace weft::test {

using Bytes = std::vector<uint8_t>;

enum class Family { V4, V6 };

inline roce::IpAddress ip(std::string_view text) {
    auto a = roce::IpAddress::parse(text);
    if (!a) ADD_FAILURE() << "bad address literal in a test: " << text;
    return a.value_or(roce::IpAddress{});
}

// A spec for `opcode` with every field a test does not care about set to a plausible
// value: 10.0.0.1 -> 10.0.0.2 (or fd00::1 -> fd00::2), QP 0x11, PSN 0x100.
inline roce::FrameSpec spec_for(uint8_t opcode, uint32_t payload_length = 0,
                                Family family = Family::V4, uint8_t vlans = 0) {
    roce::FrameSpec s;
    s.src_mac.bytes = {0x02, 0x00, 0x00, 0x00, 0x00, 0x01};
    s.dst_mac.bytes = {0x02, 0x00, 0x00, 0x00, 0x00, 0x02};
    s.vlan_count = vlans;
    s.vlan_ids = {100, 200};
    s.src = family == Family::V4 ? ip("10.0.0.1") : ip("fd00::1");
    s.dst = family == Family::V4 ? ip("10.0.0.2") : ip("fd00::2");
    s.bth.opcode = opcode;
    s.bth.dest_qp = 0x11;
    s.bth.psn = 0x100;
    s.payload_length = payload_length;
    s.payload_seed = opcode * 131u + payload_length;
    return s;
}

// The frame roce::build_frame writes for `s`; a refusal fails the test and yields {}.
inline Bytes build(const roce::FrameSpec& s) {
    Bytes out(roce::frame_size(s));
    const size_t n = roce::build_frame(s, out);
    EXPECT_EQ(n, out.size()) << "build_frame refused opcode 0x" << std::hex << int(s.bth.opcode);
    out.resize(n);
    return out;
}

inline void refresh_ipv4_checksum(Bytes& f, size_t l3) {
    uint8_t* ip = f.data() + l3;
    const size_t ihl = size_t(ip[0] & 0x0f) * 4;
    roce::store_be16(ip + 10, 0);
    roce::store_be16(ip + 10, roce::ipv4_header_checksum(ip, ihl));
}

// Rewrites the IP and UDP length fields so the IP datagram ends at `ip_end` (IPv4: and
// the header checksum). The IP version and header length are read from the frame.
inline void set_ip_udp_lengths(Bytes& f, size_t l3, size_t ip_end) {
    uint8_t* ip = f.data() + l3;
    size_t l4;
    if ((ip[0] >> 4) == 4) {
        l4 = l3 + size_t(ip[0] & 0x0f) * 4;
        roce::store_be16(ip + 2, uint16_t(ip_end - l3));
        refresh_ipv4_checksum(f, l3);
    } else {
        l4 = l3 + roce::kIpv6HeaderSize;
        roce::store_be16(ip + 4, uint16_t(ip_end - l4));
    }
    roce::store_be16(f.data() + l4 + 4, uint16_t(ip_end - l4));
}

// Inserts `delta` bytes of `fill` just before the ICRC of a well-formed frame (or removes
// -delta bytes there) and keeps the IP and UDP lengths consistent with the new size.
inline Bytes resize_before_icrc(const Bytes& f, long delta, uint8_t fill = 0) {
    roce::Packet p;
    EXPECT_EQ(roce::parse(f, p), roce::Verdict::Ok);
    Bytes out(f.begin(), f.begin() + p.icrc_offset + (delta < 0 ? delta : 0));
    if (delta > 0) out.insert(out.end(), size_t(delta), fill);
    out.insert(out.end(), f.begin() + p.icrc_offset, f.end());
    set_ip_udp_lengths(out, p.l3_offset, size_t(long(p.roce_end()) + delta));
    return out;
}

// The same IPv4 frame with `options` (a multiple of 4 bytes, at most 40) after the fixed
// header: IHL, total length and header checksum updated; the ICRC is NOT rewritten.
inline Bytes with_ipv4_options(const Bytes& f, size_t l3, const Bytes& options) {
    Bytes out(f.begin(), f.begin() + long(l3 + roce::kIpv4MinHeaderSize));
    out.insert(out.end(), options.begin(), options.end());
    out.insert(out.end(), f.begin() + long(l3 + roce::kIpv4MinHeaderSize), f.end());
    uint8_t* ip = out.data() + l3;
    ip[0] = uint8_t(0x40 | (5 + options.size() / 4));
    roce::store_be16(ip + 2, uint16_t(roce::load_be16(ip + 2) + options.size()));
    refresh_ipv4_checksum(out, l3);
    return out;
}

// The ICRC the slow, obvious way: one copy of LRH-ones + IP .. end of payload, the
// variant fields set to ones, zlib's crc32 over it. The IP version, header length and
// the end of the covered range are read from the frame, not from a parsed Packet.
inline uint32_t reference_icrc(const Bytes& f, size_t l3, size_t icrc_offset) {
    Bytes c(8, 0xff);
    c.insert(c.end(), f.begin() + long(l3), f.begin() + long(icrc_offset));
    uint8_t* ip = c.data() + 8;
    size_t ip_len;
    if ((ip[0] >> 4) == 4) {
        ip_len = size_t(ip[0] & 0x0f) * 4;
        ip[1] = 0xff;            // TOS
        ip[8] = 0xff;            // TTL
        ip[10] = ip[11] = 0xff;  // header checksum
    } else {
        ip_len = 40;
        ip[0] |= 0x0f;         // traffic class, high nibble
        ip[1] = 0xff;          // traffic class low nibble + flow label high nibble
        ip[2] = ip[3] = 0xff;  // flow label
        ip[7] = 0xff;          // hop limit
    }
    uint8_t* udp = ip + ip_len;
    udp[6] = udp[7] = 0xff;  // UDP checksum
    udp[8 + 4] = 0xff;       // BTH resv8a
    return uint32_t(::crc32(0, c.data(), uInt(c.size())));
}

// Builds the frame for `s`, parses it and accounts it to `table`; returns the record
// index touch() gave (kNoIndex when refused).
inline uint32_t touch(flow::Table& table, const roce::FrameSpec& s, uint64_t now_ns,
                      bool icrc_ok = true) {
    const Bytes f = build(s);
    roce::Packet p;
    EXPECT_EQ(roce::parse(f, p), roce::Verdict::Ok);
    if (p.op == nullptr) return flow::kNoIndex;
    return table.touch(p, uint32_t(f.size()), now_ns, icrc_ok).index;
}

// One packet of a flow src -> dst to `dest_qp`: the common shape of the flow tests.
inline roce::FrameSpec flow_packet(std::string_view src, std::string_view dst, uint32_t dest_qp,
                                   uint8_t opcode, uint32_t psn, uint32_t payload_length = 0) {
    roce::FrameSpec s = spec_for(opcode, payload_length);
    s.src = ip(src);
    s.dst = ip(dst);
    s.bth.dest_qp = dest_qp;
    s.bth.psn = psn;
    return s;
}

}  // namespace weft::test

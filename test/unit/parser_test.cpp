// The parser (and the builder that feeds it): every valid opcode in every encapsulation
// parses back to the fields it was built with; every malformed verdict is produced by
// the fault it names; non-RoCE traffic passes as NotRoce; no prefix of a frame parses
// Ok or reads past its end (the frames are copied into exactly-sized buffers so ASan
// sees any overread); Ethernet padding and IPv4 options are handled.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "test_packets.hpp"
#include "weft/roce/builder.hpp"
#include "weft/roce/icrc.hpp"
#include "weft/roce/opcode.hpp"
#include "weft/roce/packet.hpp"

namespace weft::roce {
namespace {

using test::build;
using test::Bytes;
using test::Family;
using test::spec_for;

Verdict parse_bytes(const Bytes& f, Packet& p) {
    return parse(std::span<const uint8_t>(f), p);
}
Verdict parse_bytes(const Bytes& f) {
    Packet p;
    return parse_bytes(f, p);
}

std::string verdict_name(Verdict v) {
    return std::string(to_string(v));
}

// ---- every valid opcode, every encapsulation -------------------------------------------

std::vector<uint8_t> valid_opcodes(bool with_payload_only = false) {
    std::vector<uint8_t> out;
    for (int op = 0; op < 256; ++op) {
        const OpcodeInfo& info = opcode_info(uint8_t(op));
        if (info.valid && (info.payload || !with_payload_only)) out.push_back(uint8_t(op));
    }
    return out;
}

std::string opcode_param_name(const testing::TestParamInfo<uint8_t>& info) {
    return std::string(opcode_info(info.param).name);
}

// A spec whose every field holds a value derived from the case, so a field decoded from
// the wrong offset shows.
FrameSpec rich_spec(uint8_t op, uint32_t payload, Family family, uint8_t vlans) {
    FrameSpec s = spec_for(op, payload, family, vlans);
    s.vlan_ids = {uint16_t(0x123 + op), uint16_t(0xabc - op)};
    s.dscp = 46;
    s.ecn = 1;
    s.ttl = 33;
    s.ip_id = uint16_t(0x4242 + op);
    s.flow_label = 0x12345;
    s.src_port = uint16_t(0xc000 + op);
    s.bth.solicited = op & 1;
    s.bth.migreq = op & 2;
    s.bth.pkey = uint16_t(0x8000 | op);
    s.bth.resv8a = 0;
    s.bth.dest_qp = 0xab0000u | op;
    s.bth.ack_request = op & 4;
    s.bth.psn = 0x123400u + op;
    s.reth = {0x1000000000ull + op, 0xdead0000u | op, 4096u + op};
    s.aeth = {uint8_t(op & 0x1f), 0x654321};
    s.atomic_eth = {0x2000000000ull + op, 0xbeef0000u | op, 0x1111111111111111ull * (op & 7),
                    0xfedcba9876543210ull ^ op};
    s.deth = {0x80000000u | op, 0x00beefu};
    s.atomic_ack_data = 0x0123456789abcdefull ^ op;
    s.immediate = 0xcafe0000u | op;
    s.invalidate_rkey = 0xabcd0000u | op;
    s.rdeth_ee_context = 0x0e0e0eu;
    s.xrc_srq = 0x0c0c0cu;
    s.feth = 0x00000001u;
    return s;
}

// Builds the frame for `s`, parses it and checks every offset and decoded field.
void check_round_trip(const FrameSpec& s) {
    const OpcodeInfo& info = opcode_info(s.bth.opcode);
    const Bytes f = build(s);
    ASSERT_FALSE(f.empty());
    Packet p;
    ASSERT_EQ(verdict_name(parse_bytes(f, p)), "ok");
    const bool v4 = s.src.is_v4();
    const size_t l3 = 14 + 4u * s.vlan_count;
    const size_t l4 = l3 + (v4 ? 20 : 40);
    const size_t bth = l4 + 8;
    const size_t payload = info.payload ? s.payload_length : 0;
    const size_t pad = (4 - payload % 4) % 4;
    const size_t payload_at = bth + 12 + info.header_bytes;
    const size_t icrc_at = payload_at + payload + pad;

    EXPECT_EQ(p.frame.data(), f.data());
    EXPECT_EQ(p.frame.size(), f.size());
    EXPECT_EQ(f.size(), std::max<size_t>(60, icrc_at + 4));
    EXPECT_EQ(p.l3_offset, l3);
    EXPECT_EQ(p.l4_offset, l4);
    EXPECT_EQ(p.bth_offset, bth);
    EXPECT_EQ(p.payload_offset, payload_at);
    EXPECT_EQ(p.payload_length, payload);
    EXPECT_EQ(p.bth.pad_count, pad);
    EXPECT_EQ(p.icrc_offset, icrc_at);
    EXPECT_EQ(p.roce_end(), icrc_at + 4);

    EXPECT_EQ(p.vlan_count, s.vlan_count);
    for (unsigned i = 0; i < s.vlan_count; ++i) EXPECT_EQ(p.vlan_ids[i], s.vlan_ids[i]);
    EXPECT_EQ(p.ip_version, v4 ? IpVersion::V4 : IpVersion::V6);
    EXPECT_EQ(p.dscp, s.dscp);
    EXPECT_EQ(p.ecn, s.ecn);
    EXPECT_EQ(p.src, s.src);
    EXPECT_EQ(p.dst, s.dst);
    EXPECT_EQ(p.src_port, s.src_port);
    EXPECT_EQ(p.dst_port, kRoceV2Port);

    EXPECT_EQ(p.op, &info);
    EXPECT_EQ(p.bth.opcode, s.bth.opcode);
    EXPECT_EQ(p.bth.solicited, s.bth.solicited);
    EXPECT_EQ(p.bth.migreq, s.bth.migreq);
    EXPECT_EQ(p.bth.tver, 0);
    EXPECT_EQ(p.bth.pkey, s.bth.pkey);
    EXPECT_EQ(p.bth.dest_qp, s.bth.dest_qp);
    EXPECT_EQ(p.bth.ack_request, s.bth.ack_request);
    EXPECT_EQ(p.bth.psn, s.bth.psn);

    EXPECT_EQ(p.has(kRdeth), bool(info.headers & kRdeth));
    if (info.headers & kRdeth) {
        EXPECT_EQ(p.rdeth_ee_context, s.rdeth_ee_context);
    }
    if (info.headers & kDeth) {
        EXPECT_EQ(p.deth.qkey, s.deth.qkey);
        EXPECT_EQ(p.deth.src_qp, s.deth.src_qp);
    }
    if (info.headers & kXrceth) {
        EXPECT_EQ(p.xrc_srq, s.xrc_srq);
    }
    if (info.headers & kReth) {
        EXPECT_EQ(p.reth.virtual_address, s.reth.virtual_address);
        EXPECT_EQ(p.reth.rkey, s.reth.rkey);
        EXPECT_EQ(p.reth.dma_length, s.reth.dma_length);
    }
    if (info.headers & kAtomicEth) {
        EXPECT_EQ(p.atomic_eth.virtual_address, s.atomic_eth.virtual_address);
        EXPECT_EQ(p.atomic_eth.rkey, s.atomic_eth.rkey);
        EXPECT_EQ(p.atomic_eth.swap_add, s.atomic_eth.swap_add);
        EXPECT_EQ(p.atomic_eth.compare, s.atomic_eth.compare);
    }
    if (info.headers & kAeth) {
        EXPECT_EQ(p.aeth.syndrome, s.aeth.syndrome);
        EXPECT_EQ(p.aeth.msn, s.aeth.msn);
    }
    if (info.headers & kAtomicAckEth) {
        EXPECT_EQ(p.atomic_ack_data, s.atomic_ack_data);
    }
    if (info.headers & kImmDt) {
        EXPECT_EQ(p.immediate, s.immediate);
    }
    if (info.headers & kIeth) {
        EXPECT_EQ(p.invalidate_rkey, s.invalidate_rkey);
    }
    if (info.headers & kFeth) {
        EXPECT_EQ(load_be32(f.data() + bth + 12), s.feth);
    }
    if (info.headers & kCnpPad) {
        EXPECT_TRUE(std::all_of(f.begin() + long(bth + 12), f.begin() + long(bth + 28),
                                [](uint8_t b) { return b == 0; }));
    }

    EXPECT_TRUE(icrc_valid(p));
    EXPECT_EQ(p.wire_icrc(), test::reference_icrc(f, l3, icrc_at));
}

class EveryOpcode : public testing::TestWithParam<uint8_t> {};

TEST_P(EveryOpcode, BuildsAndParsesBackInEveryEncapsulation) {
    const uint8_t op = GetParam();
    const bool has_payload = opcode_info(op).payload;
    std::vector<uint32_t> lengths = {0};
    if (has_payload) lengths = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 1024};
    for (Family family : {Family::V4, Family::V6}) {
        for (uint8_t vlans = 0; vlans <= 2; ++vlans) {
            for (uint32_t len : lengths) {
                SCOPED_TRACE(testing::Message() << (family == Family::V4 ? "IPv4" : "IPv6") << ", "
                                                << int(vlans) << " VLAN tags, payload " << len);
                check_round_trip(rich_spec(op, len, family, vlans));
                if (HasFailure()) return;
            }
        }
    }
}

INSTANTIATE_TEST_SUITE_P(Parser, EveryOpcode, testing::ValuesIn(valid_opcodes()),
                         opcode_param_name);

class EveryPayloadOpcode : public testing::TestWithParam<uint8_t> {};

TEST_P(EveryPayloadOpcode, PayloadSitsExactlyWhereTheParserSaysItDoes) {
    const uint8_t op = GetParam();
    for (uint32_t len : {1u, 4u, 7u, 64u}) {
        // Two frames that differ only in their payload pattern differ only in the payload
        // bytes and the ICRC.
        FrameSpec a = rich_spec(op, len, Family::V4, 1), b = a;
        b.payload_seed = a.payload_seed + 1;
        const Bytes fa = build(a), fb = build(b);
        ASSERT_EQ(fa.size(), fb.size());
        Packet p;
        ASSERT_EQ(parse_bytes(fa, p), Verdict::Ok);
        size_t differing_in_payload = 0;
        for (size_t i = 0; i < fa.size(); ++i) {
            if (fa[i] == fb[i]) continue;
            const bool in_payload =
                i >= p.payload_offset && i < p.payload_offset + p.payload_length;
            const bool in_icrc = i >= p.icrc_offset && i < p.roce_end();
            EXPECT_TRUE(in_payload || in_icrc)
                << "byte " << i << " differs, payload length " << len;
            differing_in_payload += in_payload;
        }
        EXPECT_GT(differing_in_payload, 0u) << "payload length " << len;
        // The pad bytes are zero.
        for (size_t i = p.payload_offset + p.payload_length; i < p.icrc_offset; ++i)
            EXPECT_EQ(fa[i], 0) << "pad byte " << i;
    }
}

INSTANTIATE_TEST_SUITE_P(Parser, EveryPayloadOpcode, testing::ValuesIn(valid_opcodes(true)),
                         opcode_param_name);

// ---- the builder's own contract -----------------------------------------------------------

TEST(Builder, RefusesImpossibleSpecs) {
    Bytes out(4096);
    FrameSpec s = spec_for(opcode::kRcSendOnly, 8);
    EXPECT_GT(build_frame(s, out), 0u);

    FrameSpec reserved = spec_for(0x15);
    EXPECT_EQ(build_frame(reserved, out), 0u) << "reserved opcode";
    FrameSpec ack_with_payload = spec_for(opcode::kRcAcknowledge, 4);
    EXPECT_EQ(build_frame(ack_with_payload, out), 0u) << "payload on ACK";
    FrameSpec mixed = spec_for(opcode::kRcSendOnly, 8);
    mixed.dst = test::ip("fd00::2");
    EXPECT_EQ(build_frame(mixed, out), 0u) << "IPv4 source, IPv6 destination";
    FrameSpec three_tags = spec_for(opcode::kRcSendOnly, 8);
    three_tags.vlan_count = 3;
    EXPECT_EQ(build_frame(three_tags, out), 0u) << "three VLAN tags";
    FrameSpec bad_version = spec_for(opcode::kRcSendOnly, 8);
    bad_version.bth.tver = 1;
    EXPECT_EQ(build_frame(bad_version, out), 0u) << "transport version 1";
    FrameSpec too_big = spec_for(opcode::kRcSendOnly, 70000);
    EXPECT_EQ(build_frame(too_big, out), 0u) << "larger than 64 KiB";
    Bytes small(frame_size(s) - 1);
    EXPECT_EQ(build_frame(s, small), 0u) << "output one byte too small";
}

TEST(Builder, FrameLayoutBytes) {
    FrameSpec s = spec_for(opcode::kRcSendOnly, 5, Family::V4, 0);
    s.ip_id = 0x1234;
    s.ttl = 7;
    s.dscp = 26;
    s.ecn = 2;
    s.src_port = 0xc001;
    s.bth.pad_count = 0;  // the builder computes the pad itself
    const Bytes f = build(s);
    ASSERT_EQ(f.size(), 14u + 20 + 8 + 12 + 8 + 4);
    EXPECT_TRUE(std::equal(s.dst_mac.bytes.begin(), s.dst_mac.bytes.end(), f.begin()));
    EXPECT_TRUE(std::equal(s.src_mac.bytes.begin(), s.src_mac.bytes.end(), f.begin() + 6));
    EXPECT_EQ(load_be16(&f[12]), kEtherTypeIpv4);
    const uint8_t* ip = &f[14];
    EXPECT_EQ(ip[0], 0x45);
    EXPECT_EQ(ip[1], 26 << 2 | 2);
    EXPECT_EQ(load_be16(ip + 2), 20 + 8 + 12 + 8 + 4);
    EXPECT_EQ(load_be16(ip + 4), 0x1234);
    EXPECT_EQ(load_be16(ip + 6), 0x4000);  // DF, offset 0
    EXPECT_EQ(ip[8], 7);
    EXPECT_EQ(ip[9], kIpProtoUdp);
    EXPECT_EQ(ipv4_header_checksum(ip, 20), 0) << "header checksum must verify";
    const uint8_t* udp = &f[34];
    EXPECT_EQ(load_be16(udp), 0xc001);
    EXPECT_EQ(load_be16(udp + 2), 4791);
    EXPECT_EQ(load_be16(udp + 4), 8 + 12 + 8 + 4);
    EXPECT_EQ(load_be16(udp + 6), 0) << "RoCE sends UDP checksum 0";
    EXPECT_EQ(f[42 + 1] >> 4 & 3, 3) << "5 payload bytes need 3 pad bytes";
}

TEST(Builder, VlanTagsAndIpv6Layout) {
    FrameSpec s = spec_for(opcode::kRcSendOnly, 8, Family::V6, 2);
    s.vlan_ids = {0x0fff, 0x0001};
    s.flow_label = 0xabcde;
    s.dscp = 0;
    s.ecn = 3;
    s.ttl = 9;
    const Bytes f = build(s);
    EXPECT_EQ(load_be16(&f[12]), kEtherTypeQinQ) << "outer of two tags is 802.1ad";
    EXPECT_EQ(load_be16(&f[14]), 0x0fff);
    EXPECT_EQ(load_be16(&f[16]), kEtherTypeVlan) << "inner tag is 802.1Q";
    EXPECT_EQ(load_be16(&f[18]), 0x0001);
    EXPECT_EQ(load_be16(&f[20]), kEtherTypeIpv6);
    const uint8_t* ip = &f[22];
    EXPECT_EQ(load_be32(ip), 0x603abcdeu) << std::hex << load_be32(ip);  // 6, TC 0x03, label
    EXPECT_EQ(load_be16(ip + 4), 8 + 12 + 8 + 4);
    EXPECT_EQ(ip[6], kIpProtoUdp);
    EXPECT_EQ(ip[7], 9);

    FrameSpec one = spec_for(opcode::kRcSendOnly, 8, Family::V4, 1);
    const Bytes g = build(one);
    EXPECT_EQ(load_be16(&g[12]), kEtherTypeVlan) << "a single tag is 802.1Q";
    EXPECT_EQ(load_be16(&g[16]), kEtherTypeIpv4);
}

TEST(Builder, PadsShortFramesToTheEthernetMinimum) {
    // RC SEND ONLY without payload over IPv4 is 58 bytes; the builder pads it to 60.
    const FrameSpec s = spec_for(opcode::kRcSendOnly, 0);
    EXPECT_EQ(frame_size(s), 60u);
    const Bytes f = build(s);
    ASSERT_EQ(f.size(), 60u);
    Packet p;
    ASSERT_EQ(parse_bytes(f, p), Verdict::Ok);
    EXPECT_EQ(p.roce_end(), 58u);
    EXPECT_EQ(f[58], 0);
    EXPECT_EQ(f[59], 0);
}

TEST(Builder, OtherUdpPortGivesNotRoce) {
    FrameSpec s = spec_for(opcode::kRcSendOnly, 8);
    s.dst_port = 4792;
    const Bytes f = build(s);
    ASSERT_FALSE(f.empty());
    Packet p;
    EXPECT_EQ(parse_bytes(f, p), Verdict::NotRoce);
    EXPECT_EQ(p.dst_port, 4792);
    EXPECT_EQ(p.src_port, s.src_port);
    EXPECT_EQ(p.src, s.src);
    EXPECT_EQ(p.dst, s.dst);
}

// ---- verdict names ----------------------------------------------------------------------

TEST(Verdicts, StableNamesAndDescriptions) {
    const std::vector<std::pair<Verdict, std::string>> names = {
        {Verdict::Ok, "ok"},
        {Verdict::NotRoce, "not_roce"},
        {Verdict::EthTruncated, "eth_truncated"},
        {Verdict::VlanTruncated, "vlan_truncated"},
        {Verdict::VlanTooDeep, "vlan_too_deep"},
        {Verdict::Ipv4Truncated, "ipv4_truncated"},
        {Verdict::Ipv4BadHeader, "ipv4_bad_header"},
        {Verdict::Ipv4BadTotalLength, "ipv4_bad_total_length"},
        {Verdict::Ipv4Fragment, "ipv4_fragment"},
        {Verdict::Ipv6Truncated, "ipv6_truncated"},
        {Verdict::Ipv6BadHeader, "ipv6_bad_header"},
        {Verdict::Ipv6BadPayloadLength, "ipv6_bad_payload_length"},
        {Verdict::UdpTruncated, "udp_truncated"},
        {Verdict::UdpBadLength, "udp_bad_length"},
        {Verdict::BthTruncated, "bth_truncated"},
        {Verdict::BthBadVersion, "bth_bad_version"},
        {Verdict::OpcodeReserved, "opcode_reserved"},
        {Verdict::ExtHeaderTruncated, "ext_header_truncated"},
        {Verdict::PayloadInconsistent, "payload_inconsistent"},
    };
    ASSERT_EQ(names.size(), kVerdictCount);
    for (size_t i = 0; i < names.size(); ++i) {
        EXPECT_EQ(size_t(names[i].first), i);
        EXPECT_EQ(to_string(names[i].first), names[i].second);
        EXPECT_FALSE(describe(names[i].first).empty());
        EXPECT_EQ(is_malformed(names[i].first), i >= 2) << names[i].second;
    }
}

// ---- malformed frames, one verdict at a time ------------------------------------------------

// A plain IPv4 RC SEND ONLY with 8 payload bytes: l3 14, l4 34, BTH 42, payload 54,
// ICRC 62, 66 bytes in all.
Bytes base_v4() {
    return build(spec_for(opcode::kRcSendOnly, 8));
}
Bytes base_v6() {
    return build(spec_for(opcode::kRcSendOnly, 8, Family::V6));
}
Bytes prefix(const Bytes& f, size_t n) {
    return Bytes(f.begin(), f.begin() + long(n));
}

TEST(Malformed, EthTruncated) {
    const Bytes f = base_v4();
    for (size_t n = 0; n < 14; ++n)
        EXPECT_EQ(verdict_name(parse_bytes(prefix(f, n))), "eth_truncated") << n;
}

TEST(Malformed, VlanTruncated) {
    const Bytes one = build(spec_for(opcode::kRcSendOnly, 8, Family::V4, 1));
    for (size_t n = 14; n < 18; ++n)
        EXPECT_EQ(verdict_name(parse_bytes(prefix(one, n))), "vlan_truncated") << n;
    const Bytes two = build(spec_for(opcode::kRcSendOnly, 8, Family::V4, 2));
    for (size_t n = 18; n < 22; ++n)
        EXPECT_EQ(verdict_name(parse_bytes(prefix(two, n))), "vlan_truncated") << n;
}

TEST(Malformed, VlanTooDeep) {
    Bytes f = build(spec_for(opcode::kRcSendOnly, 8, Family::V4, 2));
    const uint8_t tag[4] = {0x81, 0x00, 0x00, 0x07};
    f.insert(f.begin() + 12, tag, tag + 4);  // a third tag in front of the two
    Packet p;
    EXPECT_EQ(verdict_name(parse_bytes(f, p)), "vlan_too_deep");
    EXPECT_EQ(p.vlan_count, 2);

    // Three 802.1Q tags on an untagged frame.
    Bytes g = base_v4();
    for (int i = 0; i < 3; ++i) g.insert(g.begin() + 12, tag, tag + 4);
    EXPECT_EQ(verdict_name(parse_bytes(g)), "vlan_too_deep");

    // Two 802.1Q tags (no 802.1ad outer) are fine.
    Bytes h = base_v4();
    for (int i = 0; i < 2; ++i) h.insert(h.begin() + 12, tag, tag + 4);
    EXPECT_EQ(verdict_name(parse_bytes(h, p)), "ok");
    EXPECT_EQ(p.vlan_count, 2);
    EXPECT_EQ(p.vlan_ids[0], 7);
    EXPECT_TRUE(icrc_valid(p)) << "the L2 header is not covered by the ICRC";
}

TEST(Malformed, VlanIdIgnoresPriorityBits) {
    Bytes f = build(spec_for(opcode::kRcSendOnly, 8, Family::V4, 1));
    store_be16(&f[14], 0xe000 | 0x07b);  // PCP 7, DEI 0, VID 0x07b
    Packet p;
    ASSERT_EQ(parse_bytes(f, p), Verdict::Ok);
    EXPECT_EQ(p.vlan_ids[0], 0x07b);
}

TEST(Malformed, Ipv4Truncated) {
    const Bytes f = base_v4();
    for (size_t n = 14; n < 34; ++n)
        EXPECT_EQ(verdict_name(parse_bytes(prefix(f, n))), "ipv4_truncated") << n;
    // IHL 6: the frame ends inside the options.
    const Bytes opt = test::with_ipv4_options(f, 14, {1, 1, 1, 1});
    for (size_t n = 34; n < 38; ++n)
        EXPECT_EQ(verdict_name(parse_bytes(prefix(opt, n))), "ipv4_truncated") << n;
}

TEST(Malformed, Ipv4BadHeader) {
    for (uint8_t first : {0x44, 0x40, 0x43, 0x55, 0x65, 0x05, 0xf5}) {
        Bytes f = base_v4();
        f[14] = first;
        EXPECT_EQ(verdict_name(parse_bytes(f)), "ipv4_bad_header") << std::hex << int(first);
    }
}

TEST(Malformed, Ipv4BadTotalLength) {
    const Bytes f = base_v4();  // total length 52
    for (uint16_t total : {53, 100, 0xffff, 19, 0, 1}) {
        Bytes g = f;
        store_be16(&g[16], total);
        test::refresh_ipv4_checksum(g, 14);
        Packet p;
        EXPECT_EQ(verdict_name(parse_bytes(g, p)), "ipv4_bad_total_length") << total;
        EXPECT_EQ(p.src, test::ip("10.0.0.1")) << "addresses are decoded before the fault";
    }
    // With IHL 6 a total length of 23 is shorter than the header.
    Bytes opt = test::with_ipv4_options(f, 14, {1, 1, 1, 1});
    store_be16(&opt[16], 23);
    EXPECT_EQ(verdict_name(parse_bytes(opt)), "ipv4_bad_total_length");
}

TEST(Malformed, Ipv4Fragment) {
    for (uint16_t flags : {0x2000, 0x6000}) {  // MF, MF+DF; offset 0
        Bytes f = base_v4();
        store_be16(&f[20], flags);
        test::refresh_ipv4_checksum(f, 14);
        EXPECT_EQ(verdict_name(parse_bytes(f)), "ipv4_fragment") << std::hex << flags;
    }
    // A first fragment of other UDP traffic is not RoCE's business.
    FrameSpec s = spec_for(opcode::kRcSendOnly, 8);
    s.dst_port = 53;
    Bytes other = build(s);
    store_be16(&other[20], 0x2000);
    EXPECT_EQ(verdict_name(parse_bytes(other)), "not_roce");
}

TEST(Malformed, Ipv6Truncated) {
    const Bytes f = base_v6();
    for (size_t n = 14; n < 54; ++n)
        EXPECT_EQ(verdict_name(parse_bytes(prefix(f, n))), "ipv6_truncated") << n;
}

TEST(Malformed, Ipv6BadHeader) {
    for (uint8_t first : {0x40, 0x00, 0x70, 0xf0}) {
        Bytes f = base_v6();
        f[14] = uint8_t(first | (f[14] & 0x0f));
        EXPECT_EQ(verdict_name(parse_bytes(f)), "ipv6_bad_header") << std::hex << int(first);
    }
}

TEST(Malformed, Ipv6BadPayloadLength) {
    const Bytes f = base_v6();  // payload length 32, frame ends right after it
    for (uint16_t len : {33, 100, 0xffff}) {
        Bytes g = f;
        store_be16(&g[18], len);
        Packet p;
        EXPECT_EQ(verdict_name(parse_bytes(g, p)), "ipv6_bad_payload_length") << len;
        EXPECT_EQ(p.dst, test::ip("fd00::2"));
    }
}

TEST(Malformed, UdpTruncated) {
    for (size_t udp_bytes = 0; udp_bytes < 8; ++udp_bytes) {
        Bytes f = base_v4();
        store_be16(&f[16], uint16_t(20 + udp_bytes));
        test::refresh_ipv4_checksum(f, 14);
        EXPECT_EQ(verdict_name(parse_bytes(f)), "udp_truncated") << "IPv4, " << udp_bytes;
        Bytes g = base_v6();
        store_be16(&g[18], uint16_t(udp_bytes));
        EXPECT_EQ(verdict_name(parse_bytes(g)), "udp_truncated") << "IPv6, " << udp_bytes;
    }
}

TEST(Malformed, UdpBadLength) {
    // UDP length 32 is right for both; lie in both directions.
    for (uint16_t len : {36, 33, 0xffff, 28, 31, 8, 7, 0}) {
        Bytes f = base_v4();
        store_be16(&f[38], len);
        EXPECT_EQ(verdict_name(parse_bytes(f)), "udp_bad_length") << "IPv4, " << len;
        Bytes g = base_v6();
        store_be16(&g[58], len);
        EXPECT_EQ(verdict_name(parse_bytes(g)), "udp_bad_length") << "IPv6, " << len;
    }
}

TEST(Malformed, BthTruncated) {
    // BTH + ICRC need 16 bytes of UDP payload.
    for (size_t roce_bytes = 0; roce_bytes < 16; ++roce_bytes) {
        Bytes f = base_v4();
        test::set_ip_udp_lengths(f, 14, 34 + 8 + roce_bytes);
        EXPECT_EQ(verdict_name(parse_bytes(f)), "bth_truncated") << "IPv4, " << roce_bytes;
        Bytes g = base_v6();
        test::set_ip_udp_lengths(g, 14, 54 + 8 + roce_bytes);
        EXPECT_EQ(verdict_name(parse_bytes(g)), "bth_truncated") << "IPv6, " << roce_bytes;
    }
}

TEST(Malformed, BthBadVersion) {
    for (uint8_t tver = 1; tver < 16; ++tver) {
        Bytes f = base_v4();
        f[43] = uint8_t((f[43] & 0xf0) | tver);
        Packet p;
        EXPECT_EQ(verdict_name(parse_bytes(f, p)), "bth_bad_version") << int(tver);
        EXPECT_EQ(p.bth.tver, tver);
        EXPECT_EQ(p.op, nullptr);
    }
}

TEST(Malformed, OpcodeReserved) {
    for (uint8_t op : {0xff, 0x15, 0x80, 0x18, 0x1e, 0x2c, 0x56, 0x60, 0x66, 0x82, 0xb5, 0xc0}) {
        Bytes f = base_v4();
        f[42] = op;
        Packet p;
        EXPECT_EQ(verdict_name(parse_bytes(f, p)), "opcode_reserved") << std::hex << int(op);
        EXPECT_EQ(p.bth.opcode, op);
        EXPECT_EQ(p.op, nullptr);
    }
}

TEST(Malformed, ExtHeaderTruncated) {
    // SEND ONLY with 8 bytes of payload relabelled COMPARE SWAP, which needs 28 bytes.
    Bytes f = base_v4();
    f[42] = opcode::kRcCompareSwap;
    EXPECT_EQ(verdict_name(parse_bytes(f)), "ext_header_truncated");
    // A READ request (16-byte RETH) cut short by 1..16 bytes before its ICRC.
    const Bytes read = build(spec_for(opcode::kRcReadRequest, 0));
    for (long cut = 1; cut <= 16; ++cut)
        EXPECT_EQ(verdict_name(parse_bytes(test::resize_before_icrc(read, -cut))),
                  "ext_header_truncated")
            << cut;
    // A CNP without its 16 reserved bytes, IPv6.
    const Bytes cnp = build(spec_for(opcode::kCnp, 0, Family::V6));
    EXPECT_EQ(verdict_name(parse_bytes(test::resize_before_icrc(cnp, -4))), "ext_header_truncated");
    // UD SEND ONLY whose DETH is cut.
    const Bytes ud = build(spec_for(opcode::kUdSendOnly, 0));
    EXPECT_EQ(verdict_name(parse_bytes(test::resize_before_icrc(ud, -4))), "ext_header_truncated");
}

TEST(Malformed, PayloadInconsistent) {
    const Bytes ack = build(spec_for(opcode::kRcAcknowledge, 0));
    // Payload on an ACK.
    EXPECT_EQ(verdict_name(parse_bytes(test::resize_before_icrc(ack, 4))), "payload_inconsistent");
    // Pad count on an ACK, which has no payload to pad.
    Bytes ack_pad = ack;
    ack_pad[43] |= 0x10;
    EXPECT_EQ(verdict_name(parse_bytes(ack_pad)), "payload_inconsistent");
    // Payload on a READ request.
    const Bytes read = build(spec_for(opcode::kRcReadRequest, 0));
    EXPECT_EQ(verdict_name(parse_bytes(test::resize_before_icrc(read, 8))), "payload_inconsistent");

    // Pad count larger than the padded payload.
    const Bytes empty_send = build(spec_for(opcode::kRcSendOnly, 0));
    for (uint8_t pad = 1; pad <= 3; ++pad) {
        Bytes g = empty_send;
        g[43] = uint8_t((g[43] & 0xcf) | pad << 4);
        EXPECT_EQ(verdict_name(parse_bytes(g)), "payload_inconsistent") << int(pad);
    }
    // Padded payload not a multiple of four.
    for (long extra : {1, 2, 3, 5}) {
        EXPECT_EQ(verdict_name(parse_bytes(test::resize_before_icrc(base_v4(), extra))),
                  "payload_inconsistent")
            << extra;
        EXPECT_EQ(verdict_name(parse_bytes(test::resize_before_icrc(base_v6(), -extra))),
                  "payload_inconsistent")
            << -extra;
    }
}

// ---- not RoCE ---------------------------------------------------------------------------

TEST(NotRoce, Arp) {
    Bytes f(60, 0);
    f[0] = f[1] = f[2] = f[3] = f[4] = f[5] = 0xff;
    store_be16(&f[12], kEtherTypeArp);
    store_be16(&f[14], 1);       // Ethernet
    store_be16(&f[16], 0x0800);  // IPv4
    f[18] = 6;
    f[19] = 4;
    store_be16(&f[20], 1);  // request
    Packet p;
    EXPECT_EQ(verdict_name(parse_bytes(f, p)), "not_roce");
    EXPECT_EQ(p.ip_version, IpVersion::None);
    // Tagged ARP: the tag is still decoded.
    Bytes g = f;
    const uint8_t tag[4] = {0x81, 0x00, 0x00, 0x0a};
    g.insert(g.begin() + 12, tag, tag + 4);
    EXPECT_EQ(verdict_name(parse_bytes(g, p)), "not_roce");
    EXPECT_EQ(p.vlan_count, 1);
    EXPECT_EQ(p.vlan_ids[0], 10);
    // LLDP and anything else that is not IP.
    store_be16(&f[12], 0x88cc);
    EXPECT_EQ(verdict_name(parse_bytes(f)), "not_roce");
}

TEST(NotRoce, TcpToThe4791Port) {
    Bytes f = base_v4();
    f[23] = kIpProtoTcp;  // the TCP "ports" sit where UDP's would
    test::refresh_ipv4_checksum(f, 14);
    Packet p;
    EXPECT_EQ(verdict_name(parse_bytes(f, p)), "not_roce");
    EXPECT_EQ(p.src, test::ip("10.0.0.1"));
    EXPECT_EQ(p.dst, test::ip("10.0.0.2"));
    Bytes g = base_v6();
    g[20] = kIpProtoTcp;
    EXPECT_EQ(verdict_name(parse_bytes(g)), "not_roce");
    // Fragmented TCP is not RoCE either.
    store_be16(&f[20], 0x2000);
    EXPECT_EQ(verdict_name(parse_bytes(f)), "not_roce");
}

TEST(NotRoce, UdpToAnotherPort) {
    for (uint16_t port : {4790, 4792, 53, 0}) {
        Bytes f = base_v4();
        store_be16(&f[36], port);
        EXPECT_EQ(verdict_name(parse_bytes(f)), "not_roce") << port;
        Bytes g = base_v6();
        store_be16(&g[56], port);
        EXPECT_EQ(verdict_name(parse_bytes(g)), "not_roce") << port;
    }
}

TEST(NotRoce, Ipv4NonFirstFragment) {
    for (uint16_t flags : {0x0001, 0x2001, 0x1fff, 0x00b9}) {
        Bytes f = base_v4();
        store_be16(&f[20], flags);
        test::refresh_ipv4_checksum(f, 14);
        EXPECT_EQ(verdict_name(parse_bytes(f)), "not_roce") << std::hex << flags;
    }
}

// ---- truncation at every length ----------------------------------------------------------

std::vector<FrameSpec> sweep_specs() {
    std::vector<FrameSpec> out;
    const uint8_t ops[] = {opcode::kRcSendOnly,
                           opcode::kRcWriteFirst,
                           opcode::kRcAcknowledge,
                           opcode::kRcCompareSwap,
                           opcode::kCnp,
                           opcode::kUdSendOnlyImm,
                           0x4b /* RD WRITE ONLY IMM */,
                           0xb6 /* XRC SEND LAST INV */};
    for (Family family : {Family::V4, Family::V6})
        for (uint8_t vlans = 0; vlans <= 2; ++vlans)
            for (uint8_t op : ops)
                out.push_back(spec_for(op, opcode_info(op).payload ? 13 : 0, family, vlans));
    out.push_back(spec_for(opcode::kRcWriteOnly, 1024));
    out.push_back(spec_for(opcode::kRcSendOnly, 0));  // padded to 60 bytes
    return out;
}

TEST(Truncation, NoPrefixParsesOkOrReadsPastItsEnd) {
    for (const FrameSpec& s : sweep_specs()) {
        const Bytes f = build(s);
        Packet full;
        ASSERT_EQ(parse_bytes(f, full), Verdict::Ok);
        const size_t end = full.roce_end();
        for (size_t n = 0; n < f.size(); ++n) {
            // An exactly-sized heap copy: ASan flags a read of byte n.
            const Bytes cut(f.begin(), f.begin() + long(n));
            Packet p;
            const Verdict v = parse_bytes(cut, p);
            if (n < end) {
                EXPECT_TRUE(is_malformed(v))
                    << "opcode 0x" << std::hex << int(s.bth.opcode) << std::dec << ", " << n
                    << " of " << f.size() << " bytes: " << to_string(v);
            } else {
                // Only Ethernet padding was cut: the IP length still bounds the packet.
                EXPECT_EQ(v, Verdict::Ok) << n;
            }
        }
    }
}

TEST(Truncation, RandomCorruptionNeverBreaksTheParsersPromises) {
    std::mt19937 rng(7);
    const std::vector<FrameSpec> specs = sweep_specs();
    size_t ok = 0;
    for (int iter = 0; iter < 20000; ++iter) {
        Bytes f = build(specs[rng() % specs.size()]);
        const int flips = 1 + int(rng() % 4);
        for (int k = 0; k < flips; ++k)
            f[rng() % std::min<size_t>(f.size(), 80)] ^= uint8_t(1 + rng() % 255);
        if (rng() % 2) f.resize(rng() % (f.size() + 1));
        const Bytes exact(f);  // exactly sized
        Packet p;
        const Verdict v = parse_bytes(exact, p);
        if (v != Verdict::Ok) continue;
        ++ok;
        ASSERT_NE(p.op, nullptr);
        EXPECT_LE(p.l3_offset, p.l4_offset);
        EXPECT_LT(p.l4_offset, p.bth_offset);
        EXPECT_LE(p.bth_offset + kBthSize + p.op->header_bytes, p.payload_offset);
        EXPECT_LE(size_t(p.payload_offset) + p.payload_length, p.icrc_offset);
        EXPECT_LE(p.roce_end(), exact.size());
        (void)icrc_valid(p);  // must stay within the frame, whatever the ICRC says
    }
    EXPECT_GT(ok, 0u);
}

// The views two parses of frame `f` gave (`a` the reference): every field the verdict
// makes meaningful must agree.
void expect_same_view(const Bytes& f, const Packet& a, const Packet& b, Verdict expected) {
    EXPECT_EQ(b.frame.data(), f.data());
    EXPECT_EQ(b.vlan_count, a.vlan_count);
    for (unsigned i = 0; i < a.vlan_count; ++i) EXPECT_EQ(b.vlan_ids[i], a.vlan_ids[i]);
    EXPECT_EQ(b.ip_version, a.ip_version);
    EXPECT_EQ(b.l3_offset, a.l3_offset);
    EXPECT_EQ(b.l4_offset, a.l4_offset);
    EXPECT_EQ(b.src_port, a.src_port);
    EXPECT_EQ(b.dst_port, a.dst_port);
    if (a.ip_version != IpVersion::None) {
        EXPECT_EQ(b.src, a.src);
        EXPECT_EQ(b.dst, a.dst);
        EXPECT_EQ(b.ecn, a.ecn);
        EXPECT_EQ(b.dscp, a.dscp);
    }
    if (expected != Verdict::Ok) {
        if (expected <= Verdict::OpcodeReserved) {
            EXPECT_EQ(b.op, nullptr) << to_string(expected);
        }
        return;
    }
    EXPECT_EQ(b.op, a.op);
    EXPECT_EQ(b.bth_offset, a.bth_offset);
    EXPECT_EQ(b.payload_offset, a.payload_offset);
    EXPECT_EQ(b.payload_length, a.payload_length);
    EXPECT_EQ(b.icrc_offset, a.icrc_offset);
    EXPECT_EQ(b.bth.psn, a.bth.psn);
    EXPECT_EQ(b.bth.dest_qp, a.bth.dest_qp);
    EXPECT_EQ(b.bth.pad_count, a.bth.pad_count);
    EXPECT_EQ(b.bth.opcode, a.bth.opcode);
    EXPECT_EQ(b.bth.solicited, a.bth.solicited);
    EXPECT_EQ(b.bth.migreq, a.bth.migreq);
    EXPECT_EQ(b.bth.tver, a.bth.tver);
    EXPECT_EQ(b.bth.pkey, a.bth.pkey);
    EXPECT_EQ(b.bth.resv8a, a.bth.resv8a);
    EXPECT_EQ(b.bth.ack_request, a.bth.ack_request);
    const uint16_t h = a.op->headers;
    if (h & kReth) {
        EXPECT_EQ(b.reth.dma_length, a.reth.dma_length);
        EXPECT_EQ(b.reth.rkey, a.reth.rkey);
        EXPECT_EQ(b.reth.virtual_address, a.reth.virtual_address);
    }
    if (h & kAeth) {
        EXPECT_EQ(b.aeth.syndrome, a.aeth.syndrome);
        EXPECT_EQ(b.aeth.msn, a.aeth.msn);
    }
    if (h & kDeth) {
        EXPECT_EQ(b.deth.src_qp, a.deth.src_qp);
    }
    if (h & kImmDt) {
        EXPECT_EQ(b.immediate, a.immediate);
    }
    if (h & kXrceth) {
        EXPECT_EQ(b.xrc_srq, a.xrc_srq);
    }
    if (h & kRdeth) {
        EXPECT_EQ(b.rdeth_ee_context, a.rdeth_ee_context);
    }
    EXPECT_EQ(icrc_valid(b), icrc_valid(a));
}

// parse() reuses `out` without clearing it (only what every path reads is reset): a view
// left by an earlier, different frame must not leak into the next one.
TEST(Truncation, ReusedPacketGivesTheSameViewAsAFreshOne) {
    std::mt19937 rng(8);
    std::vector<Bytes> frames;
    for (const FrameSpec& s : sweep_specs()) frames.push_back(build(s));
    for (uint8_t op : valid_opcodes())
        frames.push_back(build(rich_spec(op, opcode_info(op).payload ? 5 : 0, Family::V6, 2)));
    Bytes arp(60, 0);
    store_be16(&arp[12], kEtherTypeArp);
    frames.push_back(arp);
    FrameSpec dns = spec_for(opcode::kRcSendOnly, 8);
    dns.dst_port = 53;
    frames.push_back(build(dns));
    const size_t n = frames.size();
    for (size_t k = 0; k < n; ++k) {  // truncated and corrupted variants too
        Bytes cut = frames[k];
        cut.resize(rng() % cut.size());
        frames.push_back(cut);
        Bytes bad = frames[k];
        bad[rng() % bad.size()] ^= uint8_t(1 + rng() % 255);
        frames.push_back(bad);
    }
    Packet reused;
    for (int iter = 0; iter < 5000; ++iter) {
        const Bytes& f = frames[rng() % frames.size()];
        Packet fresh;
        const Verdict expected = parse_bytes(f, fresh);
        const Verdict got = parse_bytes(f, reused);
        ASSERT_EQ(to_string(got), to_string(expected));
        expect_same_view(f, fresh, reused, expected);
        if (HasFailure()) return;
    }
}

// parse() takes a fast path for the common case (untagged IPv4 without options, UDP 4791,
// a known opcode): it must give exactly the general walk's verdict and view, for frames it
// accepts and for every edit that makes it decline (ethertype, IHL, fragment bits,
// protocol, port, lengths, opcode, version, pad), in every encapsulation.
TEST(FastPath, GivesTheGeneralWalksVerdictAndView) {
    std::mt19937 rng(9);
    std::vector<Bytes> frames;
    for (const FrameSpec& s : sweep_specs()) frames.push_back(build(s));
    for (uint8_t op : valid_opcodes()) {
        frames.push_back(build(rich_spec(op, opcode_info(op).payload ? 5 : 0, Family::V4, 0)));
        frames.push_back(build(rich_spec(op, opcode_info(op).payload ? 8 : 0, Family::V4, 1)));
    }
    // the bytes the fast path reads, each edited in turn
    const size_t fields[] = {12, 13, 14, 15, 16, 17, 20, 21, 23, 36, 37, 38, 39, 42, 43};
    const size_t n = frames.size();
    size_t fast_eligible = 0;
    for (size_t k = 0; k < n; ++k) {
        for (size_t at : fields) {
            if (at >= frames[k].size()) continue;
            Bytes e = frames[k];
            e[at] ^= uint8_t(1u << (rng() % 8));
            frames.push_back(e);
        }
        Bytes cut = frames[k];
        cut.resize(rng() % cut.size());
        frames.push_back(cut);
    }
    for (const Bytes& f : frames) {
        Packet general, fast;
        const Verdict expected = parse_general(f, general);
        const Verdict got = parse(f, fast);
        ASSERT_EQ(to_string(got), to_string(expected)) << testing::PrintToString(f);
        expect_same_view(f, general, fast, expected);
        if (expected == Verdict::Ok && general.vlan_count == 0 &&
            general.ip_version == IpVersion::V4 && general.l4_offset == 34)
            ++fast_eligible;
        if (HasFailure()) return;
    }
    EXPECT_GT(fast_eligible, 100u) << "the fast path must be exercised, not only declined";
}

TEST(Truncation, FramesLongerThan64KiBAreBoundedByTheIpLength) {
    Bytes f = build(spec_for(opcode::kRcWriteOnly, 256));
    const size_t size = f.size();
    f.resize(70000, 0xa5);
    Packet p;
    ASSERT_EQ(parse_bytes(f, p), Verdict::Ok);
    EXPECT_EQ(p.roce_end(), size);
    EXPECT_EQ(p.payload_length, 256);
    EXPECT_TRUE(icrc_valid(p));
}

// ---- Ethernet padding and IPv4 options -------------------------------------------------------

TEST(EthernetPadding, TrailingBytesAfterTheIpDatagramAreIgnored) {
    const Bytes min = build(spec_for(opcode::kRcSendOnly, 0));
    ASSERT_EQ(min.size(), 60u);
    Packet p;
    ASSERT_EQ(parse_bytes(min, p), Verdict::Ok);
    EXPECT_EQ(p.payload_length, 0);
    EXPECT_EQ(p.icrc_offset, 54);
    EXPECT_TRUE(icrc_valid(p));

    for (Family family : {Family::V4, Family::V6}) {
        const Bytes f = build(spec_for(opcode::kRcSendOnly, 6, family, 1));
        Packet a;
        ASSERT_EQ(parse_bytes(f, a), Verdict::Ok);
        Bytes padded = f;
        padded.insert(padded.end(), {0xde, 0xad, 0xbe, 0xef, 0x00, 0x11});  // FCS, junk
        Packet b;
        ASSERT_EQ(parse_bytes(padded, b), Verdict::Ok);
        EXPECT_EQ(b.payload_offset, a.payload_offset);
        EXPECT_EQ(b.payload_length, 6);
        EXPECT_EQ(b.icrc_offset, a.icrc_offset);
        EXPECT_TRUE(icrc_valid(b));
        EXPECT_EQ(b.frame.size(), padded.size());
    }
}

TEST(Ipv4Options, EveryHeaderLengthFrom6To15ParsesAndTheIcrcCoversOptions) {
    for (uint8_t vlans : {0, 2}) {
        const FrameSpec s = spec_for(opcode::kRcWriteFirst, 37, Family::V4, vlans);
        const Bytes plain = build(s);
        Packet base;
        ASSERT_EQ(parse_bytes(plain, base), Verdict::Ok);
        const size_t l3 = base.l3_offset;
        for (uint8_t ihl = 6; ihl <= 15; ++ihl) {
            SCOPED_TRACE(testing::Message() << "IHL " << int(ihl) << ", " << int(vlans) << " tags");
            Bytes options((ihl - 5) * 4u);
            for (size_t i = 0; i < options.size(); ++i) options[i] = uint8_t(0x01 + i * 7);
            Bytes f = test::with_ipv4_options(plain, l3, options);
            Packet p;
            ASSERT_EQ(verdict_name(parse_bytes(f, p)), "ok");
            EXPECT_EQ(p.l4_offset, l3 + ihl * 4u);
            EXPECT_EQ(p.bth_offset, p.l4_offset + 8);
            EXPECT_EQ(p.payload_length, 37);
            EXPECT_EQ(p.reth.dma_length, s.reth.dma_length);
            EXPECT_EQ(p.src_port, s.src_port);
            EXPECT_FALSE(icrc_valid(p)) << "the options are covered: the old ICRC cannot match";
            icrc_write(f.data(), p);
            ASSERT_EQ(parse_bytes(f, p), Verdict::Ok);
            EXPECT_TRUE(icrc_valid(p));
            EXPECT_EQ(p.wire_icrc(), test::reference_icrc(f, l3, p.icrc_offset));
            Bytes flipped = f;
            flipped[l3 + 20] ^= 0x01;  // first option byte
            ASSERT_EQ(parse_bytes(flipped, p), Verdict::Ok);
            EXPECT_FALSE(icrc_valid(p));
        }
    }
}

}  // namespace
}  // namespace weft::roce

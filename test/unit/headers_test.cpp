// Header encode/decode: known byte vectors written by hand from the IBA, IPv4, IPv6 and
// UDP layouts, random round trips, the AETH syndrome classes, the IPv4 header checksum,
// the big-endian byte helpers and the address type the headers carry.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <random>

#include "weft/roce/bytes.hpp"
#include "weft/roce/headers.hpp"
#include "weft/roce/ip_address.hpp"

namespace weft::roce {
namespace {

template <size_t N>
using Raw = std::array<uint8_t, N>;

// ---- bytes.hpp -------------------------------------------------------------------------

TEST(Bytes, BigEndianLoadsAndStores) {
    const Raw<8> b = {0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef};
    EXPECT_EQ(load_be16(b.data()), 0x0123);
    EXPECT_EQ(load_be24(b.data()), 0x012345u);
    EXPECT_EQ(load_be32(b.data()), 0x01234567u);
    EXPECT_EQ(load_be64(b.data()), 0x0123456789abcdefull);
    EXPECT_EQ(load_le32(b.data()), 0x67452301u);

    Raw<8> out{};
    store_be64(out.data(), 0x0123456789abcdefull);
    EXPECT_EQ(out, b);
    out = {};
    store_be32(out.data(), 0x89abcdef);
    EXPECT_EQ(out, (Raw<8>{0x89, 0xab, 0xcd, 0xef, 0, 0, 0, 0}));
    out = {};
    store_be24(out.data(), 0xff123456);  // only the low 24 bits are written
    EXPECT_EQ(out, (Raw<8>{0x12, 0x34, 0x56, 0, 0, 0, 0, 0}));
    out = {};
    store_be16(out.data(), 0xbeef);
    EXPECT_EQ(out, (Raw<8>{0xbe, 0xef, 0, 0, 0, 0, 0, 0}));
    out = {};
    store_le32(out.data(), 0xcbf43926);
    EXPECT_EQ(out, (Raw<8>{0x26, 0x39, 0xf4, 0xcb, 0, 0, 0, 0}));
}

// ---- BTH: opcode, SE|M|Pad(2)|TVer(4), P_Key(16), resv8a, DestQP(24), A|resv7, PSN(24) --

TEST(Bth, EncodesKnownBytes) {
    Bth b;
    b.opcode = 0x0a;
    b.solicited = true;
    b.migreq = false;
    b.pad_count = 2;
    b.tver = 0;
    b.pkey = 0x8001;
    b.resv8a = 0;
    b.dest_qp = 0x123456;
    b.ack_request = true;
    b.psn = 0xabcdef;
    Raw<12> out{};
    b.encode(out.data());
    const Raw<12> expected = {0x0a, 0xa0, 0x80, 0x01, 0x00, 0x12,
                              0x34, 0x56, 0x80, 0xab, 0xcd, 0xef};
    EXPECT_EQ(out, expected);

    b.solicited = false;
    b.migreq = true;
    b.pad_count = 3;
    b.ack_request = false;
    b.resv8a = 0x5a;
    b.encode(out.data());
    const Raw<12> expected2 = {0x0a, 0x70, 0x80, 0x01, 0x5a, 0x12,
                               0x34, 0x56, 0x00, 0xab, 0xcd, 0xef};
    EXPECT_EQ(out, expected2);
}

TEST(Bth, DecodesKnownBytes) {
    const Raw<12> in = {0x11, 0x40, 0xff, 0xff, 0x00, 0x00, 0x00, 0x2a, 0x00, 0x00, 0x10, 0x01};
    Bth b = Bth::decode(in.data());
    EXPECT_EQ(b.opcode, 0x11);
    EXPECT_FALSE(b.solicited);
    EXPECT_TRUE(b.migreq);
    EXPECT_EQ(b.pad_count, 0);
    EXPECT_EQ(b.tver, 0);
    EXPECT_EQ(b.pkey, 0xffff);
    EXPECT_EQ(b.resv8a, 0);
    EXPECT_EQ(b.dest_qp, 0x2au);
    EXPECT_FALSE(b.ack_request);
    EXPECT_EQ(b.psn, 0x1001u);
}

TEST(Bth, DecodesAllOnesAndEncodesReservedBitsAsZero) {
    Raw<12> ones;
    ones.fill(0xff);
    Bth b = Bth::decode(ones.data());
    EXPECT_EQ(b.opcode, 0xff);
    EXPECT_TRUE(b.solicited);
    EXPECT_TRUE(b.migreq);
    EXPECT_EQ(b.pad_count, 3);
    EXPECT_EQ(b.tver, 0xf);
    EXPECT_EQ(b.pkey, 0xffff);
    EXPECT_EQ(b.resv8a, 0xff);
    EXPECT_EQ(b.dest_qp, 0xffffffu);
    EXPECT_TRUE(b.ack_request);
    EXPECT_EQ(b.psn, 0xffffffu);
    Raw<12> out{};
    b.encode(out.data());
    Raw<12> expected = ones;
    expected[8] = 0x80;  // A bit set, the 7 reserved bits after it written as zero
    EXPECT_EQ(out, expected);
}

TEST(Bth, RandomRoundTrips) {
    std::mt19937_64 rng(1);
    for (int i = 0; i < 2000; ++i) {
        const uint64_t r = rng(), s = rng();
        Bth b;
        b.opcode = uint8_t(r);
        b.solicited = r >> 8 & 1;
        b.migreq = r >> 9 & 1;
        b.pad_count = uint8_t(r >> 10 & 3);
        b.tver = uint8_t(r >> 12 & 15);
        b.pkey = uint16_t(r >> 16);
        b.resv8a = uint8_t(r >> 32);
        b.ack_request = r >> 40 & 1;
        b.dest_qp = uint32_t(s & 0xffffff);
        b.psn = uint32_t(s >> 24 & 0xffffff);
        Raw<12> w{};
        b.encode(w.data());
        const Bth d = Bth::decode(w.data());
        EXPECT_EQ(d.opcode, b.opcode);
        EXPECT_EQ(d.solicited, b.solicited);
        EXPECT_EQ(d.migreq, b.migreq);
        EXPECT_EQ(d.pad_count, b.pad_count);
        EXPECT_EQ(d.tver, b.tver);
        EXPECT_EQ(d.pkey, b.pkey);
        EXPECT_EQ(d.resv8a, b.resv8a);
        EXPECT_EQ(d.dest_qp, b.dest_qp);
        EXPECT_EQ(d.ack_request, b.ack_request);
        EXPECT_EQ(d.psn, b.psn);
    }
}

// ---- RETH: VA(64), R_Key(32), DMA length(32) ------------------------------------------

TEST(Reth, KnownBytesAndRoundTrip) {
    const Reth r{0x0123456789abcdefull, 0xdeadbeef, 0x00012000};
    Raw<16> out{};
    r.encode(out.data());
    const Raw<16> expected = {0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef,
                              0xde, 0xad, 0xbe, 0xef, 0x00, 0x01, 0x20, 0x00};
    EXPECT_EQ(out, expected);
    const Reth d = Reth::decode(expected.data());
    EXPECT_EQ(d.virtual_address, r.virtual_address);
    EXPECT_EQ(d.rkey, r.rkey);
    EXPECT_EQ(d.dma_length, r.dma_length);

    std::mt19937_64 rng(2);
    for (int i = 0; i < 1000; ++i) {
        const Reth x{rng(), uint32_t(rng()), uint32_t(rng())};
        Raw<16> w{};
        x.encode(w.data());
        const Reth y = Reth::decode(w.data());
        EXPECT_EQ(y.virtual_address, x.virtual_address);
        EXPECT_EQ(y.rkey, x.rkey);
        EXPECT_EQ(y.dma_length, x.dma_length);
    }
}

// ---- AETH: Syndrome(8), MSN(24) ---------------------------------------------------------

TEST(Aeth, KnownBytesAndRoundTrip) {
    const Aeth a{0x62, 0xabcdef};
    Raw<4> out{};
    a.encode(out.data());
    EXPECT_EQ(out, (Raw<4>{0x62, 0xab, 0xcd, 0xef}));
    const Aeth d = Aeth::decode(out.data());
    EXPECT_EQ(d.syndrome, 0x62);
    EXPECT_EQ(d.msn, 0xabcdefu);
    for (int s = 0; s < 256; ++s) {
        const Aeth x{uint8_t(s), uint32_t(s * 65599) & 0xffffff};
        Raw<4> w{};
        x.encode(w.data());
        EXPECT_EQ(w[0], s);
        EXPECT_EQ(Aeth::decode(w.data()).syndrome, s);
        EXPECT_EQ(Aeth::decode(w.data()).msn, x.msn);
    }
}

AckKind kind_of(uint8_t syndrome) {
    return Aeth{syndrome, 0}.kind();
}

// IBA syndrome: bits 6..5 = 00 ACK, 01 RNR NAK, 10 reserved, 11 NAK (codes 0..4 defined);
// bit 7 is reserved.
AckKind expected_kind(int syndrome) {
    if (syndrome <= 0x1f) return AckKind::Ack;
    if (syndrome <= 0x3f) return AckKind::RnrNak;
    switch (syndrome) {
        case 0x60:
            return AckKind::NakPsnSequenceError;
        case 0x61:
            return AckKind::NakInvalidRequest;
        case 0x62:
            return AckKind::NakRemoteAccessError;
        case 0x63:
            return AckKind::NakRemoteOperationalError;
        case 0x64:
            return AckKind::NakInvalidRdRequest;
        default:
            return AckKind::Reserved;  // 0x40-0x5f, 0x65-0x7f, 0x80-0xff
    }
}

TEST(Aeth, KindOfEverySyndrome) {
    for (int s = 0; s < 256; ++s) {
        SCOPED_TRACE(testing::Message() << "syndrome 0x" << std::hex << s);
        EXPECT_EQ(kind_of(uint8_t(s)), expected_kind(s));
    }
    // The boundaries, spelled out.
    EXPECT_EQ(kind_of(0x00), AckKind::Ack);
    EXPECT_EQ(kind_of(0x1f), AckKind::Ack);
    EXPECT_EQ(kind_of(0x20), AckKind::RnrNak);
    EXPECT_EQ(kind_of(0x3f), AckKind::RnrNak);
    EXPECT_EQ(kind_of(0x40), AckKind::Reserved);
    EXPECT_EQ(kind_of(0x60), AckKind::NakPsnSequenceError);
    EXPECT_EQ(kind_of(0x64), AckKind::NakInvalidRdRequest);
    EXPECT_EQ(kind_of(0x65), AckKind::Reserved);
    EXPECT_EQ(kind_of(0x7f), AckKind::Reserved);
    EXPECT_EQ(kind_of(0x80), AckKind::Reserved);
    EXPECT_EQ(kind_of(0xe0), AckKind::Reserved);  // bit 7 set on a NAK pattern
}

TEST(Aeth, SyndromeForRoundTripsThroughKind) {
    EXPECT_EQ(Aeth::syndrome_for(AckKind::Ack), 0x00);
    EXPECT_EQ(Aeth::syndrome_for(AckKind::Ack, 0x1f), 0x1f);
    EXPECT_EQ(Aeth::syndrome_for(AckKind::Ack, 0xff), 0x1f);
    EXPECT_EQ(Aeth::syndrome_for(AckKind::RnrNak, 0x0e), 0x2e);
    EXPECT_EQ(Aeth::syndrome_for(AckKind::NakPsnSequenceError), 0x60);
    EXPECT_EQ(Aeth::syndrome_for(AckKind::NakInvalidRequest), 0x61);
    EXPECT_EQ(Aeth::syndrome_for(AckKind::NakRemoteAccessError), 0x62);
    EXPECT_EQ(Aeth::syndrome_for(AckKind::NakRemoteOperationalError), 0x63);
    EXPECT_EQ(Aeth::syndrome_for(AckKind::NakInvalidRdRequest), 0x64);
    for (size_t k = 0; k < kAckKindCount; ++k) {
        const AckKind kind = AckKind(k);
        for (uint8_t low = 0; low < 32; ++low)
            EXPECT_EQ(kind_of(Aeth::syndrome_for(kind, low)), kind) << to_string(kind);
    }
}

TEST(Aeth, KindNames) {
    EXPECT_EQ(to_string(AckKind::Ack), "ack");
    EXPECT_EQ(to_string(AckKind::RnrNak), "rnr_nak");
    EXPECT_EQ(to_string(AckKind::NakPsnSequenceError), "psn_sequence_error");
    EXPECT_EQ(to_string(AckKind::NakInvalidRequest), "invalid_request");
    EXPECT_EQ(to_string(AckKind::NakRemoteAccessError), "remote_access_error");
    EXPECT_EQ(to_string(AckKind::NakRemoteOperationalError), "remote_operational_error");
    EXPECT_EQ(to_string(AckKind::NakInvalidRdRequest), "invalid_rd_request");
    EXPECT_EQ(to_string(AckKind::Reserved), "reserved");
    EXPECT_EQ(kAckKindCount, 8u);
}

// ---- AtomicETH: VA(64), R_Key(32), Swap/Add(64), Compare(64) -----------------------------

TEST(AtomicEth, KnownBytesAndRoundTrip) {
    const AtomicEth a{0x1122334455667788ull, 0x99aabbcc, 0x0102030405060708ull,
                      0xf0e0d0c0b0a09080ull};
    Raw<28> out{};
    a.encode(out.data());
    const Raw<28> expected = {0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa,
                              0xbb, 0xcc, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08,
                              0xf0, 0xe0, 0xd0, 0xc0, 0xb0, 0xa0, 0x90, 0x80};
    EXPECT_EQ(out, expected);
    std::mt19937_64 rng(3);
    for (int i = 0; i < 1000; ++i) {
        const AtomicEth x{rng(), uint32_t(rng()), rng(), rng()};
        Raw<28> w{};
        x.encode(w.data());
        const AtomicEth y = AtomicEth::decode(w.data());
        EXPECT_EQ(y.virtual_address, x.virtual_address);
        EXPECT_EQ(y.rkey, x.rkey);
        EXPECT_EQ(y.swap_add, x.swap_add);
        EXPECT_EQ(y.compare, x.compare);
    }
}

// ---- DETH: Q_Key(32), reserved(8), source QP(24) -----------------------------------------

TEST(Deth, KnownBytesAndRoundTrip) {
    const Deth d{0x80010002, 0xabcdef};
    Raw<8> out;
    out.fill(0xee);
    d.encode(out.data());
    EXPECT_EQ(out, (Raw<8>{0x80, 0x01, 0x00, 0x02, 0x00, 0xab, 0xcd, 0xef}));
    Raw<8> with_reserved = out;
    with_reserved[4] = 0xff;  // the reserved byte does not leak into the source QP
    const Deth x = Deth::decode(with_reserved.data());
    EXPECT_EQ(x.qkey, 0x80010002u);
    EXPECT_EQ(x.src_qp, 0xabcdefu);
}

TEST(Rdeth, ReservedByteThenTwentyFourBitValue) {
    Raw<4> out;
    out.fill(0xee);
    encode_reserved8_value24(out.data(), 0x123456);
    EXPECT_EQ(out, (Raw<4>{0x00, 0x12, 0x34, 0x56}));
    out[0] = 0xff;
    EXPECT_EQ(decode_reserved8_value24(out.data()), 0x123456u);
}

// ---- IPv4, IPv6, UDP -----------------------------------------------------------------------

// The classic example: 192.168.0.1 -> 192.168.0.199, UDP, total length 0x73, DF, TTL 64.
constexpr Raw<20> kClassicIpv4 = {0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11,
                                  0xb8, 0x61, 0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7};

TEST(Ipv4, HeaderChecksumOfTheClassicExample) {
    Raw<20> h = kClassicIpv4;
    h[10] = h[11] = 0;
    EXPECT_EQ(ipv4_header_checksum(h.data(), h.size()), 0xb861);
    // Summed with its checksum in place, a correct header yields zero.
    EXPECT_EQ(ipv4_header_checksum(kClassicIpv4.data(), kClassicIpv4.size()), 0);
}

TEST(Ipv4, HeaderChecksumFoldsCarries) {
    Raw<20> ones;
    ones.fill(0xff);
    // 10 * 0xffff = 0x9fff6 -> 0xfff6 + 9 = 0xffff -> complement 0.
    EXPECT_EQ(ipv4_header_checksum(ones.data(), ones.size()), 0x0000);
    Raw<24> options{};  // 24-byte header with options: every 16-bit word counts
    options[0] = 0x46;
    options[22] = 0x12;
    options[23] = 0x34;
    EXPECT_EQ(ipv4_header_checksum(options.data(), options.size()), uint16_t(~(0x4600 + 0x1234)));
}

TEST(Ipv4, EncodesTheClassicExample) {
    const uint8_t src[4] = {192, 168, 0, 1}, dst[4] = {192, 168, 0, 199};
    Raw<20> out;
    out.fill(0xee);
    encode_ipv4_header(out.data(), 0x00, 0x73, 0x0000, 64, kIpProtoUdp, src, dst);
    EXPECT_EQ(out, kClassicIpv4);
}

TEST(Ipv6, EncodesKnownBytes) {
    uint8_t src[16] = {0xfd}, dst[16] = {0xfd};
    src[15] = 1;
    dst[15] = 2;
    Raw<40> out;
    out.fill(0xee);
    // traffic class 0xb9 (DSCP 46, ECN 1), flow label 0xabcde
    encode_ipv6_header(out.data(), 0xb9, 0xabcde, 0x0124, kIpProtoUdp, 64, src, dst);
    const Raw<8> fixed = {0x6b, 0x9a, 0xbc, 0xde, 0x01, 0x24, 0x11, 0x40};
    EXPECT_TRUE(std::equal(fixed.begin(), fixed.end(), out.begin()));
    EXPECT_TRUE(std::equal(src, src + 16, out.begin() + 8));
    EXPECT_TRUE(std::equal(dst, dst + 16, out.begin() + 24));
    // A flow label wider than 20 bits must not spill into the traffic class.
    encode_ipv6_header(out.data(), 0x00, 0xfffffff, 0, kIpProtoUdp, 1, src, dst);
    EXPECT_EQ(out[0], 0x60);
    EXPECT_EQ(out[1], 0x0f);
}

TEST(Udp, EncodesKnownBytes) {
    Raw<8> out;
    out.fill(0xee);
    encode_udp_header(out.data(), 0xc000, kRoceV2Port, 0x0030, 0x0000);
    EXPECT_EQ(out, (Raw<8>{0xc0, 0x00, 0x12, 0xb7, 0x00, 0x30, 0x00, 0x00}));
}

// ---- IpAddress -----------------------------------------------------------------------------

TEST(IpAddress, Ipv4IsKeptMappedAndPrintsDotted) {
    const auto a = IpAddress::parse("10.1.2.3");
    ASSERT_TRUE(a);
    EXPECT_TRUE(a->is_v4());
    EXPECT_EQ(a->v4(), 0x0a010203u);
    EXPECT_EQ(a->to_string(), "10.1.2.3");
    const Raw<16> mapped = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 1, 2, 3};
    EXPECT_EQ(a->bytes, mapped);
    EXPECT_EQ(IpAddress::from_v4(0x0a010203u), *a);
    const uint8_t raw[4] = {10, 1, 2, 3};
    EXPECT_EQ(IpAddress::from_v4(raw), *a);
    EXPECT_EQ(IpAddress::parse("::ffff:10.1.2.3"), a);
}

TEST(IpAddress, Ipv6ParsesAndPrintsCompressed) {
    const auto a = IpAddress::parse("fd00::1");
    ASSERT_TRUE(a);
    EXPECT_FALSE(a->is_v4());
    EXPECT_EQ(a->to_string(), "fd00::1");
    Raw<16> raw{};
    raw[0] = 0xfd;
    raw[15] = 1;
    EXPECT_EQ(IpAddress::from_v6(raw.data()), *a);
    EXPECT_FALSE(IpAddress{}.is_v4());
    EXPECT_EQ(IpAddress{}.to_string(), "::");
}

TEST(IpAddress, RejectsGarbageAndOrdersByBytes) {
    EXPECT_FALSE(IpAddress::parse(""));
    EXPECT_FALSE(IpAddress::parse("10.0.0"));
    EXPECT_FALSE(IpAddress::parse("10.0.0.256"));
    EXPECT_FALSE(IpAddress::parse("fd00::1::2"));
    EXPECT_FALSE(IpAddress::parse("host.example"));
    EXPECT_LT(*IpAddress::parse("10.0.0.1"), *IpAddress::parse("10.0.0.2"));
    EXPECT_LT(*IpAddress::parse("10.0.0.2"), *IpAddress::parse("10.0.1.0"));
    EXPECT_NE(*IpAddress::parse("10.0.0.1"), *IpAddress::parse("fd00::1"));
}

}  // namespace
}  // namespace weft::roce

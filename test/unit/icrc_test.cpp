// The ICRC: the CRC-32 primitive against zlib, the ICRC of every packet of a real
// SoftRoCE (rxe) capture, which bits it covers and which it masks, and the incremental
// update used when the UDP source port is rewritten.
#include <gtest/gtest.h>
#include <zlib.h>

#include <cstdint>
#include <filesystem>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "test_packets.hpp"
#include "weft/capture/pcap_file.hpp"
#include "weft/roce/icrc.hpp"
#include "weft/roce/packet.hpp"

#ifndef WEFT_SAMPLE_CAPTURE
#error "WEFT_SAMPLE_CAPTURE must name the SoftRoCE sample capture (set in test/meson.build)"
#endif

namespace weft::roce {
namespace {

using test::build;
using test::Bytes;
using test::Family;
using test::spec_for;

uint32_t zlib_crc(uint32_t crc, const uint8_t* p, size_t n) {
    return uint32_t(::crc32(crc, p, uInt(n)));
}

// ---- the CRC-32 primitive ----------------------------------------------------------------

TEST(Crc32, CheckValue) {
    const uint8_t digits[] = {'1', '2', '3', '4', '5', '6', '7', '8', '9'};
    EXPECT_EQ(crc32(0, digits, sizeof digits), 0xcbf43926u);
    EXPECT_EQ(crc32(0, nullptr, 0), 0u);
}

TEST(Crc32, EqualsZlibForEveryLengthUpTo5000) {
    std::mt19937 rng(11);
    Bytes buf(5000 + 64);
    for (auto& b : buf) b = uint8_t(rng());
    for (size_t len = 0; len <= 5000; ++len) {
        const uint8_t* p = buf.data() + len % 61;  // unaligned starts too
        ASSERT_EQ(crc32(0, p, len), zlib_crc(0, p, len)) << "length " << len;
        const uint32_t seed = uint32_t(rng());
        ASSERT_EQ(crc32(seed, p, len), zlib_crc(seed, p, len)) << "length " << len;
    }
}

TEST(Crc32, ChainsLikeZlib) {
    std::mt19937 rng(12);
    for (int iter = 0; iter < 500; ++iter) {
        Bytes buf(rng() % 3000);
        for (auto& b : buf) b = uint8_t(rng());
        const size_t cut = buf.empty() ? 0 : rng() % (buf.size() + 1);
        const uint32_t whole = crc32(0, buf.data(), buf.size());
        EXPECT_EQ(crc32(crc32(0, buf.data(), cut), buf.data() + cut, buf.size() - cut), whole);
        EXPECT_EQ(whole, zlib_crc(0, buf.data(), buf.size()));
    }
}

// ---- the real capture -------------------------------------------------------------------

std::string capture_path() {
    return std::string(WEFT_SAMPLE_CAPTURE);
}

TEST(IcrcCapture, EverySoftRocePacketParsesAndHasAValidIcrc) {
    const std::string path = capture_path();
    ASSERT_TRUE(std::filesystem::exists(path)) << path << " (test/fixtures, in the tree)";
    capture::PcapReader reader(path);
    ASSERT_TRUE(reader.delivers_ethernet());
    capture::Record rec;
    size_t frames = 0, roce = 0, not_roce = 0, icrc_ok = 0;
    std::map<uint8_t, size_t> opcodes;
    while (reader.next(rec)) {
        ++frames;
        ASSERT_EQ(rec.data.size(), rec.wire_length) << "frame " << frames << " was snapped";
        const Bytes f(rec.data.begin(), rec.data.end());
        Packet p;
        const Verdict v = parse(f, p);
        if (v == Verdict::NotRoce) {
            ++not_roce;
            continue;
        }
        ASSERT_EQ(to_string(v), "ok") << "frame " << frames;
        ++roce;
        ++opcodes[p.bth.opcode];
        if (icrc_valid(p)) ++icrc_ok;
        EXPECT_EQ(p.wire_icrc(), test::reference_icrc(f, p.l3_offset, p.icrc_offset))
            << "frame " << frames;
    }
    EXPECT_FALSE(reader.truncated()) << reader.truncation();
    EXPECT_EQ(frames, 665u);
    EXPECT_EQ(roce, 576u);
    EXPECT_EQ(not_roce, 89u);
    EXPECT_EQ(icrc_ok, 576u);
    // rxe traffic of RC SENDs, WRITEs and READs with their ACKs and READ responses.
    EXPECT_EQ(opcodes[opcode::kRcAcknowledge], 68u);
    EXPECT_EQ(opcodes[opcode::kRcReadRequest], 20u);
    EXPECT_EQ(opcodes[opcode::kRcReadResponseMiddle], 120u);
}

// ---- what the ICRC covers and what it masks -------------------------------------------

// Whether bit `bit` of the byte `rel` bytes after the start of the IP header is one that
// routers may change, and the ICRC therefore masks. Written from the RoCEv2 annex.
bool masked_bit(bool v4, size_t ip_len, size_t rel, unsigned bit) {
    const size_t udp = ip_len, bth = ip_len + 8;
    if (rel == udp + 6 || rel == udp + 7) return true;              // UDP checksum
    if (rel == bth + 4) return true;                                // BTH resv8a
    if (v4) return rel == 1 || rel == 8 || rel == 10 || rel == 11;  // TOS, TTL, checksum
    if (rel == 0) return bit < 4;  // version (high nibble) covered, traffic class masked
    return rel == 1 || rel == 2 || rel == 3 || rel == 7;  // class, flow label, hop limit
}

std::vector<FrameSpec> flip_specs() {
    std::vector<FrameSpec> out;
    out.push_back(spec_for(opcode::kRcSendOnly, 13, Family::V4));
    out.push_back(spec_for(opcode::kRcWriteFirst, 8, Family::V6, 1));
    out.push_back(spec_for(opcode::kRcAcknowledge, 0, Family::V4, 2));
    out.push_back(spec_for(opcode::kCnp, 0, Family::V6));
    out.push_back(spec_for(opcode::kRcSendOnly, 0, Family::V4));  // 60 bytes, Ethernet pad
    return out;
}

TEST(IcrcCoverage, EveryBitIsCoveredUnlessItIsAMaskedField) {
    size_t covered_checks = 0, masked_checks = 0, outside_checks = 0;
    for (const FrameSpec& s : flip_specs()) {
        const Bytes f = build(s);
        Packet base;
        ASSERT_EQ(parse(f, base), Verdict::Ok);
        ASSERT_TRUE(icrc_valid(base));
        const bool v4 = base.ip_version == IpVersion::V4;
        const size_t ip_len = size_t(base.l4_offset) - base.l3_offset;
        for (size_t i = 0; i < f.size(); ++i) {
            for (unsigned bit = 0; bit < 8; ++bit) {
                Bytes g = f;
                g[i] ^= uint8_t(1u << bit);
                Packet p;
                if (parse(g, p) != Verdict::Ok) continue;  // a length, version or port bit
                const bool inside = i >= base.l3_offset && i < base.roce_end();
                bool expect_valid;
                if (!inside) {
                    expect_valid = true;  // Ethernet header, VLAN tags, Ethernet pad
                    ++outside_checks;
                } else if (i >= base.icrc_offset) {
                    expect_valid = false;  // the ICRC itself
                    ++covered_checks;
                } else if (masked_bit(v4, ip_len, i - base.l3_offset, bit)) {
                    expect_valid = true;
                    ++masked_checks;
                } else {
                    expect_valid = false;
                    ++covered_checks;
                }
                ASSERT_EQ(icrc_valid(p), expect_valid)
                    << "opcode 0x" << std::hex << int(s.bth.opcode) << std::dec << ", byte " << i
                    << " bit " << bit << " (IP header at " << base.l3_offset << ")";
            }
        }
    }
    EXPECT_GT(covered_checks, 1000u);
    EXPECT_GT(masked_checks, 100u);
    EXPECT_GT(outside_checks, 100u);
}

struct NamedEdit {
    const char* field;
    Family family;
    size_t rel;  // offset from the IP header
    uint8_t xor_mask;
    bool still_valid;
};

TEST(IcrcCoverage, NamedFields) {
    // IPv4: IP 0, UDP 20, BTH 28, payload 40. IPv6: IP 0, UDP 40, BTH 48, payload 60.
    const NamedEdit edits[] = {
        {"IPv4 TOS (DSCP+ECN)", Family::V4, 1, 0xff, true},
        {"IPv4 ECN to CE", Family::V4, 1, 0x01, true},
        {"IPv4 TTL", Family::V4, 8, 0x3f, true},
        {"IPv4 header checksum", Family::V4, 10, 0xff, true},
        {"IPv4 header checksum low", Family::V4, 11, 0x01, true},
        {"UDP checksum (IPv4)", Family::V4, 26, 0xff, true},
        {"BTH resv8a (IPv4)", Family::V4, 32, 0xff, true},
        {"IPv6 traffic class high", Family::V6, 0, 0x0f, true},
        {"IPv6 traffic class low + flow label high", Family::V6, 1, 0xff, true},
        {"IPv6 flow label", Family::V6, 2, 0xff, true},
        {"IPv6 flow label low", Family::V6, 3, 0x80, true},
        {"IPv6 hop limit", Family::V6, 7, 0xff, true},
        {"UDP checksum (IPv6)", Family::V6, 46, 0x12, true},
        {"BTH resv8a (IPv6)", Family::V6, 52, 0x01, true},
        {"IPv4 identification", Family::V4, 4, 0x01, false},
        {"IPv4 source address", Family::V4, 15, 0x80, false},
        {"IPv4 destination address", Family::V4, 19, 0x01, false},
        {"UDP source port (IPv4)", Family::V4, 20, 0x01, false},
        {"UDP source port low (IPv6)", Family::V6, 41, 0x40, false},
        {"BTH solicited bit", Family::V4, 29, 0x80, false},
        {"BTH P_Key", Family::V4, 30, 0x01, false},
        {"BTH dest QP", Family::V4, 33, 0x01, false},
        {"BTH dest QP (IPv6)", Family::V6, 55, 0x10, false},
        {"BTH ack request", Family::V4, 36, 0x80, false},
        {"BTH PSN", Family::V4, 39, 0x01, false},
        {"IPv6 source address", Family::V6, 8, 0x01, false},
        {"IPv6 destination address", Family::V6, 39, 0x01, false},
        {"payload first bit (IPv4)", Family::V4, 40, 0x01, false},
        {"payload last bit (IPv4)", Family::V4, 40 + 63, 0x80, false},
        {"payload middle (IPv6)", Family::V6, 60 + 17, 0x08, false},
    };
    for (const NamedEdit& e : edits) {
        Bytes f = build(spec_for(opcode::kRcSendOnly, 64, e.family));
        f[14 + e.rel] ^= e.xor_mask;
        Packet p;
        ASSERT_EQ(parse(f, p), Verdict::Ok) << e.field;
        EXPECT_EQ(icrc_valid(p), e.still_valid) << e.field;
    }
}

TEST(IcrcWrite, StoresTheCrcLeastSignificantByteFirst) {
    Bytes f = build(spec_for(opcode::kRcWriteOnly, 100, Family::V6, 1));
    Packet p;
    ASSERT_EQ(parse(f, p), Verdict::Ok);
    const uint32_t icrc = icrc_compute(p);
    EXPECT_EQ(icrc, test::reference_icrc(f, p.l3_offset, p.icrc_offset));
    std::fill(f.begin() + p.icrc_offset, f.begin() + long(p.roce_end()), 0);
    ASSERT_EQ(parse(f, p), Verdict::Ok);
    EXPECT_FALSE(icrc_valid(p));
    icrc_write(f.data(), p);
    EXPECT_EQ(f[p.icrc_offset + 0], uint8_t(icrc));
    EXPECT_EQ(f[p.icrc_offset + 1], uint8_t(icrc >> 8));
    EXPECT_EQ(f[p.icrc_offset + 2], uint8_t(icrc >> 16));
    EXPECT_EQ(f[p.icrc_offset + 3], uint8_t(icrc >> 24));
    EXPECT_TRUE(icrc_valid(p));
}

// ---- incremental updates ------------------------------------------------------------------

TEST(IcrcUpdate, SourcePortChangeEqualsFullRecompute) {
    std::mt19937 rng(21);
    std::vector<uint32_t> sizes;
    for (uint32_t n = 0; n <= 300; n += 7) sizes.push_back(n);
    for (uint32_t n : {511u, 1024u, 4096u, 9000u}) sizes.push_back(n);
    size_t checked = 0;
    for (Family family : {Family::V4, Family::V6}) {
        for (uint8_t vlans : {0, 1}) {
            for (uint32_t len : sizes) {
                for (uint8_t op : {opcode::kRcSendOnly, opcode::kRcAcknowledge}) {
                    const uint32_t payload = opcode_info(op).payload ? len : 0;
                    if (!opcode_info(op).payload && len != 0) continue;
                    Bytes f = build(spec_for(op, payload, family, vlans));
                    for (int k = 0; k < 4; ++k) {
                        Packet p;
                        ASSERT_EQ(parse(f, p), Verdict::Ok);
                        ASSERT_TRUE(icrc_valid(p));
                        const uint16_t port = uint16_t(rng());
                        const uint32_t predicted = icrc_after_src_port_change(p, port);
                        store_be16(&f[p.l4_offset], port);
                        ASSERT_EQ(parse(f, p), Verdict::Ok);
                        ASSERT_EQ(predicted, icrc_compute(p))
                            << "payload " << payload << ", port " << port;
                        store_le32(&f[p.icrc_offset], predicted);
                        ++checked;
                    }
                }
            }
        }
    }
    EXPECT_GT(checked, 300u);
}

TEST(IcrcUpdate, AnyUnmaskedFieldUpToEightBytes) {
    std::mt19937 rng(22);
    for (int iter = 0; iter < 3000; ++iter) {
        const Family family = iter % 2 ? Family::V6 : Family::V4;
        const uint32_t len = rng() % 600;
        Bytes f = build(spec_for(opcode::kRcWriteOnly, len, family));
        Packet p;
        ASSERT_EQ(parse(f, p), Verdict::Ok);
        // A field in the BTH's dest QP / PSN, the RETH or the payload (bytes_after may be 0).
        const size_t first = size_t(p.bth_offset) + 5;
        const size_t field_len = 1 + rng() % 8;
        if (first + field_len > p.icrc_offset) continue;
        const size_t at = first + rng() % (p.icrc_offset - field_len - first + 1);
        Bytes old_bytes(f.begin() + long(at), f.begin() + long(at + field_len));
        Bytes new_bytes(field_len);
        for (auto& b : new_bytes) b = uint8_t(rng());
        const size_t after = p.icrc_offset - (at + field_len);
        const uint32_t predicted =
            icrc_update(p.wire_icrc(), old_bytes.data(), new_bytes.data(), field_len, after);
        std::copy(new_bytes.begin(), new_bytes.end(), f.begin() + long(at));
        Packet q;
        ASSERT_EQ(parse(f, q), Verdict::Ok);  // none of these bytes is a length or a type
        ASSERT_EQ(predicted, test::reference_icrc(f, q.l3_offset, q.icrc_offset))
            << "field at " << at << ", " << field_len << " bytes, " << after << " after";
    }
}

TEST(IcrcUpdate, NoChangeKeepsTheIcrc) {
    const Bytes f = build(spec_for(opcode::kRcSendOnly, 32));
    Packet p;
    ASSERT_EQ(parse(f, p), Verdict::Ok);
    EXPECT_EQ(icrc_after_src_port_change(p, p.src_port), p.wire_icrc());
}

}  // namespace
}  // namespace weft::roce

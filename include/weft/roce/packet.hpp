// The zero-copy RoCEv2 parser: a frame's bytes in, a parsed view (offsets and decoded
// fields) or a precise verdict out. It reads nothing beyond the span it is given,
// whatever the length fields claim, allocates nothing and throws nothing.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string_view>

#include "weft/roce/headers.hpp"
#include "weft/roce/ip_address.hpp"
#include "weft/roce/opcode.hpp"

namespace weft::roce {

// Ok and NotRoce are healthy outcomes; everything after them is a malformed packet that
// the data plane counts and drops. The names are stable: they key JSON and metrics.
#define WEFT_ROCE_VERDICTS(X)                                                                  \
    X(Ok, "ok", "a well-formed RoCEv2 packet")                                                 \
    X(NotRoce, "not_roce", "not RoCEv2 (ARP, TCP, other UDP ports, non-IP): passed through")   \
    X(EthTruncated, "eth_truncated", "frame shorter than an Ethernet header")                  \
    X(VlanTruncated, "vlan_truncated", "frame ends inside a VLAN tag")                         \
    X(VlanTooDeep, "vlan_too_deep", "more than two VLAN tags")                                 \
    X(Ipv4Truncated, "ipv4_truncated", "frame ends inside the IPv4 header")                    \
    X(Ipv4BadHeader, "ipv4_bad_header", "IPv4 version not 4 or header length below 20 bytes")  \
    X(Ipv4BadTotalLength, "ipv4_bad_total_length",                                             \
      "IPv4 total length shorter than its header or longer than the frame")                    \
    X(Ipv4Fragment, "ipv4_fragment", "a fragmented RoCEv2 packet (RoCEv2 never fragments)")    \
    X(Ipv6Truncated, "ipv6_truncated", "frame ends inside the IPv6 header")                    \
    X(Ipv6BadHeader, "ipv6_bad_header", "IPv6 header whose version field is not 6")            \
    X(Ipv6BadPayloadLength, "ipv6_bad_payload_length", "IPv6 payload length beyond the frame") \
    X(UdpTruncated, "udp_truncated", "IP payload ends inside the UDP header")                  \
    X(UdpBadLength, "udp_bad_length", "UDP length disagrees with the IP payload length")       \
    X(BthTruncated, "bth_truncated", "UDP payload shorter than BTH + ICRC")                    \
    X(BthBadVersion, "bth_bad_version", "BTH transport header version is not 0")               \
    X(OpcodeReserved, "opcode_reserved", "reserved, unknown or vendor-specific BTH opcode")    \
    X(ExtHeaderTruncated, "ext_header_truncated",                                              \
      "packet ends inside the extension headers the opcode requires")                          \
    X(PayloadInconsistent, "payload_inconsistent",                                             \
      "payload on an opcode that carries none, or pad count / length not 4-byte aligned")

enum class Verdict : uint8_t {
#define WEFT_X(id, name, text) id,
    WEFT_ROCE_VERDICTS(WEFT_X)
#undef WEFT_X
};

inline constexpr size_t kVerdictCount = 0
#define WEFT_X(id, name, text) +1
    WEFT_ROCE_VERDICTS(WEFT_X)
#undef WEFT_X
    ;

std::string_view to_string(Verdict v);
std::string_view describe(Verdict v);
inline bool is_malformed(Verdict v) {
    return v != Verdict::Ok && v != Verdict::NotRoce;
}

enum class IpVersion : uint8_t { None = 0, V4 = 4, V6 = 6 };

struct Packet {
    std::span<const uint8_t> frame;  // the whole frame as received

    // Layer offsets into frame.
    uint16_t l3_offset = 0;
    uint16_t l4_offset = 0;
    uint16_t bth_offset = 0;
    uint16_t payload_offset = 0;
    uint16_t icrc_offset = 0;     // first ICRC byte; the RoCE packet ends 4 bytes later
    uint16_t payload_length = 0;  // application bytes, pad excluded

    uint8_t vlan_count = 0;
    std::array<uint16_t, kMaxVlanTags> vlan_ids{};
    IpVersion ip_version = IpVersion::None;
    uint8_t ecn = 0;  // low two bits of TOS / traffic class
    uint8_t dscp = 0;
    IpAddress src{};
    IpAddress dst{};
    uint16_t src_port = 0;
    uint16_t dst_port = 0;

    Bth bth{};
    const OpcodeInfo* op = nullptr;
    // Decoded extension headers; only those named in op->headers are meaningful.
    Reth reth{};
    Aeth aeth{};
    AtomicEth atomic_eth{};
    Deth deth{};
    uint64_t atomic_ack_data = 0;
    uint32_t immediate = 0;
    uint32_t invalidate_rkey = 0;
    uint32_t rdeth_ee_context = 0;
    uint32_t xrc_srq = 0;

    bool has(ExtHeader h) const { return op && (op->headers & h); }
    bool ecn_ce() const { return ecn == kEcnCe; }
    // The bytes the ICRC covers start at l3; the RoCE packet ends after the ICRC.
    size_t roce_end() const { return size_t(icrc_offset) + kIcrcSize; }
    uint32_t wire_icrc() const;
};

// Parses one Ethernet frame. On Ok every field of `out` is set, except the extension
// headers op->headers does not name (they keep whatever they held); on NotRoce the L2/L3
// fields that were reached are set (so callers can still forward or count by host); on
// a malformed verdict `out` holds what was decoded before the fault. `out` may be reused
// across calls without clearing.
Verdict parse(std::span<const uint8_t> frame, Packet& out);

// parse() without its fast path for the common case (untagged IPv4 without options, UDP
// 4791): the general header walk alone. Tests hold the two to the same results.
Verdict parse_general(std::span<const uint8_t> frame, Packet& out);

}  // namespace weft::roce

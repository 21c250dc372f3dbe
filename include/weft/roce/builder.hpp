// Serialises RoCEv2 frames: Ethernet (+ VLAN tags), IPv4 or IPv6, UDP to 4791, BTH,
// the extension headers the opcode table prescribes, payload, pad and a valid ICRC.
// It is the one writer of the wire format; weft-gen and the tests build through it and
// then hand the result to parse() so every frame made is also checked.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

#include "weft/roce/headers.hpp"
#include "weft/roce/ip_address.hpp"

namespace weft::roce {

struct MacAddress {
    std::array<uint8_t, 6> bytes{};
};

struct FrameSpec {
    MacAddress src_mac{};
    MacAddress dst_mac{};
    uint8_t vlan_count = 0;  // 0, 1 (802.1Q) or 2 (802.1ad outer + 802.1Q inner)
    std::array<uint16_t, kMaxVlanTags> vlan_ids{};
    IpAddress src{};  // IPv4-mapped for IPv4; both ends must be the same family
    IpAddress dst{};
    uint8_t dscp = 26;  // a common RoCE traffic class
    uint8_t ecn = 2;    // ECT(0): RoCE senders are ECN-capable for DCQCN
    uint8_t ttl = 64;
    uint16_t ip_id = 0;
    uint32_t flow_label = 0;  // IPv6 only
    uint16_t src_port = 49152;
    uint16_t dst_port = kRoceV2Port;

    Bth bth{};
    // Extension headers; only those the opcode requires are written.
    Reth reth{};
    Aeth aeth{};
    AtomicEth atomic_eth{};
    Deth deth{};
    uint64_t atomic_ack_data = 0;
    uint32_t immediate = 0;
    uint32_t invalidate_rkey = 0;
    uint32_t rdeth_ee_context = 0;
    uint32_t xrc_srq = 0;
    uint32_t feth = 0;

    uint32_t payload_length = 0;  // bytes; filled with a pattern from payload_seed
    uint32_t payload_seed = 0;
};

// Bytes build_frame() will write for `spec` (no Ethernet minimum-size pad is added:
// RoCE frames are at least 64 bytes long with their headers anyway, except CNP-sized
// ones, which are padded to 60 bytes like a NIC would).
size_t frame_size(const FrameSpec& spec);

// Writes the frame into `out` and returns its size, or 0 if `out` is too small or the
// spec is impossible (unknown opcode, payload on an opcode without one).
size_t build_frame(const FrameSpec& spec, std::span<uint8_t> out);

}  // namespace weft::roce

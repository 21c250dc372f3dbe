// The reorder offer: how a weftd that reorders sprayed QPs tells the weftds across the
// fabric that they may spray towards its hosts (spraying is negotiated, never assumed).
// One Ethernet frame, broadcast on each fabric uplink every offer interval; a peer treats
// an offer as good for three intervals, so a weftd that stops (or stops reordering) is
// sprayed at no longer than that. The one definition of the format, for weftd and tests.
//
//   Ethernet: dst ff:ff:ff:ff:ff:ff, src 02:00:00:00:00:00 | uplink, type 0x88b5 (IEEE
//   802 local experimental)
//   payload:  "WEFT" | version 1 | kind 1 (reorder offer) | prefix count N (1..32) | 0
//             | interval ms (be32) | timeout us (be32) | depth (be16) | 0 (be16)
//             | N x (16-byte address, IPv4 as ::ffff:a.b.c.d | prefix length 0..128)
//
// L2 broadcast reaches the weftds that share the fabric segment (the test fabrics here,
// a leaf's hosts); a routed fabric needs the controller (issue 13) to carry offers.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "weft/roce/ip_address.hpp"

namespace weft::balance {

inline constexpr uint16_t kEtherTypeWeft = 0x88b5;
inline constexpr size_t kOfferMaxPrefixes = 32;
inline constexpr size_t kOfferHeaderBytes = 14 + 20;
inline constexpr size_t kOfferPrefixBytes = 17;

struct ReorderOffer {
    uint32_t interval_ms = 1000;
    uint32_t timeout_us = 0;
    uint16_t depth = 0;
    std::vector<roce::IpPrefix> hosts;
};

enum class OfferVerdict : uint8_t { ok, not_weft, bad };

// Writes the frame into `out` (at least offer_bytes(o) long); returns its length.
size_t offer_bytes(const ReorderOffer& o);
size_t encode_offer(const ReorderOffer& o, uint8_t uplink, std::span<uint8_t> out);
// Decodes a frame: not_weft when it is not a weft frame at all (another EtherType), bad
// when it is one but malformed (short, wrong version or kind, a count or length out of
// range, host bits set), ok with `out` filled. Never reads past `frame`.
OfferVerdict decode_offer(std::span<const uint8_t> frame, ReorderOffer& out);

}  // namespace weft::balance

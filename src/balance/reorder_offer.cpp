#include "weft/balance/reorder_offer.hpp"

#include <cstring>

namespace weft::balance {

namespace {
constexpr uint8_t kMagic[4] = {'W', 'E', 'F', 'T'};
constexpr uint8_t kVersion = 1;
constexpr uint8_t kKindReorderOffer = 1;

void put16(uint8_t* p, uint16_t v) {
    p[0] = uint8_t(v >> 8);
    p[1] = uint8_t(v);
}
void put32(uint8_t* p, uint32_t v) {
    put16(p, uint16_t(v >> 16));
    put16(p + 2, uint16_t(v));
}
uint16_t get16(const uint8_t* p) {
    return uint16_t(p[0] << 8 | p[1]);
}
uint32_t get32(const uint8_t* p) {
    return uint32_t(get16(p)) << 16 | get16(p + 2);
}
}  // namespace

size_t offer_bytes(const ReorderOffer& o) {
    return kOfferHeaderBytes + o.hosts.size() * kOfferPrefixBytes;
}

size_t encode_offer(const ReorderOffer& o, uint8_t uplink, std::span<uint8_t> out) {
    const size_t n = offer_bytes(o);
    if (o.hosts.empty() || o.hosts.size() > kOfferMaxPrefixes || out.size() < n) return 0;
    uint8_t* p = out.data();
    std::memset(p, 0xff, 6);
    const uint8_t src[6] = {0x02, 0, 0, 0, 0, uplink};
    std::memcpy(p + 6, src, 6);
    put16(p + 12, kEtherTypeWeft);
    p += 14;
    std::memcpy(p, kMagic, 4);
    p[4] = kVersion;
    p[5] = kKindReorderOffer;
    p[6] = uint8_t(o.hosts.size());
    p[7] = 0;
    put32(p + 8, o.interval_ms);
    put32(p + 12, o.timeout_us);
    put16(p + 16, o.depth);
    put16(p + 18, 0);
    p += 20;
    for (const roce::IpPrefix& h : o.hosts) {
        std::memcpy(p, h.base.bytes.data(), 16);
        p[16] = h.bits;
        p += kOfferPrefixBytes;
    }
    return n;
}

OfferVerdict decode_offer(std::span<const uint8_t> frame, ReorderOffer& out) {
    if (frame.size() < 14 || get16(frame.data() + 12) != kEtherTypeWeft)
        return OfferVerdict::not_weft;
    if (frame.size() < kOfferHeaderBytes) return OfferVerdict::bad;
    const uint8_t* p = frame.data() + 14;
    if (std::memcmp(p, kMagic, 4) != 0 || p[4] != kVersion || p[5] != kKindReorderOffer)
        return OfferVerdict::bad;
    if (p[7] != 0 || get16(p + 18) != 0) return OfferVerdict::bad;  // reserved: zero
    const size_t count = p[6];
    if (count == 0 || count > kOfferMaxPrefixes) return OfferVerdict::bad;
    if (frame.size() < kOfferHeaderBytes + count * kOfferPrefixBytes) return OfferVerdict::bad;
    out.interval_ms = get32(p + 8);
    out.timeout_us = get32(p + 12);
    out.depth = get16(p + 16);
    if (out.interval_ms == 0) return OfferVerdict::bad;
    out.hosts.clear();
    p += 20;
    for (size_t i = 0; i < count; ++i, p += kOfferPrefixBytes) {
        roce::IpPrefix h;
        std::memcpy(h.base.bytes.data(), p, 16);
        h.bits = p[16];
        if (h.bits > 128) return OfferVerdict::bad;
        // host bits set: the prefix names no network of its own
        roce::IpPrefix masked = h;
        for (unsigned b = h.bits; b < 128; ++b)
            masked.base.bytes[b / 8] &= uint8_t(~(0x80u >> (b % 8)));
        if (masked.base.bytes != h.base.bytes) return OfferVerdict::bad;
        out.hosts.push_back(h);
    }
    return OfferVerdict::ok;
}

}  // namespace weft::balance

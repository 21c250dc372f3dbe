#include "weft/dataplane/dispatch.hpp"

#include "weft/flow/hash.hpp"
#include "weft/roce/bytes.hpp"
#include "weft/roce/headers.hpp"

namespace weft::dataplane {

uint64_t dispatch_hash(std::span<const uint8_t> f) {
    using namespace roce;
    size_t off = kEthHeaderSize;
    if (f.size() < off) return 0;
    uint16_t type = load_be16(f.data() + 12);
    for (unsigned tags = 0;
         (type == kEtherTypeVlan || type == kEtherTypeQinQ) && tags < kMaxVlanTags; ++tags) {
        if (f.size() < off + kVlanTagSize) return 0;
        type = load_be16(f.data() + off + 2);
        off += kVlanTagSize;
    }
    uint64_t a = 0, b = 0;
    uint8_t proto = 0;
    if (type == kEtherTypeIpv4) {
        if (f.size() < off + kIpv4MinHeaderSize) return 0;
        size_t ihl = size_t(f[off] & 0x0f) * 4;
        a = load_be32(f.data() + off + 12);
        b = load_be32(f.data() + off + 16);
        proto = f[off + 9];
        bool fragment = (load_be16(f.data() + off + 6) & 0x3fff) != 0;
        if (ihl < kIpv4MinHeaderSize || fragment) return flow::hash_combine(0, a, b);
        off += ihl;
    } else if (type == kEtherTypeIpv6) {
        if (f.size() < off + kIpv6HeaderSize) return 0;
        a = load_be64(f.data() + off + 8) ^ load_be64(f.data() + off + 16);
        b = load_be64(f.data() + off + 24) ^ load_be64(f.data() + off + 32);
        proto = f[off + 6];
        off += kIpv6HeaderSize;
    } else {
        return 0;
    }
    if (proto != kIpProtoUdp && proto != kIpProtoTcp) return flow::hash_combine(0, a, b);
    if (f.size() < off + 4) return flow::hash_combine(0, a, b);
    uint16_t sport = load_be16(f.data() + off), dport = load_be16(f.data() + off + 2);
    if (proto == kIpProtoUdp && dport == kRoceV2Port && f.size() >= off + kUdpHeaderSize + kBthSize)
        return flow::hash_combine(1, a ^ (b << 1), load_be24(f.data() + off + kUdpHeaderSize + 5));
    return flow::hash_combine(2, a ^ (b << 1), uint64_t(sport) << 16 | dport);
}

}  // namespace weft::dataplane

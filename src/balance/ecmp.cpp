#include "weft/balance/ecmp.hpp"

#include <cstring>

#include "weft/flow/hash.hpp"

namespace weft::balance {

PathChoice EcmpPolicy::choose(const roce::Packet& p, uint32_t uplinks) const {
    if (uplinks <= 1) return {};
    // The addresses' low halves (all of an IPv4 address, the interface id of an IPv6 one),
    // mixed with the ports; then scaled into [0, n) by a multiply instead of a division.
    uint64_t a, b;
    std::memcpy(&a, p.src.bytes.data() + 8, 8);
    std::memcpy(&b, p.dst.bytes.data() + 8, 8);
    uint64_t h = flow::hash_combine(uint64_t(p.src_port) << 16 | p.dst_port, a, b);
    return {uint16_t(((h >> 32) * uplinks) >> 32)};
}

}  // namespace weft::balance

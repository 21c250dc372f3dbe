#include "weft/dataplane/policy.hpp"

#include <cstring>

#include "weft/flow/hash.hpp"

namespace weft::dataplane {

uint32_t EcmpPolicy::choose_uplink(const roce::Packet& p, const flow::FlowRecord*,
                                   uint32_t fabric_ports) const {
    if (fabric_ports <= 1) return 0;
    // The addresses' low halves (all of an IPv4 address, the interface id of an IPv6 one),
    // mixed with the ports; then scaled into [0, n) by a multiply instead of a division.
    uint64_t a, b;
    std::memcpy(&a, p.src.bytes.data() + 8, 8);
    std::memcpy(&b, p.dst.bytes.data() + 8, 8);
    uint64_t h = flow::hash_combine(uint64_t(p.src_port) << 16 | p.dst_port, a, b);
    return uint32_t(((h >> 32) * fabric_ports) >> 32);
}

}  // namespace weft::dataplane

#include "weft/dataplane/policy.hpp"

#include "weft/flow/hash.hpp"

namespace weft::dataplane {

uint32_t EcmpPolicy::choose_uplink(const roce::Packet& p, const flow::FlowRecord*,
                                   uint32_t fabric_ports) const {
    if (fabric_ports <= 1) return 0;
    uint64_t a = 0, b = 0;
    for (size_t i = 0; i < 8; ++i) {
        a = a << 8 | p.src.bytes[8 + i];
        b = b << 8 | p.dst.bytes[8 + i];
    }
    return uint32_t(flow::hash_combine(uint64_t(p.src_port) << 16 | p.dst_port, a, b) %
                    fabric_ports);
}

}  // namespace weft::dataplane

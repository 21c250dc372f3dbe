#include "weft/dataplane/dispatch.hpp"

#include "weft/flow/hash.hpp"
#include "weft/roce/bytes.hpp"
#include "weft/roce/headers.hpp"
#include "weft/roce/locate.hpp"

namespace weft::dataplane {

uint64_t dispatch_hash(std::span<const uint8_t> f) {
    using namespace roce;
    const Located l = locate(f);
    const uint8_t* ip = f.data() + l.l3_offset;
    uint64_t a = 0, b = 0;
    if (l.ip_version == IpVersion::V4) {
        a = load_be32(ip + 12);
        b = load_be32(ip + 16);
    } else if (l.ip_version == IpVersion::V6) {
        a = load_be64(ip + 8) ^ load_be64(ip + 16);
        b = load_be64(ip + 24) ^ load_be64(ip + 32);
    } else {
        return 0;
    }
    if (!l.has_ports) return flow::hash_combine(0, a, b);
    const size_t bth = size_t(l.l4_offset) + kUdpHeaderSize;
    if (l.protocol == kIpProtoUdp && l.dst_port == kRoceV2Port && f.size() >= bth + kBthSize)
        return flow::hash_combine(1, a ^ (b << 1), load_be24(f.data() + bth + 5));
    return flow::hash_combine(2, a ^ (b << 1), uint64_t(l.src_port) << 16 | l.dst_port);
}

}  // namespace weft::dataplane

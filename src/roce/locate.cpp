#include "weft/roce/locate.hpp"

namespace weft::roce {

Located locate(std::span<const uint8_t> f) {
    Located l;
    size_t off = kEthHeaderSize;
    if (f.size() < off) return l;
    uint16_t type = load_be16(f.data() + 12);
    for (unsigned tags = 0;
         (type == kEtherTypeVlan || type == kEtherTypeQinQ) && tags < kMaxVlanTags; ++tags) {
        if (f.size() < off + kVlanTagSize) return l;
        type = load_be16(f.data() + off + 2);
        off += kVlanTagSize;
    }
    if (type == kEtherTypeIpv4) {
        if (f.size() < off + kIpv4MinHeaderSize) return l;
        size_t ihl = size_t(f[off] & 0x0f) * 4;
        l.ip_version = IpVersion::V4;
        l.l3_offset = uint16_t(off);
        l.protocol = f[off + 9];
        l.fragment = (load_be16(f.data() + off + 6) & 0x3fff) != 0;
        if (ihl < kIpv4MinHeaderSize) {
            l.fragment = true;  // no transport header can be trusted behind a broken IHL
            ihl = kIpv4MinHeaderSize;
        }
        off += ihl;
    } else if (type == kEtherTypeIpv6) {
        if (f.size() < off + kIpv6HeaderSize) return l;
        l.ip_version = IpVersion::V6;
        l.l3_offset = uint16_t(off);
        l.protocol = f[off + 6];
        off += kIpv6HeaderSize;
    } else {
        return l;
    }
    l.l4_offset = uint16_t(off);
    if ((l.protocol == kIpProtoUdp || l.protocol == kIpProtoTcp) && !l.fragment &&
        f.size() >= off + 4) {
        l.has_ports = true;
        l.src_port = load_be16(f.data() + off);
        l.dst_port = load_be16(f.data() + off + 2);
    }
    return l;
}

}  // namespace weft::roce

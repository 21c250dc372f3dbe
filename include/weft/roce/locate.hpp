// A light header walk for stages that must find a frame's transport header before (or
// instead of) the full parse: Ethernet, up to two VLAN tags, IPv4 or IPv6, and where the
// transport header starts. Bounds-checked like parse(); it judges nothing else (lengths,
// checksums), so it is not a verdict: weftd's software dispatch hashes by it, and
// crypt.open finds PSP frames (UDP port 1000) with it before they are opened and parsed.
#pragma once

#include <cstdint>
#include <span>

#include "weft/roce/packet.hpp"

namespace weft::roce {

// PSP's UDP destination port (PSP architecture specification, section 3).
inline constexpr uint16_t kPspUdpPort = 1000;

struct Located {
    IpVersion ip_version = IpVersion::None;  // None: not IP, or the IP header is cut short
    uint16_t l3_offset = 0;
    uint16_t l4_offset = 0;  // where the transport header starts (IP without options length)
    uint8_t protocol = 0;    // IPv4 protocol / IPv6 next header
    bool fragment = false;   // an IPv4 fragment: the transport header is absent or partial
    // Set when protocol is UDP or TCP, the frame holds the ports and it is not a fragment.
    bool has_ports = false;
    uint16_t src_port = 0;
    uint16_t dst_port = 0;
};

Located locate(std::span<const uint8_t> frame);

// A PSP-encapsulated frame: UDP to port 1000 over IPv4 or IPv6.
inline bool is_psp(const Located& l) {
    return l.has_ports && l.protocol == kIpProtoUdp && l.dst_port == kPspUdpPort;
}

}  // namespace weft::roce

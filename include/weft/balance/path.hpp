// A path through the fabric, as the host-side balancer can choose it: which uplink a
// frame leaves on, and the UDP source port that switches' ECMP hashes (the RNIC's own
// when kKeepSourcePort). The ICRC covers the source port, so balance.apply fixes it after
// a rewrite (roce::icrc_after_src_port_change).
#pragma once

#include <cstdint>

namespace weft::balance {

inline constexpr uint32_t kKeepSourcePort = 0x10000;  // not a port: leave the frame's own

struct PathChoice {
    uint16_t uplink = 0;                     // index into the fabric ports
    uint32_t source_port = kKeepSourcePort;  // the port to write, or kKeepSourcePort
};

}  // namespace weft::balance

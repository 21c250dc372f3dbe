// ECMP over the fabric uplinks: a hash of the RoCEv2 5-tuple (protocol and destination
// port are fixed), so one QP keeps one path, as a switch's ECMP would keep it. The
// source port is left as the RNIC chose it.
#pragma once

#include <cstdint>

#include "weft/balance/path.hpp"
#include "weft/roce/packet.hpp"

namespace weft::balance {

class EcmpPolicy {
  public:
    static constexpr const char* kName = "ecmp";
    // The path of a well-formed RoCEv2 packet among `uplinks` (at least 1).
    PathChoice choose(const roce::Packet& p, uint32_t uplinks) const;
};

}  // namespace weft::balance

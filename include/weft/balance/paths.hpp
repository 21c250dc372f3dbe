// The paths a host-side balancer can put a QP on: (fabric uplink, UDP source port). With
// one uplink the paths are source ports, which the switches' ECMP spreads; with several,
// uplinks x ports. Path i is uplink i % uplinks with the i / uplinks-th source port, so
// consecutive indices alternate uplinks first. Free of DPDK types: the simulator issue
// links the policies with a path table of its own.
#pragma once

#include <cstdint>

#include "weft/balance/path.hpp"

namespace weft::balance {

class PathSet {
  public:
    // `source_ports` ports from `first_port` on (0: keep the RNIC's port, one path per
    // uplink). The ports stay in 49152-65535, the range RoCE senders use.
    PathSet(uint32_t uplinks, uint32_t source_ports, uint16_t first_port = 0xC000)
        : uplinks_(uplinks ? uplinks : 1), ports_(source_ports), first_port_(first_port) {}

    uint32_t size() const { return uplinks_ * (ports_ ? ports_ : 1); }
    uint32_t uplinks() const { return uplinks_; }

    PathChoice path(uint32_t index) const {
        index %= size();
        PathChoice c;
        c.uplink = uint16_t(index % uplinks_);
        if (ports_) c.source_port = uint32_t(first_port_) + index / uplinks_;
        return c;
    }

  private:
    uint32_t uplinks_;
    uint32_t ports_;
    uint16_t first_port_;
};

}  // namespace weft::balance

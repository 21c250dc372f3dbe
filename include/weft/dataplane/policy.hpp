// The policy hook of the inline pipeline: which fabric port a well-formed RoCEv2 packet
// from the host leaves on. Called once per such packet, after the firewall and the flow
// table have seen it (so a policy may read the flow's state). Today's policy is static
// ECMP; the balancing work (flowlets by congestion, without reordering inside a QP's
// go-back-N window) replaces it here and nowhere else.
#pragma once

#include <cstdint>

#include "weft/flow/record.hpp"
#include "weft/roce/packet.hpp"

namespace weft::dataplane {

// ECMP over the fabric ports: a hash of the RoCEv2 5-tuple (protocol and destination
// port are fixed), so one QP keeps one path, as a switch's ECMP would keep it.
class EcmpPolicy {
  public:
    // Index into the fabric ports, < `fabric_ports` (which is at least 1).
    // `flow` is the packet's flow record, or null when the table refused it.
    uint32_t choose_uplink(const roce::Packet& p, const flow::FlowRecord* flow,
                           uint32_t fabric_ports) const;
};

using ForwardingPolicy = EcmpPolicy;

}  // namespace weft::dataplane

// Spraying (after REPS): each request packet of a QP towards a host that a weftd across the
// fabric offered to reorder for (ReorderPeers) takes the next path in turn that is not
// congested, so one QP uses every good path at once and a congested path is left at the
// next packet, not the next gap. Responses (ACKs, READ responses) and every packet to a
// host without such an offer go as the congestion policy sends them: an RNIC behind a
// weftd that does not reorder would see PSN gaps and go back N.
//
// Free of DPDK types, as every policy here.
#pragma once

#include <cstdint>

#include "weft/balance/congestion.hpp"
#include "weft/balance/reorder_peers.hpp"

namespace weft::balance {

class SprayPolicy {
  public:
    static constexpr const char* kName = "spray";
    SprayPolicy(PathSet paths, uint64_t gap_ns, PathMonitor* monitor, uint32_t worker,
                const ReorderPeers* peers)
        : flowlets_(paths, gap_ns, monitor, worker), monitor_(monitor), peers_(peers) {}

    // As CongestionPolicy::choose, and `path` is the index of the path this packet takes
    // (the flow's own for a packet not sprayed); `sprayed` says whether it was.
    PathChoice choose(const roce::Packet& p, bool request, FlowletState& state,
                      uint64_t prev_last_ns, uint64_t now_ns, FlowletCounters& counters,
                      uint32_t& path, bool& sprayed) const {
        const PathChoice own = flowlets_.choose(p, state, prev_last_ns, now_ns, counters);
        sprayed = request && peers_->reorders(p.dst, now_ns);
        if (!sprayed) {
            path = state.path;
            return own;
        }
        const uint32_t n = flowlets_.paths().size();
        uint32_t next = cursor_;
        for (uint32_t k = 0; k < n; ++k) {
            const uint32_t c = (cursor_ + k) % n;
            if (!monitor_->congested(c)) {
                next = c;
                break;
            }
        }
        cursor_ = (next + 1) % n;
        path = next;
        return flowlets_.paths().path(next);
    }
    const PathSet& paths() const { return flowlets_.paths(); }

  private:
    CongestionPolicy flowlets_;
    PathMonitor* monitor_;
    const ReorderPeers* peers_;
    mutable uint32_t cursor_ = 0;  // one policy object per worker: no sharing
};

}  // namespace weft::balance

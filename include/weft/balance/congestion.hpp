// Congestion-aware flowlets (after PLB and CONGA, done at the host): a QP starts on the
// better of two candidate paths — fewer recent signals, then fewer packets (two random
// choices: a burst of new QPs does not herd onto the one path that looked idle), keeps it while its
// packets come close together, and at a gap longer than `gap_ns` leaves it only if the path is
// congested (PathMonitor: N congested rounds in a row), for the better of two other
// paths that are not. Never inside a burst: the old flowlet's packets are ahead, so the
// receiver still sees PSN order (the gap must exceed the paths' delay skew, as for
// flowlet). A path comes back into use only after M clean rounds: no oscillation.
//
// Free of DPDK types; the simulator issue drives it with a PathMonitor of its own.
#pragma once

#include <cstdint>

#include "weft/balance/flowlet.hpp"
#include "weft/balance/signals.hpp"

namespace weft::balance {

class CongestionPolicy {
  public:
    static constexpr const char* kName = "congestion";
    // `worker`: which of the monitor's counter blocks this policy's moves go to.
    CongestionPolicy(PathSet paths, uint64_t gap_ns, PathMonitor* monitor, uint32_t worker)
        : paths_(paths), gap_ns_(gap_ns), monitor_(monitor), worker_(worker) {}

    // As FlowletPolicy::choose.
    PathChoice choose(const roce::Packet& p, FlowletState& state, uint64_t prev_last_ns,
                      uint64_t now_ns, FlowletCounters& counters) const;

    const PathSet& paths() const { return paths_; }
    uint64_t gap_ns() const { return gap_ns_; }

  private:
    // The better of two candidates drawn from `h` (fewer recent signals, then fewer
    // packets), neither `avoid` nor congested; failing that, the best path that is
    // neither; failing that, `avoid`.
    uint32_t pick(uint64_t h, uint32_t avoid) const;

    PathSet paths_;
    uint64_t gap_ns_;
    PathMonitor* monitor_;
    uint32_t worker_;
};

}  // namespace weft::balance

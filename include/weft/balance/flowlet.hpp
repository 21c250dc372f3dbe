// Flowlet switching (LetFlow): a QP keeps its path while its packets come close together,
// and may take another when it has been quiet for longer than `gap_ns`. A gap longer than
// the difference in delay between any two paths means the packets of the new flowlet
// cannot overtake the old one's still in flight, so the receiver sees them in PSN order
// and RoCE's go-back-N never fires. The new path is a hash of the flow and its flowlet
// count (LetFlow's random choice, made reproducible); the congestion policy (a later
// step of the balancing issue) chooses by signals instead, at the same moments.
//
// Per-flow state lives in a side array beside the flow table (flow::SideArray), reset
// when a flow index is reused. Free of DPDK types.
#pragma once

#include <cstdint>

#include "weft/balance/paths.hpp"
#include "weft/roce/packet.hpp"

namespace weft::balance {

// Why a flow is on its path (`weftctl explain-path`).
enum class PathReason : uint8_t {
    none,          // no RoCE packet balanced yet
    hash,          // ecmp, or a flowlet's hash (policy flowlet)
    least_loaded,  // congestion: the better of two candidate paths, at its start
    moved,         // congestion: moved at a gap, its path being congested
    stayed,        // congestion: its path congested, but no other was better
};
const char* to_string(PathReason r);

// Per host->fabric flow, whatever the policy (retransmissions are seen by every policy).
struct FlowletState {
    uint32_t path = 0;
    uint32_t flowlets = 0;  // flowlets started; 0: the flow has no path yet
    uint32_t psn_next = 0;  // one past the highest request PSN seen (psn_valid)
    uint16_t moves = 0;     // times the flow changed path (saturating)
    PathReason reason = PathReason::none;
    bool psn_valid = false;
    uint32_t moved_from = 0;    // the path before the last move
    uint32_t last_move_ms = 0;  // when it moved last (the policy's clock, in ms)
    uint8_t traffic_class = 0;  // classify::TrafficClass of its last packet
};
static_assert(sizeof(FlowletState) == 28);

// A flow's move to path `next` at `now_ns`: what explain-path reads back, and the counter.
inline void record_move(FlowletState& state, uint32_t next, uint64_t now_ns, uint64_t& changes) {
    ++changes;
    state.moved_from = state.path;
    state.last_move_ms = uint32_t(now_ns / 1'000'000);
    if (state.moves != UINT16_MAX) ++state.moves;
    state.path = next;
}

struct FlowletCounters {
    uint64_t flowlets = 0;      // flowlets started (a flow's first packet starts one)
    uint64_t path_changes = 0;  // flowlets that moved their QP to another path
};

// The flow's own hash (addresses, ports, destination QP): QPs between two hosts get
// paths of their own.
uint64_t flowlet_hash(const roce::Packet& p);

class FlowletPolicy {
  public:
    static constexpr const char* kName = "flowlet";
    FlowletPolicy(PathSet paths, uint64_t gap_ns) : paths_(paths), gap_ns_(gap_ns) {}

    // The path of a RoCE packet of a flow whose state is `state` (reset by the caller for
    // a new flow), whose previous packet was seen at `prev_last_ns` (0: none) and which
    // arrives at `now_ns`.
    PathChoice choose(const roce::Packet& p, FlowletState& state, uint64_t prev_last_ns,
                      uint64_t now_ns, FlowletCounters& counters) const;

    const PathSet& paths() const { return paths_; }
    uint64_t gap_ns() const { return gap_ns_; }

  private:
    PathSet paths_;
    uint64_t gap_ns_;
};

}  // namespace weft::balance

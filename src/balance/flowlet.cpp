#include "weft/balance/flowlet.hpp"

#include <cstring>

#include "weft/flow/hash.hpp"

namespace weft::balance {

namespace {

// The flow's own hash: addresses, ports and the destination QP (QPs between two hosts
// get paths of their own), then mixed with the flowlet count.
uint64_t flow_hash(const roce::Packet& p) {
    uint64_t a, b;
    std::memcpy(&a, p.src.bytes.data() + 8, 8);
    std::memcpy(&b, p.dst.bytes.data() + 8, 8);
    return flow::hash_combine(uint64_t(p.src_port) << 16 ^ uint64_t(p.bth.dest_qp) << 32, a, b);
}

}  // namespace

const char* to_string(PathReason r) {
    switch (r) {
        case PathReason::none:
            return "none";
        case PathReason::hash:
            return "hash";
        case PathReason::least_loaded:
            return "least_loaded";
        case PathReason::moved:
            return "moved";
        case PathReason::stayed:
            return "stayed";
    }
    return "?";
}

uint64_t flowlet_hash(const roce::Packet& p) {
    return flow_hash(p);
}

PathChoice FlowletPolicy::choose(const roce::Packet& p, FlowletState& state, uint64_t prev_last_ns,
                                 uint64_t now_ns, FlowletCounters& counters) const {
    const bool first = state.flowlets == 0 || prev_last_ns == 0;
    // a clock that went backwards (packets of another port's clock) is no gap
    const bool gap = !first && now_ns > prev_last_ns && now_ns - prev_last_ns > gap_ns_;
    if (first || gap) {
        const uint32_t n = paths_.size();
        const uint64_t h = flow::hash_combine(flow_hash(p), state.flowlets, 0x5bd1e995);
        const uint32_t next = uint32_t(((h >> 32) * n) >> 32);
        if (!first && next != state.path) record_move(state, next, now_ns, counters.path_changes);
        state.path = next;
        state.reason = PathReason::hash;
        ++state.flowlets;
        ++counters.flowlets;
    }
    return paths_.path(state.path);
}

}  // namespace weft::balance

#include "weft/balance/congestion.hpp"

#include "weft/flow/hash.hpp"

namespace weft::balance {

namespace {
constexpr uint32_t kNoPath = 0xffffffffu;
}

uint32_t CongestionPolicy::pick(uint64_t h, uint32_t avoid) const {
    const uint32_t n = paths_.size();
    auto usable = [&](uint32_t p) { return p != avoid && !monitor_->congested(p); };
    // fewer recent signals first, then fewer packets
    auto better = [&](uint32_t c, uint32_t than) {
        const uint64_t sc = monitor_->recent_signals(c), st = monitor_->recent_signals(than);
        return sc != st ? sc < st : monitor_->load(c) < monitor_->load(than);
    };
    const uint32_t a = uint32_t(((h >> 32) * n) >> 32);
    // a second candidate other than the first (with two paths: the other one)
    const uint32_t b = n > 1 ? (a + 1 + uint32_t(((h & 0xffffffffu) * (n - 1)) >> 32)) % n : a;
    uint32_t best = kNoPath;
    for (uint32_t c : {a, b})
        if (usable(c) && (best == kNoPath || better(c, best))) best = c;
    if (best != kNoPath) return best;
    for (uint32_t c = 0; c < n; ++c)
        if (usable(c) && (best == kNoPath || better(c, best))) best = c;
    if (best != kNoPath) return best;
    return avoid == kNoPath ? a : avoid;
}

PathChoice CongestionPolicy::choose(const roce::Packet& p, FlowletState& state,
                                    uint64_t prev_last_ns, uint64_t now_ns,
                                    FlowletCounters& counters) const {
    const bool first = state.flowlets == 0 || prev_last_ns == 0;
    const bool gap = !first && now_ns > prev_last_ns && now_ns - prev_last_ns > gap_ns_;
    if (first) {
        state.path = pick(flow::hash_combine(flowlet_hash(p), 0, 0x2545f491), kNoPath);
        state.reason = PathReason::least_loaded;
        ++state.flowlets;
        ++counters.flowlets;
    } else if (gap) {
        ++state.flowlets;
        ++counters.flowlets;
        if (monitor_->congested(state.path)) {
            const uint32_t next =
                pick(flow::hash_combine(flowlet_hash(p), state.flowlets, 0x2545f491), state.path);
            if (next != state.path) {
                monitor_->moved(worker_, state.path, next);
                record_move(state, next, now_ns, counters.path_changes);
                state.reason = PathReason::moved;
            } else {
                state.reason = PathReason::stayed;
            }
        }
    }
    return paths_.path(state.path);
}

}  // namespace weft::balance

#include "weft/balance/signals.hpp"

#include <cstring>

#include "weft/flow/hash.hpp"

namespace weft::balance {

const char* to_string(Signal s) {
    switch (s) {
        case Signal::retransmit:
            return "retransmit";
        case Signal::nak:
            return "nak";
        case Signal::cnp:
            return "cnp";
        case Signal::ecn_ce:
            return "ecn_ce";
        case Signal::tx_drop:
            return "tx_drop";
    }
    return "?";
}

PathMonitor::PathMonitor(PathSet paths, uint32_t workers, CongestionSettings settings)
    : paths_(paths),
      workers_(workers ? workers : 1),
      settings_(settings),
      slots_(new Slot[size_t(workers_) * paths.size()]),
      published_(new Published[paths.size()]),
      judged_(paths.size()) {}

bool PathMonitor::tick(uint64_t now_ns) {
    uint64_t due = next_round_ns_.load(std::memory_order_relaxed);
    if (now_ns < due) return false;
    // one round at a time: a caller that finds one in progress leaves it be
    if (in_round_.exchange(true, std::memory_order_acquire)) return false;
    due = next_round_ns_.load(std::memory_order_relaxed);
    if (now_ns < due) {
        in_round_.store(false, std::memory_order_release);
        return false;
    }
    const bool first = due == 0;
    next_round_ns_.store(now_ns + settings_.round_ns, std::memory_order_relaxed);
    const uint32_t n = paths_.size();
    for (uint32_t p = 0; p < n; ++p) {
        uint64_t packets = 0, signals = 0;
        for (uint32_t w = 0; w < workers_; ++w) {
            const Slot& s = slot(w, p);
            packets += s.packets.load(std::memory_order_relaxed);
            // ecn_ce is not counted yet; the others weigh the same
            for (size_t k = 0; k < kSignalCount; ++k)
                signals += s.signals[k].load(std::memory_order_relaxed);
        }
        Judged& j = judged_[p];
        const uint64_t round_packets = packets - j.packets;
        const uint64_t round_signals = signals - j.signals;
        j.packets = packets;
        j.signals = signals;
        if (first) continue;  // the counters before the first round are no round's
        Published& out = published_[p];
        // per thousand packets, and at least one signal: a path that carried nothing in
        // the round but drew NAKs for what it carried before is congested too
        const bool congested_round =
            round_signals > 0 &&
            round_signals * 1000 >= uint64_t(settings_.signal_permille) * round_packets;
        if (congested_round) {
            ++j.congested_streak;
            j.clean_streak = 0;
            out.congested_rounds.fetch_add(1, std::memory_order_relaxed);
        } else {
            ++j.clean_streak;
            j.congested_streak = 0;
        }
        const bool was = out.state.load(std::memory_order_relaxed) != 0;
        bool now = was;
        if (!was && j.congested_streak >= settings_.congested_rounds) now = true;
        if (was && j.clean_streak >= settings_.clear_rounds) now = false;
        if (now && !was) out.times_congested.fetch_add(1, std::memory_order_relaxed);
        out.state.store(now ? 1 : 0, std::memory_order_relaxed);
        out.streak.store(congested_round ? j.congested_streak : j.clean_streak,
                         std::memory_order_relaxed);
        // load: an EWMA (1/4 weight) of packets per round, in sixteenths
        const uint64_t old = out.load.load(std::memory_order_relaxed);
        out.load.store(old - old / 4 + round_packets * 16 / 4, std::memory_order_relaxed);
        const uint64_t se = out.signals_ewma.load(std::memory_order_relaxed);
        out.signals_ewma.store(se - se / 16 + round_signals * 256 / 16, std::memory_order_relaxed);
        out.last_round_packets.store(round_packets, std::memory_order_relaxed);
        out.last_round_signals.store(round_signals, std::memory_order_relaxed);
    }
    rounds_.fetch_add(1, std::memory_order_relaxed);
    in_round_.store(false, std::memory_order_release);
    return true;
}

std::vector<PathReading> PathMonitor::readings() const {
    std::vector<PathReading> out(paths_.size());
    for (uint32_t p = 0; p < paths_.size(); ++p) {
        PathReading& r = out[p];
        r.index = p;
        r.path = paths_.path(p);
        for (uint32_t w = 0; w < workers_; ++w) {
            const Slot& s = slot(w, p);
            r.packets += s.packets.load(std::memory_order_relaxed);
            r.bytes += s.bytes.load(std::memory_order_relaxed);
            for (size_t k = 0; k < kSignalCount; ++k)
                r.signals[k] += s.signals[k].load(std::memory_order_relaxed);
            r.moved_in += s.moved_in.load(std::memory_order_relaxed);
            r.moved_out += s.moved_out.load(std::memory_order_relaxed);
        }
        const Published& pub = published_[p];
        r.state = pub.state.load(std::memory_order_relaxed) ? PathState::congested : PathState::ok;
        r.congested_rounds = pub.congested_rounds.load(std::memory_order_relaxed);
        r.times_congested = pub.times_congested.load(std::memory_order_relaxed);
        r.streak = pub.streak.load(std::memory_order_relaxed);
        r.load_per_round = double(pub.load.load(std::memory_order_relaxed)) / 16.0;
        r.last_round_packets = pub.last_round_packets.load(std::memory_order_relaxed);
        r.last_round_signals = pub.last_round_signals.load(std::memory_order_relaxed);
    }
    return out;
}

PsnOwners::PsnOwners(uint32_t slots_log2)
    : slots_(new std::atomic<uint64_t>[size_t(1) << slots_log2]),
      mask_((uint64_t(1) << slots_log2) - 1) {
    for (uint64_t i = 0; i <= mask_; ++i) slots_[i].store(0, std::memory_order_relaxed);
}

uint64_t PsnOwners::key(const roce::IpAddress& src, const roce::IpAddress& dst, uint32_t psn) {
    // One finaliser over the addresses folded to a word each (the direction matters: the
    // destination's is rotated) and the PSN: one per request packet, so it must be cheap;
    // two host pairs that fold alike share slots, and the tag tells them apart only as far
    // as the hash does (a wrong path charged now and then, never a crash).
    uint64_t a0, a1, b0, b1;
    std::memcpy(&a0, src.bytes.data(), 8);
    std::memcpy(&a1, src.bytes.data() + 8, 8);
    std::memcpy(&b0, dst.bytes.data(), 8);
    std::memcpy(&b1, dst.bytes.data() + 8, 8);
    const uint64_t b = b0 ^ b1;
    return flow::mix64((a0 ^ a1) ^ (b << 29 | b >> 35) ^
                       (uint64_t(psn & 0xffffff) * 0x9e3779b97f4a7c15ull));
}

}  // namespace weft::balance

// Per-path congestion signals and the rounds that judge them (PLB's rule: a path is
// congested after N congested rounds in a row, and usable again only after M clean ones,
// so a path does not flap). Shared by every worker of a weftd:
//
// - Counters are written by one worker each (a block of its own per worker: a relaxed
//   load and store, no locked instruction, no shared cache line on the hot path) and
//   summed by whichever worker closes a round (one, by compare-and-swap on the round's
//   deadline).
// - What the policies read (a path's state and load) is one relaxed atomic word each,
//   written only by the round.
//
// Signals, each charged to the path that carried the data it is about:
//   retransmit  a host's request PSN went backwards on the path (go-back-N resent it)
//   nak         a NAK sequence error came back for a PSN that left on the path
//   cnp         a CNP came back for a QP whose requests take the path (its pairing is
//               learnt from the ACKs' PSNs, since a CNP's own PSN names nothing)
//   ecn_ce      reserved for CE marks a peer reports (not yet counted: see README)
//   tx_drop     frames the uplink's TX queue refused, full (a local TX backlog): charged
//               to every path of that uplink
// A NAK or a CNP travels the reverse direction, which may sit on another worker: the PSN
// owner table below lets any worker find the path a PSN left on.
//
// Free of DPDK types: the fabric simulator (a later issue) drives it with its own clock.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include "weft/balance/paths.hpp"
#include "weft/roce/ip_address.hpp"

namespace weft::balance {

enum class Signal : uint8_t { retransmit, nak, cnp, ecn_ce, tx_drop };
inline constexpr size_t kSignalCount = 5;
const char* to_string(Signal s);

struct CongestionSettings {
    uint64_t round_ns = 10'000'000;  // one judgement per round
    uint32_t congested_rounds = 3;   // congested rounds in a row before the path is
    uint32_t clear_rounds = 20;      // clean rounds in a row before it is usable again
    // a round is congested when the path's signals reach this many per thousand packets
    // it carried in the round (and at least one)
    uint32_t signal_permille = 5;
};

enum class PathState : uint8_t { ok, congested };

// What `weftctl paths` shows of one path.
struct PathReading {
    uint32_t index = 0;
    PathChoice path;
    PathState state = PathState::ok;
    uint64_t packets = 0;  // sent on the path (host -> fabric RoCE)
    uint64_t bytes = 0;
    uint64_t signals[kSignalCount] = {};
    uint64_t moved_in = 0;          // flowlets moved onto the path
    uint64_t moved_out = 0;         // flowlets moved away from it
    uint64_t congested_rounds = 0;  // rounds judged congested
    uint64_t times_congested = 0;   // ok -> congested transitions
    uint32_t streak = 0;            // current run of congested (or clean) rounds
    double load_per_round = 0;      // packets per round, smoothed
    uint64_t last_round_packets = 0;
    uint64_t last_round_signals = 0;
};

class PathMonitor {
  public:
    PathMonitor(PathSet paths, uint32_t workers, CongestionSettings settings);
    PathMonitor(const PathMonitor&) = delete;
    PathMonitor& operator=(const PathMonitor&) = delete;

    const PathSet& paths() const { return paths_; }
    const CongestionSettings& settings() const { return settings_; }

    // Hot path, one writer per `worker` block.
    void sent(uint32_t worker, uint32_t path, uint64_t packets, uint64_t bytes) {
        Slot& s = slot(worker, path);
        bump(s.packets, packets);
        bump(s.bytes, bytes);
    }
    void signal(uint32_t worker, uint32_t path, Signal kind) {
        if (path < paths_.size()) bump(slot(worker, path).signals[size_t(kind)], 1);
    }
    // `n` signals on every path of uplink `uplink`
    void uplink_signal(uint32_t worker, uint32_t uplink, Signal kind, uint64_t n) {
        for (uint32_t p = uplink; p < paths_.size(); p += paths_.uplinks())
            bump(slot(worker, p).signals[size_t(kind)], n);
    }
    void moved(uint32_t worker, uint32_t from, uint32_t to) {
        bump(slot(worker, from).moved_out, 1);
        bump(slot(worker, to).moved_in, 1);
    }

    // Read by the policies on every flowlet decision.
    bool congested(uint32_t path) const {
        return published_[path].state.load(std::memory_order_relaxed) != 0;
    }
    uint64_t load(uint32_t path) const {
        return published_[path].load.load(std::memory_order_relaxed);
    }
    // Signals per round, smoothed slowly (1/16 weight: a memory of some fifty rounds), so a
    // path whose congestion has just cleared is not taken for idle: a slow path carries few
    // packets, and by packets alone it would look the least loaded.
    uint64_t recent_signals(uint32_t path) const {
        return published_[path].signals_ewma.load(std::memory_order_relaxed);
    }

    // Closes a round when `now_ns` is past its deadline and no other caller is closing
    // it; true when this call did. Cheap when not due: one relaxed load.
    bool tick(uint64_t now_ns);
    uint64_t rounds() const { return rounds_.load(std::memory_order_relaxed); }

    // Everything about every path (the control thread; reads what the rounds published).
    std::vector<PathReading> readings() const;

  private:
    struct alignas(64) Slot {
        std::atomic<uint64_t> packets{0};
        std::atomic<uint64_t> bytes{0};
        std::atomic<uint64_t> signals[kSignalCount] = {};
        std::atomic<uint64_t> moved_in{0};
        std::atomic<uint64_t> moved_out{0};
    };
    struct alignas(64) Published {
        std::atomic<uint8_t> state{0};
        std::atomic<uint64_t> load{0};          // packets per round, smoothed, x16
        std::atomic<uint64_t> signals_ewma{0};  // signals per round, smoothed, x256
        std::atomic<uint64_t> congested_rounds{0};
        std::atomic<uint64_t> times_congested{0};
        std::atomic<uint32_t> streak{0};
        std::atomic<uint64_t> last_round_packets{0};
        std::atomic<uint64_t> last_round_signals{0};
    };
    // The round's own memory (only the worker closing a round touches it).
    struct Judged {
        uint64_t packets = 0;
        uint64_t signals = 0;
        uint32_t congested_streak = 0;
        uint32_t clean_streak = 0;
    };

    static void bump(std::atomic<uint64_t>& a, uint64_t n) {
        a.store(a.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
    }
    Slot& slot(uint32_t worker, uint32_t path) {
        return slots_[size_t(worker) * paths_.size() + path];
    }
    const Slot& slot(uint32_t worker, uint32_t path) const {
        return slots_[size_t(worker) * paths_.size() + path];
    }

    PathSet paths_;
    uint32_t workers_;
    CongestionSettings settings_;
    std::unique_ptr<Slot[]> slots_;  // workers x paths
    std::unique_ptr<Published[]> published_;
    std::vector<Judged> judged_;
    std::atomic<uint64_t> next_round_ns_{0};
    std::atomic<bool> in_round_{false};
    std::atomic<uint64_t> rounds_{0};
};

// Which path each recent request PSN left on, so a NAK (which names the PSN it expected)
// or an ACK (the PSN it acknowledges) coming back is charged to, or paired with, the
// path that carried the data. Direct-mapped by (sender, receiver, PSN): a slot is
// overwritten by later packets, and a tag of the key tells a stale slot from a hit.
// One relaxed 64-bit store per request packet; any worker may read any slot.
class PsnOwners {
  public:
    explicit PsnOwners(uint32_t slots_log2 = 16);
    // A request packet with `psn` from `src` to `dst` left on `path`.
    void record(const roce::IpAddress& src, const roce::IpAddress& dst, uint32_t psn,
                uint32_t path) {
        const uint64_t h = key(src, dst, psn);
        slots_[h & mask_].store(tag(h) | path, std::memory_order_relaxed);
    }
    // The path of the request with `psn` that `src` sent to `dst`; false when unknown.
    bool find(const roce::IpAddress& src, const roce::IpAddress& dst, uint32_t psn,
              uint32_t& path) const {
        const uint64_t h = key(src, dst, psn);
        const uint64_t v = slots_[h & mask_].load(std::memory_order_relaxed);
        if ((v & ~0xffffffffull) != tag(h)) return false;
        path = uint32_t(v);
        return true;
    }

  private:
    static uint64_t key(const roce::IpAddress& src, const roce::IpAddress& dst, uint32_t psn);
    // the key's high half, never 0 (an empty slot matches nothing)
    static uint64_t tag(uint64_t h) { return (h | 1ull << 32) & ~0xffffffffull; }
    std::unique_ptr<std::atomic<uint64_t>[]> slots_;
    uint64_t mask_;
};

}  // namespace weft::balance

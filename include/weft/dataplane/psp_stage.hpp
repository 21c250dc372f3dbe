// The state of crypt.seal and crypt.open for one worker: the master keys, a send SA per
// peer weftd (its receive SPI) and this weftd's receive SAs (its rx_spi in both
// generations, so a peer may switch master key without a lost frame). Rotation: see
// psp_keys.hpp.
//
// How peers learn each other's receive SPI without the controller: each weftd's [psp]
// names its own rx_spi and, per [[psp.peers]], the hosts behind that peer and the peer's
// rx_spi; both sides hold the same master-key file (the fleet's pair), so either can
// derive any SPI's key and nothing secret is exchanged. The controller issue will hand
// out SPIs and keys instead.
//
// IVs: each worker's send SAs start at the wall clock in nanoseconds (the PSP spec's own
// suggestion: a timestamp) plus the worker's index, and step by the number of workers. A
// restart therefore starts beyond every IV used before (fewer than one frame per
// nanosecond was sent), so no IV repeats under a key across restarts without anything
// persisted; a clock stepped backwards past the previous run's last IV is the one way to
// break that, and weftd refuses to start when the clock reads before 2024.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "weft/crypt/psp.hpp"
#include "weft/dataplane/burst.hpp"
#include "weft/dataplane/config.hpp"
#include "weft/dataplane/counters.hpp"
#include "weft/dataplane/psp_keys.hpp"

namespace weft::dataplane {

// One security association's counters as `weftctl keys` shows them (Linux's PSP stats,
// per SA): summed over workers by Instance::psp_sas().
struct PspSaReading {
    bool receive = false;  // a receive SA (this weftd's rx_spi), else a peer's send SA
    std::string peer;      // send SAs: the peer's name
    uint32_t spi = 0;
    uint64_t packets = 0, bytes = 0, auth_fail = 0, replay = 0, errors = 0;
};

class PspStage {
  public:
    // Throws DataplaneError (the key file, an SPI) naming the file or the setting.
    // `max_frame`: the largest frame the fabric ports take (their smallest MTU + the
    // Ethernet header); 0: no limit.
    PspStage(const PspConfig& config, unsigned worker, unsigned workers, uint32_t max_frame = 0);
    bool enabled() const { return enabled_; }

    // Key rotation (psp_keys.hpp): at the start of each burst the stage looks at the
    // state's serial number (one load) and adopts a new state between bursts: a master
    // key replaced is loaded for receiving at once (its old SAs counted stale), and the
    // senders move to the new generation (bit 31 = generation & 1) when the state says,
    // under fresh SAs and IVs.
    void follow(const PspKeyState* state) { state_ = state; }
    uint32_t generation() const { return current_generation_; }

    // crypt.seal: RoCE frames to hosts behind a peer are sealed for it.
    void seal(Burst& b, CryptCounters& counters);
    // crypt.open: PSP frames are opened (or dropped and counted); plaintext RoCE from a
    // host behind a peer is dropped (zero trust).
    void open(Burst& b, CryptCounters& counters);

    // Adds this worker's per-SA counters into `out` (2 receive SAs, then one send SA per
    // peer, in configuration order; `out` sized by the first call). Any thread: the
    // counters are relaxed atomics the worker alone writes.
    void add_sa_counters(std::vector<PspSaReading>& out) const;

  private:
    // Written by the worker only (a relaxed load and store: a plain add on x86), read by
    // the control thread.
    struct SaCounters {
        std::atomic<uint32_t> spi{0};
        std::atomic<uint64_t> packets{0}, bytes{0}, auth_fail{0}, replay{0}, errors{0};
        static void add(std::atomic<uint64_t>& c, uint64_t n) {
            c.store(c.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
        }
        void reset(uint32_t new_spi);
    };
    struct Peer {
        std::vector<roce::IpPrefix> hosts;
        std::unique_ptr<crypt::TxSa> tx;
    };
    static crypt::RxSa* find_rx(uint32_t spi, uint8_t version, void* self);

    void refresh(CryptCounters& counters);
    void move_senders_if_due(CryptCounters& counters);
    void adopt(const PspEpoch& epoch, CryptCounters& counters);
    void rebuild_senders(uint32_t generation);
    void make_receiver(unsigned slot);

    bool enabled_ = false;
    uint32_t max_frame_ = 0;
    PspConfig config_;
    unsigned worker_ = 0, workers_ = 1;
    const PspKeyState* state_ = nullptr;
    uint64_t serial_ = 0;              // of the state adopted last
    uint32_t current_generation_ = 0;  // the senders'
    uint32_t target_generation_ = 0;   // the state's, once send_from_ns_ has come
    uint64_t send_from_ns_ = 0;
    std::shared_ptr<const crypt::MasterKeys> keys_;
    std::vector<Peer> peers_;
    std::unique_ptr<crypt::RxSa> rx_[2];         // rx_spi with bit 31 clear, and set
    std::unique_ptr<SaCounters[]> sa_counters_;  // rx_[0], rx_[1], then one per peer
};

}  // namespace weft::dataplane

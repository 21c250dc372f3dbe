// The state of crypt.seal and crypt.open for one worker: the master keys, a send SA per
// peer weftd (its receive SPI) and this weftd's receive SAs (its rx_spi in both
// generations, so a peer may switch master key without a lost frame).
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
#include <vector>

#include "weft/crypt/psp.hpp"
#include "weft/dataplane/burst.hpp"
#include "weft/dataplane/config.hpp"
#include "weft/dataplane/counters.hpp"

namespace weft::dataplane {

class PspStage {
  public:
    // Throws DataplaneError (the key file, an SPI) naming the file or the setting.
    // `max_frame`: the largest frame the fabric ports take (their smallest MTU + the
    // Ethernet header); 0: no limit.
    PspStage(const PspConfig& config, unsigned worker, unsigned workers, uint32_t max_frame = 0);
    bool enabled() const { return enabled_; }

    // Key rotation. Receivers hold both generations of their rx_spi at all times (both
    // master keys are loaded), so a sender may switch generation whenever it is told to:
    // the next burst after `generation` changes seals with the peers' SPIs in the new
    // generation (bit 31 = generation & 1), under fresh SAs and IVs. The source is the
    // instance's; workers read it once per burst (one relaxed load).
    void follow_generation(const std::atomic<uint32_t>* generation) { generation_ = generation; }
    uint32_t generation() const { return current_generation_; }

    // crypt.seal: RoCE frames to hosts behind a peer are sealed for it.
    void seal(Burst& b, CryptCounters& counters);
    // crypt.open: PSP frames are opened (or dropped and counted); plaintext RoCE from a
    // host behind a peer is dropped (zero trust).
    void open(Burst& b, CryptCounters& counters);

  private:
    struct Peer {
        std::vector<roce::IpPrefix> hosts;
        std::unique_ptr<crypt::TxSa> tx;
    };
    static crypt::RxSa* find_rx(uint32_t spi, uint8_t version, void* self);

    void rebuild_senders(uint32_t generation);

    bool enabled_ = false;
    uint32_t max_frame_ = 0;
    PspConfig config_;
    unsigned worker_ = 0, workers_ = 1;
    const std::atomic<uint32_t>* generation_ = nullptr;
    uint32_t current_generation_ = 0;
    std::unique_ptr<crypt::MasterKeys> keys_;
    std::vector<Peer> peers_;
    std::unique_ptr<crypt::RxSa> rx_[2];  // rx_spi with bit 31 clear, and set
};

}  // namespace weft::dataplane

// The PSP key state every worker of a weftd follows: the two master keys, the generation
// its senders seal in, and since when. Rotations (`weftctl keys rotate`, the timer) change
// it on the control thread; workers look at a serial number once per burst and adopt a
// new state between bursts.
//
// Rotation, as Linux's PSP devices do it, with the fleet's master-key file standing in
// for the device key (the controller issue will hand out keys instead):
// - A generation's master key is the file's key (generation & 1), so bit 31 of an SPI
//   names it. Receivers hold both keys at all times: the current generation and the one
//   before it.
// - `rotate` re-reads the file. A key replaced in it (only ever the one not in use: an
//   operator writes the new key there first, on every host) is loaded at once for
//   receiving, and the key it replaces goes stale: its security associations are dropped
//   (the stale_events counter). Senders move to the new key only rotate_send_delay_ms
//   later, so every peer rotated within that delay can open what they seal: receive
//   state first, then send (the rule Cilium's rotation bugs taught).
// - Without a new key in the file, rotation moves senders to the other key at once (both
//   peers hold it already).
// - If the key in use was the one replaced (this weftd restarted behind a fleet that has
//   rotated since), the new key is adopted for sending at once: the peers already treat
//   the old one as stale.
// - Both keys replaced at once is refused: frames in flight under either old key would
//   stop opening.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

#include "weft/crypt/keys.hpp"
#include "weft/dataplane/config.hpp"

namespace weft::dataplane {

struct PspEpoch {
    uint64_t serial = 0;
    // Rotations made by this weftd since it started; generation & 1 is the master key its
    // senders use (restarted peers count from 0 again: only the parity is on the wire).
    uint32_t generation = 0;
    std::shared_ptr<const crypt::MasterKeys> keys;
    // CLOCK_MONOTONIC (steady_clock) nanoseconds at or after which senders seal in
    // `generation`; before it, in `generation - 1`.
    uint64_t send_from_ns = 0;
    std::chrono::system_clock::time_point since;          // when this generation began
    std::chrono::system_clock::time_point key_loaded[2];  // when each key was loaded
};

struct PspRotation {
    uint32_t generation = 0;
    bool new_key = false;     // a key was replaced in the file and loaded
    uint32_t send_in_ms = 0;  // when the senders move to it
};

class PspKeyState {
  public:
    // Loads the master-key file (DataplaneError naming it and the reason, never a key).
    explicit PspKeyState(const PspConfig& config);

    uint64_t serial() const { return serial_.load(std::memory_order_acquire); }
    PspEpoch epoch() const;

    // Re-reads the master-key file and moves to the next generation (see above); throws
    // DataplaneError, leaving the state as it was, for a file that cannot be read or both
    // keys replaced.
    PspRotation rotate();

    // The timer: rotates when the wall clock has crossed a multiple of
    // rotate_interval_s since the last call (every weftd of a fleet with synchronised
    // clocks rotates together). Returns whether it rotated; errors as rotate().
    bool rotate_if_due(std::chrono::system_clock::time_point now);

    static uint64_t steady_ns();

  private:
    PspConfig config_;
    mutable std::mutex mutex_;
    PspEpoch epoch_;
    std::atomic<uint64_t> serial_{1};
    uint64_t timer_slot_ = 0;  // rotate_interval_s periods since the epoch, last seen
};

}  // namespace weft::dataplane

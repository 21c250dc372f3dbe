#include "weft/dataplane/psp_keys.hpp"

#include <fmt/format.h>

#include "weft/dataplane/instance.hpp"

namespace weft::dataplane {

namespace {

std::shared_ptr<const crypt::MasterKeys> load(const std::string& path) {
    try {
        return std::make_shared<const crypt::MasterKeys>(crypt::load_master_keys(path));
    } catch (const crypt::CryptError& e) {
        throw DataplaneError(fmt::format("[psp] master_keys: {}", e.what()));
    }
}

uint64_t interval_slot(std::chrono::system_clock::time_point now, uint32_t interval_s) {
    const auto s = std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
    return s < 0 ? 0 : uint64_t(s) / interval_s;
}

}  // namespace

uint64_t PspKeyState::steady_ns() {
    return uint64_t(std::chrono::duration_cast<std::chrono::nanoseconds>(
                        std::chrono::steady_clock::now().time_since_epoch())
                        .count());
}

PspKeyState::PspKeyState(const PspConfig& config) : config_(config) {
    epoch_.serial = 1;
    epoch_.keys = load(config.master_keys);
    epoch_.since = std::chrono::system_clock::now();
    epoch_.key_loaded[0] = epoch_.key_loaded[1] = epoch_.since;
    if (config.rotate_interval_s)
        timer_slot_ = interval_slot(epoch_.since, config.rotate_interval_s);
}

PspEpoch PspKeyState::epoch() const {
    std::lock_guard lock(mutex_);
    return epoch_;
}

PspRotation PspKeyState::rotate() {
    std::shared_ptr<const crypt::MasterKeys> fresh = load(config_.master_keys);
    std::lock_guard lock(mutex_);
    const unsigned in_use = epoch_.generation & 1;
    const bool changed[2] = {!crypt::same_master_key(*fresh, *epoch_.keys, 0),
                             !crypt::same_master_key(*fresh, *epoch_.keys, 1)};
    if (changed[0] && changed[1])
        throw DataplaneError(fmt::format(
            "{}: both master keys differ from the ones loaded; frames in flight under either "
            "would stop opening. Replace one key at a time: the one not in use (key {}), "
            "rotate every weftd, then the other",
            config_.master_keys, in_use ^ 1));
    const uint64_t pending_ms =
        epoch_.send_from_ns > steady_ns() ? (epoch_.send_from_ns - steady_ns()) / 1'000'000 + 1 : 0;
    if (pending_ms)
        throw DataplaneError(fmt::format(
            "the previous rotation's senders move to its new key in {} ms; rotate again after "
            "that (until then they still use the key it would replace)",
            pending_ms));
    const auto now = std::chrono::system_clock::now();
    PspRotation r;
    if (changed[in_use]) {
        // The fleet has rotated past this weftd: the key it seals with is stale at the
        // peers already. Seal with the new one at once (same key slot: two generations on).
        epoch_.generation += 2;
        epoch_.send_from_ns = steady_ns();
        epoch_.key_loaded[in_use] = now;
        r.new_key = true;
    } else {
        epoch_.generation += 1;
        r.new_key = changed[in_use ^ 1];
        if (r.new_key) {
            epoch_.key_loaded[in_use ^ 1] = now;
            r.send_in_ms = config_.rotate_send_delay_ms;
        }
        epoch_.send_from_ns = steady_ns() + uint64_t(r.send_in_ms) * 1'000'000ull;
    }
    epoch_.keys = std::move(fresh);
    epoch_.since = now;
    epoch_.serial = serial_.load(std::memory_order_relaxed) + 1;
    serial_.store(epoch_.serial, std::memory_order_release);
    r.generation = epoch_.generation;
    return r;
}

bool PspKeyState::rotate_if_due(std::chrono::system_clock::time_point now) {
    if (!config_.rotate_interval_s) return false;
    const uint64_t slot = interval_slot(now, config_.rotate_interval_s);
    if (slot <= timer_slot_) return false;
    timer_slot_ = slot;  // a failed rotation is retried at the next boundary, not at once
    rotate();
    return true;
}

}  // namespace weft::dataplane

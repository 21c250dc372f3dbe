#include "weft/balance/reorder_peers.hpp"

namespace weft::balance {

bool ReorderPeers::offer(const roce::IpPrefix& prefix, uint64_t expires_ns) {
    std::lock_guard lock(writers_);
    const uint32_t n = count_.load(std::memory_order_relaxed);
    for (uint32_t i = 0; i < n; ++i)
        if (entries_[i].prefix.bits == prefix.bits &&
            entries_[i].prefix.base.bytes == prefix.base.bytes) {
            entries_[i].expires_ns.store(expires_ns, std::memory_order_relaxed);
            return true;
        }
    if (n == kMaxPrefixes) return false;
    entries_[n].prefix = prefix;
    entries_[n].expires_ns.store(expires_ns, std::memory_order_relaxed);
    count_.store(n + 1, std::memory_order_release);
    return true;
}

std::vector<ReorderPeers::Reading> ReorderPeers::readings() const {
    std::vector<Reading> out;
    const uint32_t n = count_.load(std::memory_order_acquire);
    for (uint32_t i = 0; i < n; ++i)
        out.push_back({entries_[i].prefix, entries_[i].expires_ns.load(std::memory_order_relaxed)});
    return out;
}

}  // namespace weft::balance

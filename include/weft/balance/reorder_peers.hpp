// The hosts that weftds across the fabric have offered to reorder for (reorder_offer.hpp),
// each until its offer expires. Written when an offer arrives (rarely: once an interval
// per peer and uplink; a mutex among writers), read by the spray policy for every request
// packet without a lock: entries are only appended (their prefix written before the count
// that publishes them) and their expiry is one atomic word.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <mutex>
#include <vector>

#include "weft/roce/ip_address.hpp"

namespace weft::balance {

class ReorderPeers {
  public:
    static constexpr size_t kMaxPrefixes = 256;

    // `prefix` may be sprayed to until `expires_ns`; false when the table is full.
    bool offer(const roce::IpPrefix& prefix, uint64_t expires_ns);
    bool reorders(const roce::IpAddress& dst, uint64_t now_ns) const {
        const uint32_t n = count_.load(std::memory_order_acquire);
        for (uint32_t i = 0; i < n; ++i)
            if (entries_[i].expires_ns.load(std::memory_order_relaxed) > now_ns &&
                entries_[i].prefix.contains(dst))
                return true;
        return false;
    }
    struct Reading {
        roce::IpPrefix prefix;
        uint64_t expires_ns;
    };
    std::vector<Reading> readings() const;

  private:
    struct Entry {
        roce::IpPrefix prefix;
        std::atomic<uint64_t> expires_ns{0};
    };
    std::array<Entry, kMaxPrefixes> entries_;
    std::atomic<uint32_t> count_{0};
    std::mutex writers_;
};

}  // namespace weft::balance

// Interns IP addresses into dense 32-bit host ids. A fabric has far fewer hosts than
// QP flows, so flow keys carry two ids (8 bytes) instead of two addresses (32 bytes).
// Bounded; a full table refuses new hosts and the caller counts the refusal.
#pragma once

#include <cstdint>
#include <vector>

#include "weft/flow/record.hpp"
#include "weft/flow/zeroed_array.hpp"
#include "weft/roce/ip_address.hpp"

namespace weft::flow {

class HostTable {
  public:
    explicit HostTable(uint32_t max_hosts, uint64_t seed = 0x5eed);

    // Id of `addr`, inserting it if new; kNoIndex when the table is full.
    uint32_t intern(const roce::IpAddress& addr);
    // Id of `addr` or kNoIndex, without inserting.
    uint32_t find(const roce::IpAddress& addr) const;
    const roce::IpAddress& address(uint32_t id) const { return addresses_[id]; }
    uint32_t size() const { return uint32_t(addresses_.size()); }
    uint32_t capacity() const { return max_hosts_; }
    size_t memory_bytes() const;

  private:
    uint64_t hash(const roce::IpAddress& a) const;
    uint32_t max_hosts_;
    uint64_t seed_;
    uint32_t mask_;
    ZeroedArray<uint32_t> slots_;  // id + 1; 0 = empty
    std::vector<roce::IpAddress> addresses_;
};

}  // namespace weft::flow

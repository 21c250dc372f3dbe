#include "weft/flow/host_table.hpp"

#include "weft/flow/hash.hpp"

#include <bit>
#include <cstring>

namespace weft::flow {

HostTable::HostTable(uint32_t max_hosts, uint64_t seed) : max_hosts_(max_hosts), seed_(seed) {
    uint32_t slots = std::bit_ceil(std::max<uint32_t>(16, max_hosts * 2));
    mask_ = slots - 1;
    slots_ = ZeroedArray<uint32_t>(slots);
    addresses_.reserve(max_hosts);
}

uint64_t HostTable::hash(const roce::IpAddress& a) const {
    uint64_t lo, hi;
    std::memcpy(&lo, a.bytes.data(), 8);
    std::memcpy(&hi, a.bytes.data() + 8, 8);
    return hash_combine(seed_, lo, hi);
}

uint32_t HostTable::find(const roce::IpAddress& addr) const {
    for (uint32_t i = uint32_t(hash(addr)) & mask_;; i = (i + 1) & mask_) {
        uint32_t s = slots_[i];
        if (s == 0) return kNoIndex;
        if (addresses_[s - 1] == addr) return s - 1;
    }
}

uint32_t HostTable::intern(const roce::IpAddress& addr) {
    uint32_t i = uint32_t(hash(addr)) & mask_;
    for (;; i = (i + 1) & mask_) {
        uint32_t s = slots_[i];
        if (s == 0) break;
        if (addresses_[s - 1] == addr) return s - 1;
    }
    if (addresses_.size() >= max_hosts_) return kNoIndex;
    addresses_.push_back(addr);  // capacity reserved up front: never reallocates
    slots_[i] = uint32_t(addresses_.size());
    return uint32_t(addresses_.size() - 1);
}

size_t HostTable::memory_bytes() const {
    return slots_.size() * sizeof(uint32_t) + addresses_.capacity() * sizeof(roce::IpAddress);
}

}  // namespace weft::flow

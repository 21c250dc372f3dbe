// Keyed 64-bit mixing for the flow and host tables. Full avalanche matters: IPv4-mapped
// addresses differ only in their last four bytes, and QPNs of one NIC are sequential.
#pragma once

#include <cstdint>

namespace weft::flow {

// MurmurHash3's 64-bit finaliser: every input bit flips each output bit with p ~ 1/2.
inline uint64_t mix64(uint64_t k) {
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdull;
    k ^= k >> 33;
    k *= 0xc4ceb9fe1a85ec53ull;
    k ^= k >> 33;
    return k;
}

inline uint64_t hash_combine(uint64_t seed, uint64_t a, uint64_t b) {
    return mix64(mix64(a ^ seed) ^ b);
}

}  // namespace weft::flow

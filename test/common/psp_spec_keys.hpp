// The PSP architecture specification's example master keys (key 0, key 1), as a master-key
// file holds them: what the tests, the fuzz target and the benchmark derive their SAs from,
// so their keys are the spec's, whose derived-key vectors the unit tests check.
#pragma once

#include "weft/crypt/keys.hpp"

namespace weft::test {

inline constexpr const char* kSpecMasterKeys =
    "34448a064292601b11a0978f56a2d34cf3fc35ede1a6bc04f8db3e5243a2b0ca\n"
    "563952565d3a78ae773ec1b779f2f2d99f4a7f53a6fbb9b07d5b71f39364d739\n";

// The same, loaded once (parse_master_keys, no file).
inline const crypt::MasterKeys& spec_master_keys() {
    static const crypt::MasterKeys keys = crypt::parse_master_keys(kSpecMasterKeys, "spec");
    return keys;
}

}  // namespace weft::test

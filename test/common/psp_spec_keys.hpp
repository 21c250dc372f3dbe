// The PSP architecture specification's example master keys (key 0, key 1), as a master-key
// file holds them: what the tests, the fuzz target and the benchmark derive their SAs from,
// so their keys are the spec's, whose derived-key vectors the unit tests check.
#pragma once

#include <stdlib.h>
#include <sys/stat.h>

#include <cstdio>
#include <string>

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

// The same in a master-key file (mode 0600, in a directory of its own under /tmp made once
// per process), for what loads keys from a file as weftd does.
inline const std::string& spec_master_key_file() {
    static const std::string path = [] {
        char tmpl[] = "/tmp/weft-psp-spec-keys-XXXXXX";
        const char* dir = ::mkdtemp(tmpl);
        const std::string p = std::string(dir ? dir : "/tmp") + "/master.keys";
        FILE* f = std::fopen(p.c_str(), "w");
        if (f) {
            std::fputs(kSpecMasterKeys, f);
            std::fclose(f);
        }
        ::chmod(p.c_str(), 0600);
        return p;
    }();
    return path;
}

}  // namespace weft::test

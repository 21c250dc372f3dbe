// `weftctl psp seal` and `weftctl psp open`: PSP over capture files, through the same
// sealing and opening code as weftd's crypt stages. Sealing uses one SA (the given SPI);
// opening derives a receive SA for every SPI it meets from the master keys (what a
// receiver holding both master keys can do), each with its own replay window.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>

#include "weft/crypt/psp.hpp"

namespace weft::crypt {

struct FileCounters {
    uint64_t frames = 0;                      // read
    uint64_t written = 0;                     // sealed, or opened and authenticated
    std::map<std::string, uint64_t> refused;  // by reason (to_string of the status)
    std::map<uint32_t, uint64_t> by_spi;      // open: frames opened per SPI
    std::string truncation;  // non-empty: the capture ends inside a record (the reader's words)
};

// Reads `in`, writes `out` (io::OutputFile rules: no symlink, 0600, renamed into place).
// Throws CryptError or capture::CaptureError.
FileCounters seal_file(const std::string& in, const std::string& out, const MasterKeys& keys,
                       uint32_t spi, const SealOptions& options, uint64_t first_iv);
FileCounters open_file(const std::string& in, const std::string& out, const MasterKeys& keys);

}  // namespace weft::crypt

// Offline analysis: a capture file through the same parser and flow table as weftd,
// with every ICRC verified. Used by `weftctl analyze`.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "weft/crypt/keys.hpp"
#include "weft/flow/summary.hpp"
#include "weft/flow/table.hpp"
#include "weft/flow/table_flows.hpp"
#include "weft/flow/totals.hpp"

namespace weft::analyze {

struct Progress {
    uint64_t frames = 0;
    uint64_t bytes_read = 0;
    uint64_t file_size = 0;
    double seconds = 0;
};

// PSP frames (UDP port 1000) of one SPI and version.
struct PspSpiCounters {
    uint64_t frames = 0, bytes = 0;
    uint64_t opened = 0;                      // with master keys: authenticated, decrypted
    std::map<std::string, uint64_t> refused;  // with master keys: why not (to_string)
};

struct Options {
    bool verify_icrc = true;
    // Master keys: PSP frames are opened and their inner RoCE analysed like any frame
    // (a frame that does not open is counted per SPI, not analysed). Without keys, PSP
    // frames are counted per SPI and are "not RoCE" to the flow analysis.
    const crypt::MasterKeys* psp_keys = nullptr;
    flow::TableConfig table{};
    // Called about once a second after the first second; never on short files.
    std::function<void(const Progress&)> on_progress;
};

struct Result {
    flow::Totals totals;
    flow::TableCounters table;
    // The flows, summarised on demand (TableFlows), and the table they are read from.
    std::unique_ptr<flow::Table> flow_table;
    flow::TableFlows flows;
    std::map<std::pair<uint32_t, uint8_t>, PspSpiCounters> psp;  // by (SPI, version)
    std::string truncation;  // non-empty: the last record was cut short
    std::string corruption;  // non-empty: reading stopped at a record that cannot be right
    double seconds = 0;
};

// Throws capture::CaptureError for a missing, unreadable or non-capture file, or a link
// type other than Ethernet and Linux cooked (SLL, SLL2). `path` "-" is standard input.
Result analyze_file(const std::string& path, const Options& options);

}  // namespace weft::analyze

// Offline analysis: a capture file through the same parser and flow table as weftd,
// with every ICRC verified. Used by `weftctl analyze`.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

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

struct Options {
    bool verify_icrc = true;
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
    std::string truncation;  // non-empty: the last record was cut short
    std::string corruption;  // non-empty: reading stopped at a record that cannot be right
    double seconds = 0;
};

// Throws capture::CaptureError for a missing, unreadable or non-capture file, or a link
// type other than Ethernet and Linux cooked (SLL, SLL2). `path` "-" is standard input.
Result analyze_file(const std::string& path, const Options& options);

}  // namespace weft::analyze

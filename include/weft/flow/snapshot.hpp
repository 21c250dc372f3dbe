// Flow snapshots of a live table. A table belongs to one thread and nothing else may read
// it while that thread runs, so the owner copies its flows out itself, a bounded number of
// records per step, into a buffer the reader allocated. Between two bursts a weftd worker
// spends a few microseconds on a step, and a whole snapshot never stalls its pipeline.
// Each copy carries its host addresses and its extension, so it stays meaningful after
// the table has moved on (records and extensions are reused).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "weft/flow/summary.hpp"
#include "weft/flow/table.hpp"

namespace weft::flow {

struct FlowCopy {
    FlowRecord record;
    FlowExtension extension;
    bool has_extension;
    roce::IpAddress src;
    roce::IpAddress dst;
};

class TableCopier {
  public:
    // Starts a copy into `out`; flows beyond its size are counted, not copied.
    void start(std::span<FlowCopy> out);
    // Visits up to `max_records` records of `table` from where the last step stopped.
    // Returns true once every record has been visited.
    bool step(const Table& table, uint32_t max_records);
    size_t copied() const { return copied_; }
    size_t missed() const { return missed_; }  // live flows that did not fit in `out`

  private:
    std::span<FlowCopy> out_;
    uint32_t cursor_ = 0;
    size_t copied_ = 0;
    size_t missed_ = 0;
};

FlowSummary summarize(const FlowCopy& copy);
// Summaries of the copies, not yet paired (pair_flows() once over every table's copies).
std::vector<FlowSummary> summarize_copies(std::span<const FlowCopy> copies);

}  // namespace weft::flow

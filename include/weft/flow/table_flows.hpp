// A table's flows as a report reads them: indexed and paired once (a few bytes a flow),
// each summarised only when the report reaches it. `weftctl analyze --json` of 660 k flows
// held every FlowSummary at once (~450 bytes each with their vectors, more than the table
// itself); through this index it holds the table, the index, and one summary at a time.
// The flows are in the table's record order, as summarize_all() gives them.
#pragma once

#include <cstdint>
#include <vector>

#include "weft/flow/filter.hpp"
#include "weft/flow/summary.hpp"
#include "weft/flow/table.hpp"

namespace weft::flow {

class TableFlows {
  public:
    TableFlows() = default;
    // Indexes every live flow of `table` (which must outlive this) and pairs the two
    // directions of each RC connection as pair_flows() does.
    explicit TableFlows(const Table& table, uint32_t window = 1u << 14);

    size_t size() const { return records_.size(); }
    bool empty() const { return records_.empty(); }
    // Flow i summarised, with `reverse` (an index into this set) and `outstanding_reads`.
    FlowSummary summary(size_t i) const;
    FlowId id(size_t i) const;
    // As select_flows() over the summaries, without holding them.
    std::vector<size_t> select(const FlowFilter& filter) const;
    // Every summary at once (tests, small captures): summarize_all()'s result.
    std::vector<FlowSummary> all() const;

  private:
    static constexpr uint32_t kUnpaired = 0xffffffffu;
    const Table* table_ = nullptr;
    std::vector<uint32_t> records_;  // record index of flow i
    std::vector<uint32_t> reverse_;  // flow index of its reverse, or kUnpaired
};

}  // namespace weft::flow

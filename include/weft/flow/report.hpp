// The flow report: one JSON schema ("weft.flows/1") and one human table, shared by
// `weftctl analyze`, `weftd --dump-flows` and the control socket. docs/SCHEMA.md
// documents every field; tests pin the names.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "weft/flow/filter.hpp"
#include "weft/flow/summary.hpp"
#include "weft/flow/totals.hpp"
#include "weft/roce/packet.hpp"

namespace weft::flow {

inline constexpr const char* kSchemaName = "weft.flows/1";

nlohmann::json flow_to_json(const FlowSummary& f, const std::vector<FlowSummary>& all);
nlohmann::json totals_to_json(const Totals& t);
nlohmann::json table_counters_to_json(const TableCounters& c);
// The whole document: {"schema", "totals", "malformed", "table", "flows"}.
nlohmann::json flows_document(const std::vector<FlowSummary>& flows,
                              const std::vector<size_t>& selected, const Totals& totals,
                              const TableCounters& counters);

// Human-readable report: totals, malformed packets by verdict, then a table of flows.
std::string format_report(const std::vector<FlowSummary>& flows,
                          const std::vector<size_t>& selected, const Totals& totals,
                          const TableCounters& counters);
std::string format_bytes(uint64_t bytes);

}  // namespace weft::flow

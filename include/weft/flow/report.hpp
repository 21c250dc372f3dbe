// The flow report: one JSON schema ("weft.flows/1") and one human table, shared by
// `weftctl analyze`, `weftd --dump-flows` and the control socket. docs/SCHEMA.md
// documents every field; tests pin the names.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "weft/flow/filter.hpp"
#include "weft/flow/summary.hpp"
#include "weft/flow/table_flows.hpp"
#include "weft/flow/table_style.hpp"
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

// The flows a report is written from: how many, flow i's summary (a reference to one kept
// elsewhere, or `scratch` filled in when the report reaches it), and any flow's identity (a
// flow's `reverse` is named by it). One for summaries held in a vector, one for a table's
// flows summarised on demand (table_flows.hpp).
struct FlowSource {
    size_t count = 0;
    std::function<const FlowSummary&(size_t i, FlowSummary& scratch)> summary;
    std::function<FlowId(size_t i)> id;
};
FlowSource flow_source(const std::vector<FlowSummary>& flows);
FlowSource flow_source(const TableFlows& flows);

// Receives a document's text in order, in pieces of up to about 256 KiB.
using TextSink = std::function<void(std::string_view)>;
// The same document written as it is made: the text is byte for byte that of
// `flows_document(...)` with `extra`'s keys added at the top level, `.dump(2)`, plus a
// final newline, but no tree of the flows is ever built (a tree costs a few KB per flow:
// gigabytes for a million flows). Where dump() would throw on invalid UTF-8 (a file name
// in `extra` is bytes), this writes U+FFFD. `extra` must not hold "flows". What `sink`
// throws propagates.
void write_flows_document(const TextSink& sink, const FlowSource& flows,
                          const std::vector<size_t>& selected, const Totals& totals,
                          const TableCounters& counters,
                          const nlohmann::json& extra = nlohmann::json::object());
void write_flows_document(const TextSink& sink, const std::vector<FlowSummary>& flows,
                          const std::vector<size_t>& selected, const Totals& totals,
                          const TableCounters& counters,
                          const nlohmann::json& extra = nlohmann::json::object());

// Human-readable report: totals, malformed packets by verdict, then a table of flows.
std::string format_report(const FlowSource& flows, const std::vector<size_t>& selected,
                          const Totals& totals, const TableCounters& counters,
                          const TableStyle& style = {});
std::string format_report(const std::vector<FlowSummary>& flows,
                          const std::vector<size_t>& selected, const Totals& totals,
                          const TableCounters& counters, const TableStyle& style = {});
std::string format_bytes(uint64_t bytes);

}  // namespace weft::flow

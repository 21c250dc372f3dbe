// The flow report: one JSON schema ("weft.flows/1") and one human table, shared by
// `weftctl analyze`, `weftd --dump-flows` and the control socket. docs/SCHEMA.md
// documents every field; tests pin the names.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "weft/flow/summary.hpp"
#include "weft/roce/packet.hpp"

namespace weft::flow {

inline constexpr const char* kSchemaName = "weft.flows/1";

// Capture- or port-level totals that sit beside the flows.
struct Totals {
    uint64_t frames = 0;        // every frame seen
    uint64_t bytes = 0;         // their wire bytes
    uint64_t roce_packets = 0;  // parse() == Ok
    uint64_t roce_bytes = 0;
    uint64_t not_roce = 0;
    uint64_t icrc_checked = 0;
    uint64_t icrc_errors = 0;
    uint64_t truncated_records = 0;  // capture records cut short by the snap length or EOF
    std::array<uint64_t, roce::kVerdictCount> verdicts{};  // by Verdict
    uint64_t malformed() const;
};

struct FlowFilter {
    std::vector<roce::IpAddress> hosts;  // flow's src or dst is one of these (empty: any)
    std::optional<uint32_t> dest_qp;
    size_t top = 0;  // keep the N largest by bytes (0: all)
    enum class SortKey { Bytes, Packets, Messages, Naks, Gaps } sort = SortKey::Bytes;
};

// "bytes", "packets", "messages", "naks", "gaps".
const char* to_string(FlowFilter::SortKey k);
std::optional<FlowFilter::SortKey> sort_key_from(std::string_view name);

// Indices into `flows` that pass the filter, sorted largest first.
std::vector<size_t> select_flows(const std::vector<FlowSummary>& flows, const FlowFilter& filter);

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

// Which flows a report shows and in what order: the filters and sorts shared by
// `weftctl analyze`, `weftctl flows` and the control socket.
#pragma once

#include <cstddef>
#include <functional>
#include <optional>
#include <string_view>
#include <vector>

#include "weft/flow/summary.hpp"
#include "weft/roce/ip_address.hpp"

namespace weft::flow {

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

// The same over any set of `count` flows: `id(i)` names flow i, `value(i, key)` is what it
// is sorted by (FlowSummary's wire_bytes, packets, messages, nak_total(), psn_gaps).
std::vector<size_t> select_flows(size_t count, const FlowFilter& filter,
                                 const std::function<FlowId(size_t)>& id,
                                 const std::function<uint64_t(size_t, FlowFilter::SortKey)>& value);
uint64_t sort_value(const FlowSummary& f, FlowFilter::SortKey key);

}  // namespace weft::flow

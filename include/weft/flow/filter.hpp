// Which flows a report shows and in what order: the filters and sorts shared by
// `weftctl analyze`, `weftctl flows` and the control socket.
#pragma once

#include <cstddef>
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

}  // namespace weft::flow

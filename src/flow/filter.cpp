#include "weft/flow/filter.hpp"

#include <algorithm>
#include <tuple>

namespace weft::flow {

namespace {

uint64_t sort_value(const FlowSummary& f, FlowFilter::SortKey key) {
    switch (key) {
        case FlowFilter::SortKey::Bytes:
            return f.wire_bytes;
        case FlowFilter::SortKey::Packets:
            return f.packets;
        case FlowFilter::SortKey::Messages:
            return f.messages;
        case FlowFilter::SortKey::Naks:
            return f.nak_total();
        case FlowFilter::SortKey::Gaps:
            return f.psn_gaps;
    }
    return 0;
}

}  // namespace

namespace {
constexpr std::pair<FlowFilter::SortKey, const char*> kSortKeys[] = {
    {FlowFilter::SortKey::Bytes, "bytes"},
    {FlowFilter::SortKey::Packets, "packets"},
    {FlowFilter::SortKey::Messages, "messages"},
    {FlowFilter::SortKey::Naks, "naks"},
    {FlowFilter::SortKey::Gaps, "gaps"}};
}  // namespace

const char* to_string(FlowFilter::SortKey k) {
    for (auto& [key, name] : kSortKeys)
        if (key == k) return name;
    return "bytes";
}

std::optional<FlowFilter::SortKey> sort_key_from(std::string_view name) {
    for (auto& [key, n] : kSortKeys)
        if (name == n) return key;
    return std::nullopt;
}

std::vector<size_t> select_flows(const std::vector<FlowSummary>& flows, const FlowFilter& filter) {
    std::vector<size_t> out;
    for (size_t i = 0; i < flows.size(); ++i) {
        const FlowSummary& f = flows[i];
        if (filter.dest_qp && f.dest_qp != *filter.dest_qp) continue;
        if (!filter.hosts.empty() &&
            std::none_of(filter.hosts.begin(), filter.hosts.end(),
                         [&](const roce::IpAddress& h) { return h == f.src || h == f.dst; }))
            continue;
        out.push_back(i);
    }
    // Largest first; ties broken by key so output is deterministic.
    std::sort(out.begin(), out.end(), [&](size_t a, size_t b) {
        uint64_t va = sort_value(flows[a], filter.sort), vb = sort_value(flows[b], filter.sort);
        if (va != vb) return va > vb;
        return std::tie(flows[a].src, flows[a].dst, flows[a].dest_qp) <
               std::tie(flows[b].src, flows[b].dst, flows[b].dest_qp);
    });
    if (filter.top && out.size() > filter.top) out.resize(filter.top);
    return out;
}

}  // namespace weft::flow

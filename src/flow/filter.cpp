#include "weft/flow/filter.hpp"

#include <algorithm>
#include <cstring>
#include <tuple>

namespace weft::flow {

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
    return select_flows(
        flows.size(), filter,
        [&](size_t i) {
            return FlowId{flows[i].src, flows[i].dst, flows[i].dest_qp};
        },
        [&](size_t i, FlowFilter::SortKey key) { return sort_value(flows[i], key); });
}

std::vector<size_t> select_flows(
    size_t count, const FlowFilter& filter, const std::function<FlowId(size_t)>& id,
    const std::function<uint64_t(size_t, FlowFilter::SortKey)>& value) {
    // Largest first; ties broken by the flow's key (src, dst, dest QP: unique per flow) so
    // output is deterministic. Sorted as compact copies of what is compared, not through
    // indices into the summaries (384 bytes each, plus their vectors): with ~10^6 flows, mostly
    // ties in a scan, the indirect sort spent its time in cache misses and memcmp.
    struct Key {
        uint64_t value;
        uint64_t src_hi, src_lo, dst_hi, dst_lo;  // big-endian halves: byte order = <=>'s
        uint32_t dest_qp;
        size_t index;
    };
    auto halves = [](const roce::IpAddress& a) {
        uint64_t hi, lo;
        std::memcpy(&hi, a.bytes.data(), 8);
        std::memcpy(&lo, a.bytes.data() + 8, 8);
        return std::pair(__builtin_bswap64(hi), __builtin_bswap64(lo));
    };
    std::vector<Key> keys;
    for (size_t i = 0; i < count; ++i) {
        const FlowId f = id(i);
        if (filter.dest_qp && f.dest_qp != *filter.dest_qp) continue;
        if (!filter.hosts.empty() &&
            std::none_of(filter.hosts.begin(), filter.hosts.end(),
                         [&](const roce::IpAddress& h) { return h == f.src || h == f.dst; }))
            continue;
        auto [s0, s1] = halves(f.src);
        auto [d0, d1] = halves(f.dst);
        keys.push_back({value(i, filter.sort), s0, s1, d0, d1, f.dest_qp, i});
    }
    auto before = [](const Key& a, const Key& b) {
        if (a.value != b.value) return a.value > b.value;
        return std::tie(a.src_hi, a.src_lo, a.dst_hi, a.dst_lo, a.dest_qp) <
               std::tie(b.src_hi, b.src_lo, b.dst_hi, b.dst_lo, b.dest_qp);
    };
    if (filter.top && keys.size() > filter.top) {
        std::partial_sort(keys.begin(), keys.begin() + long(filter.top), keys.end(), before);
        keys.resize(filter.top);
    } else {
        std::sort(keys.begin(), keys.end(), before);
    }
    std::vector<size_t> out(keys.size());
    for (size_t n = 0; n < keys.size(); ++n) out[n] = keys[n].index;
    return out;
}

}  // namespace weft::flow

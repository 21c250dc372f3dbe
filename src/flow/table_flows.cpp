#include "weft/flow/table_flows.hpp"

namespace weft::flow {

TableFlows::TableFlows(const Table& table, uint32_t window) : table_(&table) {
    records_.reserve(table.size());
    table.for_each([&](uint32_t index, const FlowRecord&) { records_.push_back(index); });
    // Pairing reads addresses and PSNs only: a temporary key per flow, gone after.
    std::vector<PairKey> keys;
    keys.reserve(records_.size());
    for (uint32_t index : records_) {
        const FlowRecord& r = table.record(index);
        PairKey k;
        k.src = table.hosts().address(r.key.src_host());
        k.dst = table.hosts().address(r.key.dst_host());
        if (r.state & kReqPsnValid) k.request_psn_next = r.req_psn_next;
        if (r.state & kRespPsnValid) k.acknowledged_psn_next = r.resp_psn_next;
        keys.push_back(k);
    }
    const std::vector<std::optional<size_t>> reverse = pair_keys(keys, window);
    reverse_.resize(reverse.size(), kUnpaired);
    for (size_t i = 0; i < reverse.size(); ++i)
        if (reverse[i]) reverse_[i] = uint32_t(*reverse[i]);
}

FlowSummary TableFlows::summary(size_t i) const {
    FlowSummary s = summarize(*table_, table_->record(records_[i]));
    if (reverse_[i] != kUnpaired) {
        s.reverse = reverse_[i];
        s.outstanding_reads =
            outstanding_reads(s, summarize(*table_, table_->record(records_[reverse_[i]])));
    }
    return s;
}

FlowId TableFlows::id(size_t i) const {
    const FlowRecord& r = table_->record(records_[i]);
    return {table_->hosts().address(r.key.src_host()), table_->hosts().address(r.key.dst_host()),
            r.key.dest_qp()};
}

std::vector<size_t> TableFlows::select(const FlowFilter& filter) const {
    return select_flows(
        size(), filter, [&](size_t i) { return id(i); },
        [&](size_t i, FlowFilter::SortKey key) -> uint64_t {
            const FlowRecord& r = table_->record(records_[i]);
            switch (key) {  // the record's own counts; the rest from a summary
                case FlowFilter::SortKey::Bytes:
                    return r.wire_bytes;
                case FlowFilter::SortKey::Packets:
                    return r.packets;
                default:
                    return sort_value(summarize(*table_, r), key);
            }
        });
}

std::vector<FlowSummary> TableFlows::all() const {
    std::vector<FlowSummary> out;
    out.reserve(size());
    for (size_t i = 0; i < size(); ++i) out.push_back(summary(i));
    return out;
}

}  // namespace weft::flow

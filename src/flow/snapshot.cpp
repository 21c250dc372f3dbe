#include "weft/flow/snapshot.hpp"

namespace weft::flow {

void TableCopier::start(std::span<FlowCopy> out) {
    out_ = out;
    cursor_ = 0;
    copied_ = 0;
    missed_ = 0;
}

bool TableCopier::step(const Table& table, uint32_t max_records) {
    uint32_t end = table.record_span();
    uint32_t stop = end - cursor_ > max_records ? cursor_ + max_records : end;
    for (; cursor_ < stop; ++cursor_) {
        const FlowRecord& r = table.record(cursor_);
        if (!(r.state & kLive)) continue;
        if (copied_ == out_.size()) {
            ++missed_;
            continue;
        }
        FlowCopy& c = out_[copied_++];
        c.record = r;
        const FlowExtension* x = table.extension(r);
        c.has_extension = x != nullptr;
        if (x) c.extension = *x;
        c.src = table.hosts().address(r.key.src_host());
        c.dst = table.hosts().address(r.key.dst_host());
    }
    return cursor_ >= table.record_span();
}

FlowSummary summarize(const FlowCopy& c) {
    return summarize(c.record, c.has_extension ? &c.extension : nullptr, c.src, c.dst);
}

std::vector<FlowSummary> summarize_copies(std::span<const FlowCopy> copies) {
    std::vector<FlowSummary> out;
    out.reserve(copies.size());
    for (const FlowCopy& c : copies) out.push_back(summarize(c));
    return out;
}

}  // namespace weft::flow

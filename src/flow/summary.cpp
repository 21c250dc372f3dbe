#include "weft/flow/summary.hpp"

#include <algorithm>
#include <map>
#include <tuple>

namespace weft::flow {

uint64_t FlowSummary::opcode_count(uint8_t op) const {
    for (auto& [code, count] : opcodes)
        if (code == op) return count;
    return 0;
}

uint64_t FlowSummary::nak_total() const {
    uint64_t n = 0;
    for (uint64_t v : naks) n += v;
    return n;
}

FlowSummary summarize(const Table& table, const FlowRecord& r) {
    return summarize(r, table.extension(r), table.hosts().address(r.key.src_host()),
                     table.hosts().address(r.key.dst_host()));
}

FlowSummary summarize(const FlowRecord& r, const FlowExtension* x, const roce::IpAddress& src,
                      const roce::IpAddress& dst) {
    FlowSummary s;
    s.src = src;
    s.dst = dst;
    s.dest_qp = r.key.dest_qp();
    if (r.packets > 0) s.src_ports.push_back(r.sport[0]);
    if (r.sport[1] != 0) s.src_ports.push_back(r.sport[1]);
    s.packets = r.packets;
    s.wire_bytes = r.wire_bytes;
    s.payload_bytes = r.payload_bytes;
    s.first_ns = r.first_ns;
    s.last_ns = r.last_ns;
    s.acks = r.acks;
    for (unsigned i = 0; i < kInlineOpcodes; ++i) {
        if (r.op_count[i] == 0) continue;
        uint64_t carries = x ? x->op_carries[i] : 0;
        s.opcodes.emplace_back(r.op[i], carries * 0xffffffffull + r.op_count[i]);
    }
    for (unsigned b = 0; b < kSizeBuckets; ++b) s.message_sizes[b] = r.size_hist[b];
    if (r.state & kReqPsnValid) s.request_psn_next = r.req_psn_next;
    if (r.state & kRespPsnValid) s.acknowledged_psn_next = r.resp_psn_next;
    if (x) {
        for (unsigned i = 0; i < kSpillOpcodes; ++i)
            if (x->spill_count[i]) s.opcodes.emplace_back(x->spill_op[i], x->spill_count[i]);
        s.opcodes_truncated = x->opcodes_overflow;
        for (unsigned i = 0; i < x->extra_sport_count; ++i)
            s.src_ports.push_back(x->extra_sports[i]);
        s.src_ports_truncated = x->sports_overflow;
        s.psn_gaps = x->psn_gaps;
        s.psn_duplicates = x->psn_duplicates;
        s.psn_out_of_order = x->psn_out_of_order;
        for (size_t k = 0; k < roce::kAckKindCount; ++k)
            if (k != size_t(roce::AckKind::Ack)) s.naks[k] = x->aeth[k];
        s.cnp = x->cnp;
        s.ecn_ce = x->ecn_ce;
        s.icrc_errors = x->icrc_errors;
        s.acks += uint64_t(x->ack_carries) << 32;
        for (unsigned b = 0; b < kSizeBuckets; ++b)
            s.message_sizes[b] += uint64_t(x->size_carries[b]) << 16;
    }
    // every completed message is in exactly one size bucket
    for (unsigned b = 0; b < kSizeBuckets; ++b) s.messages += s.message_sizes[b];
    std::sort(s.opcodes.begin(), s.opcodes.end());
    return s;
}

std::vector<FlowSummary> summarize_all(const Table& table) {
    std::vector<FlowSummary> out;
    out.reserve(table.size());
    table.for_each([&](uint32_t, const FlowRecord& r) { out.push_back(summarize(table, r)); });
    pair_flows(out);
    return out;
}

namespace {

uint64_t count_where(const FlowSummary& f, bool (*pred)(const roce::OpcodeInfo&)) {
    uint64_t n = 0;
    for (auto& [code, count] : f.opcodes)
        if (pred(roce::opcode_info(code))) n += count;
    return n;
}
bool is_read_request(const roce::OpcodeInfo& i) {
    return i.operation == roce::Operation::ReadRequest;
}
bool is_read_response_end(const roce::OpcodeInfo& i) {
    return i.operation == roce::Operation::ReadResponse &&
           (i.position == roce::Position::Last || i.position == roce::Position::Only);
}

}  // namespace

std::vector<std::optional<size_t>> pair_keys(const std::vector<PairKey>& flows, uint32_t window) {
    std::vector<std::optional<size_t>> reverse(flows.size());
    // Beyond half the 24-bit PSN space "behind" and "ahead" overlap: every PSN is within
    // 2^23 - 1 of every other one in one direction or the other.
    window = std::min<uint32_t>(window, (1u << 23) - 1);
    // Group flow indices by direction (src, dst).
    std::map<std::pair<roce::IpAddress, roce::IpAddress>, std::vector<size_t>> by_direction;
    for (size_t i = 0; i < flows.size(); ++i)
        by_direction[{flows[i].src, flows[i].dst}].push_back(i);

    // Candidates (distance, forward, reverse): the reverse flow acknowledges PSNs just
    // behind the forward flow's next request PSN.
    std::vector<std::tuple<uint32_t, size_t, size_t>> candidates;
    auto collect = [&](const std::vector<size_t>& requesters,
                       const std::vector<size_t>& responders) {
        // responders sorted by acknowledged PSN, searched per requester within the window
        std::vector<std::pair<uint32_t, size_t>> acked;
        for (size_t g : responders)
            if (flows[g].acknowledged_psn_next)
                acked.emplace_back(*flows[g].acknowledged_psn_next, g);
        if (acked.empty()) return;
        std::sort(acked.begin(), acked.end());
        for (size_t f : requesters) {
            if (!flows[f].request_psn_next) continue;
            const uint32_t next = *flows[f].request_psn_next;
            // acknowledged within `window` of next, either side (a READ's responses run
            // ahead of the request PSN by the READ's packet count), modulo 2^24
            const uint32_t lo = (next - window) & 0xffffff, hi = (next + window) & 0xffffff;
            auto scan = [&](uint32_t a, uint32_t b) {
                for (auto it =
                         std::lower_bound(acked.begin(), acked.end(), std::make_pair(a, size_t(0)));
                     it != acked.end() && it->first <= b; ++it) {
                    uint32_t behind = (next - it->first) & 0xffffff,
                             ahead = (it->first - next) & 0xffffff;
                    candidates.emplace_back(std::min(behind, ahead), f, it->second);
                }
            };
            if (lo <= hi) {
                scan(lo, hi);
            } else {
                scan(lo, 0xffffff);
                scan(0, hi);
            }
        }
    };
    for (auto& [dir, fwd] : by_direction) {
        auto rev = by_direction.find({dir.second, dir.first});
        if (rev == by_direction.end() || dir.second == dir.first) continue;
        collect(fwd, rev->second);
    }
    std::sort(candidates.begin(), candidates.end());
    for (auto& [distance, f, g] : candidates) {
        if (reverse[f] || reverse[g]) continue;
        reverse[f] = g;
        reverse[g] = f;
    }
    return reverse;
}

int64_t outstanding_reads(const FlowSummary& f, const FlowSummary& reverse) {
    return int64_t(count_where(f, is_read_request)) -
           int64_t(count_where(reverse, is_read_response_end));
}

void pair_flows(std::vector<FlowSummary>& flows, uint32_t window) {
    std::vector<PairKey> keys;
    keys.reserve(flows.size());
    for (const FlowSummary& f : flows)
        keys.push_back({f.src, f.dst, f.request_psn_next, f.acknowledged_psn_next});
    std::vector<std::optional<size_t>> reverse = pair_keys(keys, window);
    for (size_t i = 0; i < flows.size(); ++i) flows[i].reverse = reverse[i];
    for (auto& f : flows)
        if (f.reverse) f.outstanding_reads = outstanding_reads(f, flows[*f.reverse]);
}

}  // namespace weft::flow

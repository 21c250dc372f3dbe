// The account stage (stages.hpp).
#include <rte_mbuf.h>
#include <rte_prefetch.h>

#include <algorithm>

#include "weft/dataplane/stages.hpp"
#include "weft/flow/account.hpp"

namespace weft::dataplane {

namespace {
// Parsing waits on a frame's first cache line, which NIC DMA left in L3 or memory:
// prefetch the headers of a frame a few ahead.
constexpr uint16_t kPrefetchAhead = 4;
}  // namespace

void account(Burst& b, AccountContext& ctx) {
    const uint16_t n = b.size;
    for (uint16_t i = 0; i < n && i < kPrefetchAhead; ++i)
        rte_prefetch0(rte_pktmbuf_mtod(b.packets[i].mbuf, void*));
    for (uint16_t i = 0; i < n; ++i) {
        if (i + kPrefetchAhead < n)
            rte_prefetch0(rte_pktmbuf_mtod(b.packets[i + kPrefetchAhead].mbuf, void*));
        PacketState& s = b.packets[i];
        if (s.dropped) continue;
        rte_mbuf* m = s.mbuf;
        std::span<const uint8_t> frame(rte_pktmbuf_mtod(m, const uint8_t*), m->data_len);
        if (m->nb_segs > 1) [[unlikely]] {
            // Parsed across its segments from a copy, so it is accounted like any frame.
            ++ctx.rx.multi_segment;
            uint32_t len = std::min<uint32_t>(m->pkt_len, SegmentedFrames::kSlotBytes);
            const void* bytes = rte_pktmbuf_read(m, 0, len, ctx.segmented.slot(i));
            frame = std::span<const uint8_t>(static_cast<const uint8_t*>(bytes), bytes ? len : 0);
        }
        const flow::FrameOutcome out = flow::account_frame(
            frame, m->pkt_len, s.timestamp_ns, ctx.verify_icrc, ctx.totals, ctx.table, s.packet);
        s.verdict = out.verdict;
        s.icrc_ok = out.icrc_ok;
        s.flow = out.flow.index;
        s.flow_created = out.flow.created;
        s.prev_last_ns = out.flow.prev_last_ns;
    }
}

}  // namespace weft::dataplane

// reorder and take_offers (stages.hpp): the receiving side of spraying.
#include <rte_mbuf.h>

#include "weft/balance/reorder_offer.hpp"
#include "weft/dataplane/stages.hpp"

namespace weft::dataplane {

void take_offers(Burst& b, balance::ReorderPeers& peers, BalanceCounters& counters) {
    // decode_offer fills a prefix list: its capacity is kept between calls, so offers
    // allocate nothing once the first has been read
    static thread_local balance::ReorderOffer offer;
    for (PacketState& s : b.frames()) {
        if (s.dropped) continue;
        const rte_mbuf* m = s.mbuf;
        const uint8_t* f = rte_pktmbuf_mtod(m, const uint8_t*);
        // cheap test first: the EtherType of an untagged frame
        if (m->data_len < 14 || f[12] != (balance::kEtherTypeWeft >> 8) ||
            f[13] != (balance::kEtherTypeWeft & 0xff))
            continue;
        s.dropped = true;  // ours, never the host's
        if (balance::decode_offer({f, m->data_len}, offer) != balance::OfferVerdict::ok) {
            ++counters.offers_bad;
            continue;
        }
        ++counters.offers_received;
        // good for three intervals: a weftd that stops offering is sprayed no longer
        const uint64_t expires = b.now_ns + 3ull * offer.interval_ms * 1'000'000;
        for (const roce::IpPrefix& h : offer.hosts) peers.offer(h, expires);
    }
}

void reorder(Burst& b, ReorderContext& ctx) {
    auto emit = [&](void* m) {
        ctx.tx.enqueue(ctx.host_port, static_cast<rte_mbuf*>(m), true, ctx.tx_counters, ctx.ports);
    };
    for (PacketState& s : b.frames()) {
        if (s.dropped || !s.is_roce() || s.flow == flow::kNoIndex || !is_request(s.packet))
            continue;
        s.consumed = true;
        ctx.reorderer.push(s.flow, s.flow_created, s.packet.bth.psn, s.mbuf, b.now_ns, emit);
    }
}

}  // namespace weft::dataplane

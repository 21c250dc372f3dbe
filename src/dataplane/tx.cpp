#include "weft/dataplane/tx.hpp"

#include <rte_ethdev.h>
#include <rte_mbuf.h>

namespace weft::dataplane {

TxQueues::TxQueues(const PortSet& ports, uint16_t queue) : queue_(queue) {
    for (const Port& p : ports.ports()) {
        Queue q;
        q.port_id = p.id;
        queues_.push_back(q);
    }
}

void TxQueues::send(Burst& b, TxCounters& tx, std::array<PortCounters, kMaxPorts>& ports) {
    std::array<rte_mbuf*, kBurst> to_free;
    uint16_t nfree = 0;
    const bool forward = b.direction != Direction::passive;
    for (PacketState& s : b.frames()) {
        if (s.consumed) continue;
        if (!forward || s.dropped) {
            to_free[nfree++] = s.mbuf;
            continue;
        }
        if (s.out_port >= queues_.size()) [[unlikely]] {
            ++tx.dropped_no_port;
            to_free[nfree++] = s.mbuf;
            continue;
        }
        ++(s.is_roce() ? tx.forwarded_roce : tx.forwarded_other);
        Queue& q = queues_[s.out_port];
        q.mbufs[q.n++] = s.mbuf;
        if (q.n == q.mbufs.size()) drain(s.out_port, tx, ports);
    }
    if (nfree) rte_pktmbuf_free_bulk(to_free.data(), nfree);
}

void TxQueues::drain(uint16_t port_index, TxCounters& tx,
                     std::array<PortCounters, kMaxPorts>& ports) {
    Queue& q = queues_[port_index];
    if (q.n == 0) return;
    uint16_t sent = rte_eth_tx_burst(q.port_id, queue_, q.mbufs.data(), q.n);
    // one retry for a queue that was momentarily full, then count and free the rest
    if (sent < q.n) sent += rte_eth_tx_burst(q.port_id, queue_, q.mbufs.data() + sent, q.n - sent);
    ports[port_index].tx_packets += sent;
    if (sent < q.n) {
        tx.dropped_tx_full += q.n - sent;
        q.dropped += q.n - sent;
        rte_pktmbuf_free_bulk(q.mbufs.data() + sent, q.n - sent);
    }
    q.n = 0;
}

void TxQueues::flush(TxCounters& tx, std::array<PortCounters, kMaxPorts>& ports) {
    for (uint16_t i = 0; i < queues_.size(); ++i) drain(i, tx, ports);
}

}  // namespace weft::dataplane

// The tx stage: each frame of a burst goes to the TX queue of the port a stage chose, or
// back to its pool when it is dropped (or consumed, in passive mode). A worker has its
// own TX queue on every port (queue index = worker index), so nothing is shared; frames
// wait in a small per-port array and leave in bursts.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "weft/dataplane/burst.hpp"
#include "weft/dataplane/counters.hpp"
#include "weft/dataplane/ports.hpp"

namespace weft::dataplane {

class TxQueues {
  public:
    TxQueues(const PortSet& ports, uint16_t queue);

    // The tx stage: queues every frame with an out_port, frees the rest in one call.
    void send(Burst& b, TxCounters& tx, std::array<PortCounters, kMaxPorts>& ports);
    // Hands every queued frame to its port; what a full queue refuses twice is freed and
    // counted (dropped_tx_full).
    void flush(TxCounters& tx, std::array<PortCounters, kMaxPorts>& ports);
    // Frames port `port_index`'s TX queue refused so far (a full queue is a local TX
    // backlog: the balancer charges it to the uplink's paths).
    uint64_t dropped(uint16_t port_index) const { return queues_[port_index].dropped; }
    // Queues one frame a stage took over (reorder's releases, weftd's own offers).
    void enqueue(uint16_t port_index, rte_mbuf* m, bool roce, TxCounters& tx,
                 std::array<PortCounters, kMaxPorts>& ports) {
        ++(roce ? tx.forwarded_roce : tx.forwarded_other);
        Queue& q = queues_[port_index];
        q.mbufs[q.n++] = m;
        if (q.n == q.mbufs.size()) drain(port_index, tx, ports);
    }

  private:
    struct Queue {
        uint16_t port_id = 0;
        uint16_t n = 0;
        uint64_t dropped = 0;
        std::array<rte_mbuf*, kBurst * 2> mbufs{};
    };
    void drain(uint16_t port_index, TxCounters& tx, std::array<PortCounters, kMaxPorts>& ports);

    uint16_t queue_;
    std::vector<Queue> queues_;
};

}  // namespace weft::dataplane

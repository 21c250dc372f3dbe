// One weftd worker lcore: RX burst from its queue of every port -> account_frame (parse,
// ICRC, per-QP flow state; the same code as weftctl analyze) -> firewall -> policy hook
// (policy.hpp: which uplink) -> TX burst. Nothing allocated, locked or thrown per packet.
// Each worker owns its flow table; a QP stays on one worker because RSS, AF_PACKET fanout
// or software dispatch (dispatch.hpp) sends each flow to one worker.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include "weft/dataplane/config.hpp"
#include "weft/dataplane/policy.hpp"
#include "weft/dataplane/ports.hpp"
#include "weft/dataplane/telemetry.hpp"
#include "weft/flow/table.hpp"
#include "weft/flow/totals.hpp"
#include "weft/roce/packet.hpp"

struct rte_mbuf;
struct rte_ring;

namespace weft::dataplane {

inline constexpr uint16_t kBurst = 32;
inline constexpr size_t kMaxPorts = 16;

struct WorkerStats {
    flow::Totals totals;  // frames, bytes, verdicts, ICRC: as in weftctl analyze
    uint64_t forwarded_roce = 0;
    uint64_t forwarded_other = 0;
    uint64_t dropped_malformed = 0;      // RoCE the parser refused (by verdict in totals)
    uint64_t dropped_bad_icrc = 0;       // with firewall.drop_bad_icrc
    uint64_t dropped_tx_full = 0;        // the TX queue had no room
    uint64_t dispatched = 0;             // frames handed to another worker (software dispatch)
    uint64_t dropped_dispatch_full = 0;  // that worker's inbox had no room
    std::array<uint64_t, kMaxPorts> rx_packets{};
    std::array<uint64_t, kMaxPorts> tx_packets{};
};

// What a worker publishes for the control plane (telemetry.hpp): its counters, its
// table's, and the table's size, as of `tsc_ns`.
struct WorkerPublication {
    WorkerStats stats;
    flow::TableCounters table;
    uint64_t flows_live = 0;
    uint64_t extensions_live = 0;
    uint64_t tsc_ns = 0;
};

class Worker {
  public:
    Worker(unsigned index, const Config& c, const PortSet& ports);
    Worker(const Worker&) = delete;
    Worker& operator=(const Worker&) = delete;

    // Software dispatch (dispatch.hpp): every worker's inbox, indexed by worker; this
    // worker dequeues its own and enqueues to the others. Set before run() when some port
    // has fewer RX queues than there are workers.
    void set_inboxes(const std::vector<rte_ring*>& inboxes);

    // Polls until `stop` is set, then flushes its TX queues.
    void run(const std::atomic<bool>& stop);
    // One burst from ports()[port_index]: every mbuf is forwarded or freed. Public so
    // tests and benchmarks drive the pipeline without I/O.
    void process(uint16_t port_index, rte_mbuf** pkts, uint16_t n);
    void flush();

    unsigned index() const { return index_; }
    const flow::Table& table() const { return table_; }
    const WorkerStats& stats() const { return stats_; }
    // Counters as last published (about every millisecond while running, and on exit):
    // safe from any thread at any time.
    WorkerPublication published() const { return published_.load(); }
    // The flow snapshot mailbox (telemetry.hpp); answered by run() between bursts.
    FlowRequest& flow_request() { return flow_request_; }
    // Frames received so far, readable from another thread while the worker runs.
    uint64_t received() const { return received_.load(std::memory_order_relaxed); }

  private:
    struct TxQueue {
        uint16_t port_id = 0;
        uint16_t n = 0;
        std::array<rte_mbuf*, kBurst * 2> mbufs{};
    };
    void enqueue(uint16_t port_index, rte_mbuf* m);
    // Frames from a port polled on behalf of every worker: each goes to its flow's owner.
    void dispatch(uint16_t port_index, rte_mbuf** pkts, uint16_t n);
    // Frames other workers handed over, in bursts grouped by their port.
    bool drain_inbox();
    void publish(uint64_t now_ns);
    // Copies up to `max_records` of the table for a pending snapshot request.
    void serve_flow_request(uint32_t max_records);
    void drain(uint16_t port_index);

    unsigned index_;
    const PortSet& ports_;
    bool passive_;
    bool verify_icrc_;
    bool drop_bad_icrc_;
    uint32_t idle_sleep_us_;
    flow::Table table_;
    ForwardingPolicy policy_;
    WorkerStats stats_;
    roce::Packet pkt_;
    std::vector<TxQueue> tx_;
    int timestamp_offset_ = -1;  // the mbuf dynfield drivers put RX timestamps in, if any
    uint64_t timestamp_flag_ = 0;
    std::vector<uint64_t> timestamp_scale_;  // per port: to nanoseconds
    uint64_t latest_ns_ = 0;                 // the latest packet time seen
    std::atomic<uint64_t> received_{0};
    std::vector<rte_ring*> inboxes_;
    std::vector<std::vector<rte_mbuf*>> outbound_;  // per target worker, one burst each
    std::array<uint8_t, 256> port_index_of_{};      // DPDK port id -> index in ports()
    Published<WorkerPublication> published_;
    FlowRequest flow_request_;
    flow::TableCopier copier_;
    uint64_t serving_ = 0;   // the request being copied
    uint64_t answered_ = 0;  // the last request answered
};

flow::TableConfig worker_table_config(const Config& c);

}  // namespace weft::dataplane

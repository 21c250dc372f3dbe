// One weftd worker lcore: polls RX bursts from its queue of every port and runs each
// through the pipeline (pipeline.hpp: account, firewall, classify, balance, crypt, tx by
// direction). Beside the pipeline it does what a worker must between bursts: software
// dispatch, publishing counters, answering flow snapshots and evicting idle flows.
// Nothing allocated, locked or thrown per packet. Each worker owns its flow table; a QP
// stays on one worker because RSS, AF_PACKET fanout or software dispatch (dispatch.hpp)
// sends each flow to one worker.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include "weft/dataplane/burst.hpp"
#include "weft/dataplane/config.hpp"
#include "weft/dataplane/counters.hpp"
#include "weft/dataplane/pipeline.hpp"
#include "weft/dataplane/ports.hpp"
#include "weft/dataplane/telemetry.hpp"
#include "weft/flow/table.hpp"

struct rte_mbuf;
struct rte_ring;

namespace weft::dataplane {

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
    // One burst (n <= kBurst) from ports()[port_index] through the pipeline: every mbuf is
    // queued for TX or freed. Public so tests and benchmarks drive the pipeline without I/O.
    void process(uint16_t port_index, rte_mbuf** pkts, uint16_t n);
    void flush() { pipeline_.flush(); }

    unsigned index() const { return index_; }
    const flow::Table& table() const { return pipeline_.table(); }
    const WorkerStats& stats() const { return pipeline_.stats(); }
    Pipeline& pipeline() { return pipeline_; }
    // Counters as last published (about every millisecond while running, and on exit):
    // safe from any thread at any time.
    WorkerPublication published() const { return published_.load(); }
    // The flow snapshot mailbox (telemetry.hpp); answered by run() between bursts.
    FlowRequest& flow_request() { return flow_request_; }
    // The explain-path mailbox (telemetry.hpp); answered by run() between bursts, or by
    // the caller once the worker's thread has ended.
    PathQuery& path_query() { return path_query_; }
    void serve_path_query();
    // Frames received so far, readable from another thread while the worker runs.
    uint64_t received() const { return received_.load(std::memory_order_relaxed); }

  private:
    // Frames from a port polled on behalf of every worker: each goes to its flow's owner.
    void dispatch(uint16_t port_index, rte_mbuf** pkts, uint16_t n);
    // Frames other workers handed over, in bursts grouped by their port.
    bool drain_inbox();
    void publish(uint64_t now_ns);
    // Copies up to `max_records` of the table for a pending snapshot request.
    void serve_flow_request(uint32_t max_records);

    unsigned index_;
    const PortSet& ports_;
    uint32_t idle_sleep_us_;
    Pipeline pipeline_;
    Burst burst_;
    int timestamp_offset_ = -1;  // the mbuf dynfield drivers put RX timestamps in, if any
    uint64_t timestamp_flag_ = 0;
    std::vector<uint64_t> timestamp_scale_;  // per port: to nanoseconds
    uint64_t latest_ns_ = 0;                 // the latest packet time seen
    uint64_t frames_ = 0;
    std::atomic<uint64_t> received_{0};
    std::vector<rte_ring*> inboxes_;
    std::vector<std::vector<rte_mbuf*>> outbound_;  // per target worker, one burst each
    std::array<uint8_t, 256> port_index_of_{};      // DPDK port id -> index in ports()
    Published<WorkerPublication> published_;
    FlowRequest flow_request_;
    PathQuery path_query_;
    uint64_t path_answered_ = 0;
    flow::TableCopier copier_;
    uint64_t serving_ = 0;   // the request being copied
    uint64_t answered_ = 0;  // the last request answered
};

}  // namespace weft::dataplane

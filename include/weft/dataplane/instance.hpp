// A running weftd: EAL, ports and one Worker per worker lcore, launched on the planned
// lcores; the main lcore waits for a stop (signal, or the end of every pcap port's file
// with exit_on_eof) and then gathers the workers' flows and counters.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "weft/dataplane/config.hpp"
#include "weft/dataplane/eal.hpp"
#include "weft/dataplane/placement.hpp"
#include "weft/dataplane/ports.hpp"
#include "weft/dataplane/worker.hpp"
#include "weft/flow/report.hpp"

struct rte_ring;

namespace weft::dataplane {

class Instance {
  public:
    Instance(const Config& c, const Plan& p);
    ~Instance();

    // Runs until `stop` is set (or every pcap file is read, with exit_on_eof). Returns
    // the reason it stopped, in words.
    std::string run(std::atomic<bool>& stop);

    // Everything below may be called from any thread, while the workers run or after:
    // counters come from the workers' publications, flows from snapshots the workers copy
    // out between bursts (telemetry.hpp), so the pipeline never stops for a reader.

    // The flows of every worker, paired across workers, in the schema of
    // `weftctl analyze --json` (weft.flows/1), with a "dataplane" section of weftd's own
    // counters beside it. Throws DataplaneError if a running worker does not answer.
    nlohmann::json flows_document(const flow::FlowFilter& filter = {}) const;
    std::string format_flows(const flow::FlowFilter& filter) const;
    // weft.status/1 and weft.ports/1 (docs/SCHEMA.md).
    nlohmann::json status_json() const;
    nlohmann::json ports_json() const;
    std::string format_status() const;
    std::string format_ports() const;
    // Per-port and per-worker counters ("dataplane" in the flows document).
    nlohmann::json counters_json() const;
    std::string format_counters() const;
    // The Prometheus text exposition (format 0.0.4) of every counter.
    std::string metrics_text() const;

    // Where the control socket and metrics endpoint listen, for status (set by weftd).
    void set_endpoints(std::string control_socket, std::string metrics_address);
    const Config& config() const { return config_; }

  private:
    Config config_;
    Plan plan_;
    std::unique_ptr<Eal> eal_;
    std::unique_ptr<PortSet> ports_;
    std::vector<std::unique_ptr<Worker>> workers_;
    uint64_t expected_frames_ = 0;  // records in the pcap files read (exit_on_eof)
    std::atomic<bool> running_{false};
    static constexpr unsigned kInboxSize = 4096;  // frames per worker inbox
    std::vector<rte_ring*> inboxes_;              // software dispatch, when needed
    std::chrono::system_clock::time_point started_;
    std::string control_socket_, metrics_address_;
    // One flow snapshot at a time: each worker has one request mailbox.
    mutable std::mutex snapshot_mutex_;
    mutable uint64_t snapshot_seq_ = 0;
    struct Snapshot {
        std::vector<flow::FlowSummary> flows;
        flow::Totals totals;
        flow::TableCounters table;
        size_t missed = 0;  // live flows that did not fit any buffer (grew meanwhile)
    };
    Snapshot snapshot() const;
    // One reading of every worker's published counters, and their sums: each document
    // is built from one reading, so its totals, per-worker and per-port figures agree.
    struct Reading {
        std::vector<WorkerPublication> workers;
        flow::Totals totals;
        flow::TableCounters table;
        uint64_t flows = 0;
        std::array<uint64_t, kMaxPorts> rx_packets{}, tx_packets{};
    };
    Reading read_workers() const;
    nlohmann::json counters_json(const Reading& r) const;
};

}  // namespace weft::dataplane

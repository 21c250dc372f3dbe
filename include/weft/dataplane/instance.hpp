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

#include "weft/dataplane/config.hpp"
#include "weft/dataplane/eal.hpp"
#include "weft/dataplane/pcap_replay.hpp"
#include "weft/dataplane/placement.hpp"
#include "weft/dataplane/ports.hpp"
#include "weft/dataplane/worker.hpp"
#include "weft/flow/summary.hpp"
#include "weft/flow/totals.hpp"

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
    // out between bursts (telemetry.hpp), so the pipeline never stops for a reader. The
    // documents made of them (status, ports, flows, metrics) are in documents.hpp.

    // One reading of every worker's published counters, and their sums: each document is
    // built from one reading, so its totals, per-worker and per-port figures agree.
    struct Reading {
        std::vector<WorkerPublication> workers;
        WorkerStats stats;  // summed over the workers
        flow::TableCounters table;
        uint64_t flows = 0;
    };
    Reading read_workers() const;

    // Every worker's flows, paired across workers (a QP's two directions may live on
    // different workers). Throws DataplaneError if a running worker does not answer.
    struct Snapshot {
        std::vector<flow::FlowSummary> flows;
        flow::Totals totals;
        flow::TableCounters table;
        size_t missed = 0;  // live flows that did not fit any buffer (grew meanwhile)
    };
    Snapshot snapshot() const;

    // Where the control socket and metrics endpoint listen, for status (set by weftd).
    void set_endpoints(std::string control_socket, std::string metrics_address);
    const std::string& control_socket() const { return control_socket_; }
    const std::string& metrics_address() const { return metrics_address_; }
    const Config& config() const { return config_; }
    const Plan& plan() const { return plan_; }
    const PortSet& ports() const { return *ports_; }
    bool running() const { return running_.load(std::memory_order_acquire); }
    std::chrono::system_clock::time_point started() const { return started_; }

    // Capture files found corrupt (each replayed up to the corruption): weftd reports them
    // and exits non-zero, as weftctl analyze does.
    const std::vector<std::string>& capture_corruptions() const { return replays_->corruptions(); }
    const std::vector<std::string>& capture_truncations() const { return replays_->truncations(); }
    // PSP key rotation (psp_keys.hpp): re-reads the master-key file; the workers adopt the
    // new state at their next burst. Throws DataplaneError when PSP is off or the
    // rotation is refused.
    PspRotation rotate_psp_keys() const;  // const: the control thread holds a const view;
                                          // keys are runtime state, not configuration
    PspEpoch psp_epoch() const;
    // Per-SA counters summed over the workers (psp_stage.hpp).
    std::vector<PspSaReading> psp_sas() const;
    // Balancing (pipeline.hpp): the paths' signals and states, and the policy in force.
    std::vector<balance::PathReading> paths() const { return balance_->monitor.readings(); }
    uint64_t path_rounds() const { return balance_->monitor.rounds(); }
    BalancePolicy balance_policy() const {
        return balance_->policy.load(std::memory_order_relaxed);
    }
    std::vector<balance::ReorderPeers::Reading> reorder_peers() const {
        return balance_->peers.readings();
    }
    bool reorder_paused() const { return balance_->reorder_paused.load(); }
    // `weftctl balance reorder pause|resume`; throws DataplaneError without [balance] reorder
    void set_reorder_paused(bool paused) const;
    // Which path host -> fabric flow (src, dst, dest_qp) is on and why, asked of every
    // worker between its bursts; `worker` < 0 when no worker has the flow.
    struct PathExplanation {
        int worker = -1;
        balance::FlowletState state{};
        uint64_t packets = 0, bytes = 0, first_ns = 0, last_ns = 0, now_ns = 0;
    };
    PathExplanation explain_path(const roce::IpAddress& src, const roce::IpAddress& dst,
                                 uint32_t dest_qp) const;
    // Changes the policy (every worker follows at its next host burst); throws
    // DataplaneError for a policy these uplinks cannot run. Returns the one it replaced.
    BalancePolicy set_balance_policy(BalancePolicy p) const;
    // The capture files replayed (pcap ports), as named in the configuration.
    const std::vector<std::string>& capture_files() const { return replays_->files(); }

  private:
    void rotate_on_timer();  // the run loop's, every 10 ms
    Config config_;          // ports' rx_pcap may point at replay copies (pcap_replay.hpp)
    Plan plan_;
    std::unique_ptr<PcapReplays> replays_;
    std::unique_ptr<Eal> eal_;
    std::unique_ptr<PortSet> ports_;
    std::vector<std::unique_ptr<Worker>> workers_;
    uint64_t expected_frames_ = 0;  // records in the pcap files read (exit_on_eof)
    std::atomic<bool> running_{false};
    std::unique_ptr<PspKeyState> psp_keys_;  // null without [psp]
    std::unique_ptr<BalanceShared> balance_;
    static constexpr unsigned kInboxSize = 4096;  // frames per worker inbox
    std::vector<rte_ring*> inboxes_;              // software dispatch, when needed
    std::chrono::system_clock::time_point started_;
    std::string control_socket_, metrics_address_;
    // One flow snapshot at a time: each worker has one request mailbox.
    mutable std::mutex snapshot_mutex_;
    mutable uint64_t snapshot_seq_ = 0;
};

}  // namespace weft::dataplane

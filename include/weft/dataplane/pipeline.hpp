// weftd's pipeline: the stages (stages.hpp) in the order of each path, run once per burst
// with the path chosen by the port the burst came from.
//
//   host -> fabric:  account -> firewall -> classify -> balance.decide -> crypt.seal
//                    -> balance.apply -> tx
//   fabric -> host:  crypt.open -> account -> firewall -> path_feedback -> reorder -> tx
//   passive:         account (then every frame goes back to its pool)
//
// A Pipeline belongs to one worker: its flow table, counters and TX queues are that
// worker's alone. Nothing is allocated, locked or thrown per burst.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "weft/balance/policy.hpp"
#include "weft/balance/reorder.hpp"
#include "weft/balance/reorder_peers.hpp"
#include "weft/classify/classifier.hpp"
#include "weft/dataplane/burst.hpp"
#include "weft/dataplane/config.hpp"
#include "weft/dataplane/counters.hpp"
#include "weft/dataplane/firewall.hpp"
#include "weft/dataplane/ports.hpp"
#include "weft/dataplane/psp_stage.hpp"
#include "weft/dataplane/stages.hpp"
#include "weft/dataplane/tx.hpp"
#include "weft/flow/table.hpp"

namespace weft::dataplane {

flow::TableConfig worker_table_config(const Config& c);

// With [psp]: a warning when the host port's MTU plus what sealing adds exceeds a fabric
// port's MTU (frames that large are dropped, never fragmented), naming the RoCE MTU that
// fits; "" when they fit or an MTU is unknown.
std::string psp_mtu_problem(const Config& c, const PortSet& ports);

// What the workers of one weftd share for balancing: the per-path signals and their
// rounds, the PSN owner table, and the policy in force, which `weftctl balance policy`
// changes while weftd runs (each worker picks it up at its next host burst).
struct BalanceShared {
    BalanceShared(const Config& c, size_t uplinks);
    balance::PathMonitor monitor;
    balance::PsnOwners owners;
    std::atomic<BalancePolicy> policy;
    // hosts weftds across the fabric offered to reorder for (spray's targets)
    balance::ReorderPeers peers;
    // `weftctl balance reorder pause`: frames pass unheld while the offer stands (the
    // control experiment that shows what the buffer does; it breaks sprayed QPs)
    std::atomic<bool> reorder_paused{false};
};

// The paths [balance] describes over `uplinks` fabric ports.
balance::PathSet balance_paths(const Config& c, size_t uplinks);

// `policy` over `uplinks` fabric ports, with [balance]'s settings; congestion reads
// `monitor` and counts its moves in block `worker`.
balance::Policy make_balance_policy(const Config& c, BalancePolicy policy, size_t uplinks,
                                    BalanceShared* shared, uint32_t worker);

class Pipeline {
  public:
    // `tx_queue`: the TX queue this pipeline sends on, on every port (its worker's index).
    Pipeline(const Config& c, const PortSet& ports, uint16_t tx_queue);
    Pipeline(const Pipeline&) = delete;
    Pipeline& operator=(const Pipeline&) = delete;

    // The direction of bursts from ports()[port_index], by the port's role.
    Direction direction_of(uint16_t port_index) const;
    // Runs the burst through its path. Every frame ends in a TX queue or back in its pool.
    void run(Burst& b);
    // Sends what the TX queues hold.
    void flush() {
        tx_.flush(stats_.tx, stats_.ports);
        charge_tx_drops();
    }

    flow::Table& table() { return table_; }
    const flow::Table& table() const { return table_; }
    WorkerStats& stats() { return stats_; }
    PspStage& psp() { return psp_; }
    // Balance with the instance's shared signals and policy (a pipeline alone has its
    // own); `worker` is this pipeline's block in them.
    void share_balance(BalanceShared* shared, uint32_t worker);
    const BalanceShared& balance_shared() const { return *balance_shared_; }
    // The balance state of host->fabric flow `index` (null in passive mode).
    const balance::FlowletState* flowlet_state(uint32_t index) const {
        return flowlets_ ? flowlets_->address(index) : nullptr;
    }
    // Once per poll: closes the paths' round when it is due (every burst does too, so
    // rounds go on while no traffic comes, and a congested path that carries nothing is
    // cleared after clear_rounds, as designed), releases reorder gaps that timed out, and
    // (worker 0, with [balance] reorder) broadcasts the reorder offer when it is due.
    void housekeeping(uint64_t now_ns);
    // Releases every frame reorder holds (at stop).
    void release_held();
    const WorkerStats& stats() const { return stats_; }

  private:
    void host_to_fabric(Burst& b);
    void fabric_to_host(Burst& b);
    void passive(Burst& b);

    const PortSet& ports_;
    bool passive_mode_;
    uint16_t host_port_ = kNoPort;
    std::vector<uint16_t> fabric_ports_;
    FirewallConfig firewall_;
    classify::Classifier classifier_;
    void follow_balance_policy();
    // TX-full drops on each uplink since the last call, charged to its paths
    void charge_tx_drops();
    std::vector<uint64_t> uplink_drops_seen_;

    const Config& config_;
    std::unique_ptr<BalanceShared> own_balance_;
    BalanceShared* balance_shared_;
    uint32_t balance_worker_ = 0;
    BalancePolicy policy_in_force_;
    balance::Policy balance_;
    // [balance.classes.NAME]: classes with a policy or a DSCP mark of their own
    void make_class_policies(uint32_t worker);
    std::array<std::optional<balance::Policy>, classify::kTrafficClassCount> class_policy_store_;
    ClassPolicies class_policies_;
    bool classes_configured_ = false;
    // per host->fabric flow: path, flowlet clock, request PSN (inline mode)
    std::unique_ptr<flow::SideArray<balance::FlowletState>> flowlets_;
    // per fabric->host flow: the path its ACKs paired it with (inline mode)
    std::unique_ptr<flow::SideArray<uint32_t>> paired_;
    // [balance] reorder: the receiving side of spraying, and its offer
    std::unique_ptr<balance::Reorderer> reorderer_;
    void send_offers(uint64_t now_ns);
    void copy_reorder_counters();
    uint64_t next_offer_ns_ = 0;
    uint16_t tx_queue_;
    PspConfig psp_config_;
    PspStage psp_;
    flow::Table table_;
    WorkerStats stats_;
    SegmentedFrames segmented_;
    TxQueues tx_;
};

}  // namespace weft::dataplane

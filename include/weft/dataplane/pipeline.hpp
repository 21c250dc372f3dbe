// weftd's pipeline: the stages (stages.hpp) in the order of each path, run once per burst
// with the path chosen by the port the burst came from.
//
//   host -> fabric:  account -> firewall -> classify -> balance.decide -> crypt.seal
//                    -> balance.apply -> tx
//   fabric -> host:  crypt.open -> account -> firewall -> reorder -> tx
//   passive:         account (then every frame goes back to its pool)
//
// A Pipeline belongs to one worker: its flow table, counters and TX queues are that
// worker's alone. Nothing is allocated, locked or thrown per burst.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "weft/balance/policy.hpp"
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

// The balancing policy [balance] names, over `uplinks` fabric ports.
balance::Policy make_balance_policy(const Config& c, size_t uplinks);

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
    void flush() { tx_.flush(stats_.tx, stats_.ports); }

    flow::Table& table() { return table_; }
    const flow::Table& table() const { return table_; }
    WorkerStats& stats() { return stats_; }
    PspStage& psp() { return psp_; }
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
    balance::Policy balance_;
    // flowlet state per flow (policy flowlet only)
    std::unique_ptr<flow::SideArray<balance::FlowletState>> flowlets_;
    PspConfig psp_config_;
    PspStage psp_;
    flow::Table table_;
    WorkerStats stats_;
    SegmentedFrames segmented_;
    TxQueues tx_;
};

}  // namespace weft::dataplane

// The stages of weftd's pipeline, each a loop over one burst (burst.hpp). The paths that
// string them together are in pipeline.hpp; the firewall and tx stages have files of
// their own (firewall.hpp, tx.hpp). A stage skips the frames an earlier one dropped.
//
// Policies (classifier, balancing) are std::variants chosen at start-up; the pipeline
// visits them once per burst and calls the stage template below for the alternative in
// force, so the per-packet loop is compiled for that policy: no virtual call per packet.
#pragma once

#include <cstdint>
#include <span>
#include <type_traits>

#include "weft/balance/policy.hpp"
#include "weft/balance/reorder.hpp"
#include "weft/balance/reorder_peers.hpp"
#include "weft/balance/signals.hpp"
#include "weft/classify/rules.hpp"
#include "weft/dataplane/burst.hpp"
#include "weft/dataplane/counters.hpp"
#include "weft/dataplane/tx.hpp"
#include "weft/flow/side_array.hpp"
#include "weft/flow/table.hpp"
#include "weft/flow/zeroed_array.hpp"

namespace weft::dataplane {

// Room to parse a frame that arrived in several mbuf segments: account copies it here
// (rte_pktmbuf_read), one slot per burst position so each frame's parsed view stays
// valid until the burst is done. 64 KiB + headers holds any IP datagram; calloc'd, so
// the memory is only backed once such a frame arrives.
class SegmentedFrames {
  public:
    static constexpr size_t kSlotBytes = 65536 + 64;
    SegmentedFrames() : bytes_(size_t(kBurst) * kSlotBytes) {}
    uint8_t* slot(uint16_t i) { return &bytes_[size_t(i) * kSlotBytes]; }

  private:
    flow::ZeroedArray<uint8_t> bytes_;
};

struct AccountContext {
    flow::Table& table;
    flow::Totals& totals;
    RxCounters& rx;
    SegmentedFrames& segmented;
    bool verify_icrc;
};

// account: parse (across segments when needed), ICRC, flow state — the analyzer's own
// per-frame step (flow::account_frame) — for every frame not dropped before it.
void account(Burst& b, AccountContext& ctx);

// classify (host -> fabric): the traffic class of each RoCE frame.
template <class Classifier>
void classify_stage(Burst& b, const Classifier& classifier) {
    for (PacketState& s : b.frames())
        if (!s.dropped && s.is_roce()) s.traffic_class = classifier.classify(s.packet);
}

// What balance.decide keeps between bursts: per-flow state (a side array beside the flow
// table: path, flowlet clock, the highest request PSN seen), its counters, and what it
// shares with the other workers (the path signals and the PSN owners, balance/signals.hpp).
struct BalanceContext {
    flow::SideArray<balance::FlowletState>* flowlets = nullptr;
    BalanceCounters& counters;
    balance::PathMonitor* monitor = nullptr;
    balance::PsnOwners* owners = nullptr;
    uint32_t worker = 0;  // this worker's counter block in the monitor
};

// A request (not a response, not a CNP): its PSN is the sender's own sequence.
inline bool is_request(const roce::Packet& p) {
    return p.op && !p.op->response && p.op->transport != roce::Transport::CNP;
}

// Packets and bytes sent on a path, added up over a run of packets on the same path and
// handed to the monitor once per run: one counter bumped per packet would be a chain of
// stores and loads of one word, each waiting for the last.
struct PathRun {
    uint32_t path = 0;
    uint64_t packets = 0, bytes = 0;
    void add(uint32_t p, uint64_t frame_bytes, BalanceContext& ctx) {
        if (p != path && packets) flush(ctx);
        path = p;
        ++packets;
        bytes += frame_bytes;
    }
    void flush(BalanceContext& ctx) {
        if (packets) ctx.monitor->sent(ctx.worker, path, packets, bytes);
        packets = bytes = 0;
    }
};

// What every policy does with a frame once its path is chosen: count it on the path, note
// which path its PSN left on (for the NAKs and ACKs coming back), and charge a request
// PSN that went backwards (go-back-N resending what was lost) to the path.
inline void balance_observe(const PacketState& s, balance::FlowletState* state, uint32_t path,
                            BalanceContext& ctx, PathRun& run) {
    run.add(path, s.packet.frame.size(), ctx);
    if (!state || !is_request(s.packet)) return;
    const uint32_t psn = s.packet.bth.psn & 0xffffff;
    ctx.owners->record(s.packet.src, s.packet.dst, psn, path);
    // 24-bit serial arithmetic: ahead (or equal) within half the space, else behind
    if (!state->psn_valid || ((psn - state->psn_next) & 0xffffff) < 0x800000) {
        state->psn_next = (psn + 1) & 0xffffff;
        state->psn_valid = true;
    } else {
        ctx.monitor->signal(ctx.worker, path, balance::Signal::retransmit);
        ++ctx.counters.retransmits_seen;
    }
}

// One frame's path by `policy` (balance_decide's body, per frame).
template <class Policy>
inline void decide_one(PacketState& s, const Policy& policy, std::span<const uint16_t> fabric_ports,
                       BalanceContext& ctx, balance::FlowletCounters& flowlet_counters,
                       PathRun& run) {
    constexpr bool kSpray = std::is_same_v<Policy, balance::SprayPolicy>;
    constexpr bool kFlowlets = !std::is_same_v<Policy, balance::EcmpPolicy> && !kSpray;
    const uint32_t uplinks = uint32_t(fabric_ports.size());
    // every well-formed RoCE frame has a flow (account made it); a table full of flows
    // gives none, and the frame keeps the RNIC's path
    balance::FlowletState* state = s.flow != flow::kNoIndex && ctx.flowlets
                                       ? &ctx.flowlets->at(s.flow, s.flow_created)
                                       : nullptr;
    uint32_t path = 0;
    if constexpr (kSpray) {
        if (state) {
            bool sprayed = false;
            // inference takes one path, never a sprayed one: its latency is a request's
            const bool may_spray =
                is_request(s.packet) && s.traffic_class != classify::TrafficClass::inference;
            s.path = policy.choose(s.packet, may_spray, *state, s.prev_last_ns, s.timestamp_ns,
                                   flowlet_counters, path, sprayed);
            ctx.counters.sprayed += sprayed;
        } else {
            s.path = balance::PathChoice{};
        }
    } else if constexpr (kFlowlets) {
        if (state) {
            s.path =
                policy.choose(s.packet, *state, s.prev_last_ns, s.timestamp_ns, flowlet_counters);
            path = state->path;
        } else {
            s.path = balance::PathChoice{};
        }
    } else {
        s.path = policy.choose(s.packet, uplinks);
        path = s.path.uplink;
        if (state) {
            state->path = path;
            state->reason = balance::PathReason::hash;
        }
    }
    if (state) state->traffic_class = uint8_t(s.traffic_class);
    if (ctx.monitor) balance_observe(s, state, path, ctx, run);
    // a policy naming an uplink that does not exist is counted by tx, never followed
    s.out_port = s.path.uplink < uplinks ? fabric_ports[s.path.uplink] : kNoPort;
}

// Per traffic class: a policy of its own (null: the instance's), and a DSCP to mark its
// frames with (kNoDscp: leave it).
inline constexpr uint8_t kNoDscp = 0xff;
struct ClassPolicies {
    std::array<const balance::Policy*, classify::kTrafficClassCount> policy{};
    std::array<uint8_t, classify::kTrafficClassCount> dscp{kNoDscp, kNoDscp, kNoDscp, kNoDscp};
    bool any_policy = false;
};

// balance.decide (host -> fabric): each RoCE frame's path (uplink, source port) by the
// policy (its class's own, if it has one); the uplink becomes its out_port. Everything
// else keeps the first uplink.
template <class Policy>
void balance_decide(Burst& b, const Policy& policy, std::span<const uint16_t> fabric_ports,
                    BalanceContext& ctx, const ClassPolicies* classes = nullptr) {
    balance::FlowletCounters flowlet_counters;
    PathRun run;
    // the per-flow entries are a cache miss each at a million flows: ask for them first
    if (ctx.flowlets)
        for (const PacketState& s : b.frames())
            if (s.flow != flow::kNoIndex) __builtin_prefetch(ctx.flowlets->address(s.flow), 1);
    for (PacketState& s : b.frames()) {
        if (s.dropped || !s.is_roce()) continue;
        const balance::Policy* own =
            classes && classes->any_policy ? classes->policy[size_t(s.traffic_class)] : nullptr;
        if (own)  // a class with a policy of its own: visited per frame, only for it
            std::visit(
                [&](const auto& p) { decide_one(s, p, fabric_ports, ctx, flowlet_counters, run); },
                *own);
        else
            decide_one(s, policy, fabric_ports, ctx, flowlet_counters, run);
        if (classes) s.mark_dscp = classes->dscp[size_t(s.traffic_class)];
    }
    if (ctx.monitor) run.flush(ctx);
    ctx.counters.flowlets += flowlet_counters.flowlets;
    ctx.counters.path_changes += flowlet_counters.path_changes;
}

// What comes back from the fabric about the paths (fabric -> host, after account): a NAK
// sequence error is charged to the path its PSN left on; an ACK pairs its flow (the
// requester's QP) with that path, so a CNP on the flow, whose PSN names nothing, is
// charged to the path the requester's data takes. Pairings live in a side array.
struct FeedbackContext {
    flow::SideArray<uint32_t>* paired = nullptr;  // path + 1; 0: not paired yet
    BalanceCounters& counters;
    balance::PathMonitor* monitor = nullptr;
    balance::PsnOwners* owners = nullptr;
    uint32_t worker = 0;
};
void path_feedback(Burst& b, FeedbackContext& ctx);

// balance.apply (host -> fabric, after crypt.seal): writes the chosen UDP source port
// and fixes the ICRC in constant time (roce::icrc_after_src_port_change); on a frame
// crypt.seal sealed, the outer UDP source port (unauthenticated, checksum 0: nothing to
// fix). A frame in several segments keeps its port (counted), the uplink still follows.
void balance_apply(Burst& b, BalanceCounters& counters);

class PspStage;    // psp_stage.hpp
struct PspConfig;  // config.hpp

// crypt.seal (host -> fabric): PSP encapsulation of RoCE to hosts behind a peer weftd
// ([psp], psp_stage.hpp); a frame that cannot be sealed is dropped, never sent in clear.
void crypt_seal(Burst& b, PspStage& psp, CryptCounters& counters);

// crypt.open (fabric -> host, before account): PSP frames (UDP 1000) are authenticated,
// checked against replay and decrypted here. With no security association configured,
// every PSP frame has an unknown SPI: it is dropped and counted, never forwarded unopened.
void crypt_open(Burst& b, PspStage& psp, CryptCounters& counters);

// After account and firewall (fabric -> host): RoCE in the clear from a host behind a PSP
// peer is dropped and counted (zero trust: that peer seals everything it sends).
void drop_plaintext_from_peers(Burst& b, const PspConfig& config, CryptCounters& counters);

// offers (fabric -> host, first): weft frames (EtherType 0x88b5) are weftd's own, never
// the host's: a reorder offer is learnt into `peers` (good for three of its intervals),
// anything else of ours is counted bad; both are dropped.
void take_offers(Burst& b, balance::ReorderPeers& peers, BalanceCounters& counters);

// reorder (fabric -> host, [balance] reorder): RoCE requests go through the reorder
// buffer (balance/reorder.hpp), which queues them for the host port in PSN order, now or
// once the gap before them fills or times out; they are `consumed` for tx.
struct ReorderContext {
    balance::Reorderer& reorderer;
    TxQueues& tx;
    TxCounters& tx_counters;
    std::array<PortCounters, kMaxPorts>& ports;
    uint16_t host_port;
};
void reorder(Burst& b, ReorderContext& ctx);

}  // namespace weft::dataplane

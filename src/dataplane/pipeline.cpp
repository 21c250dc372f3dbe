#include "weft/dataplane/pipeline.hpp"

#include <variant>
#include "weft/dataplane/config_sections.hpp"
#include "weft/dataplane/eal.hpp"

#include <fmt/format.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>

#include "weft/balance/reorder_offer.hpp"

#include <algorithm>

namespace weft::dataplane {

flow::TableConfig worker_table_config(const Config& c) {
    flow::TableConfig t;
    t.max_flows = std::max<uint32_t>(1, c.flows.max_flows / c.workers);
    t.idle_timeout_ns = uint64_t(c.flows.idle_timeout_s) * 1'000'000'000ull;  // 0: never
    return t;
}

// A port's MTU: the interface's, for net_af_packet; the driver's otherwise; 0 unknown.
uint32_t port_mtu(const Port& p) {
    uint32_t mtu = p.config.driver() == "net_af_packet" ? interface_mtu(p.config.arg("iface")) : 0;
    uint16_t dpdk_mtu = 0;
    if (mtu == 0 && rte_eth_dev_get_mtu(p.id, &dpdk_mtu) == 0) mtu = dpdk_mtu;
    return mtu;
}

// The largest frame every fabric port can send: its MTU plus the Ethernet header and one
// VLAN tag.
uint32_t fabric_frame_limit(const Config& c, const PortSet& ports) {
    if (!c.psp.enabled()) return 0;
    uint32_t limit = 0;
    for (uint16_t i : ports.fabric()) {
        const uint32_t mtu = port_mtu(ports.ports()[i]);
        if (mtu == 0) continue;
        const uint32_t frame = mtu + 14 + 4;
        limit = limit == 0 ? frame : std::min(limit, frame);
    }
    return limit;
}

std::string psp_mtu_problem(const Config& c, const PortSet& ports) {
    if (!c.psp.enabled() || ports.host() < 0) return {};
    // what sealing adds (no cookie: weftd sends none); tunnel mode: an IPv4 outer header
    const uint32_t overhead = c.psp.tunnel ? 60 : 40;
    const Port& host = ports.ports()[uint16_t(ports.host())];
    const uint32_t host_mtu = port_mtu(host);
    if (host_mtu == 0) return {};
    for (uint16_t i : ports.fabric()) {
        const Port& f = ports.ports()[i];
        const uint32_t fabric_mtu = port_mtu(f);
        if (fabric_mtu == 0 || host_mtu + overhead <= fabric_mtu) continue;
        // the largest RoCE path MTU (256 .. 4096) whose packets fit once sealed:
        // IP 20 + UDP 8 + BTH 12 + RETH 16 + ICRC 4 = 60 bytes around the payload
        uint32_t roce_mtu = 0;
        for (uint32_t m : {4096u, 2048u, 1024u, 512u, 256u})
            if (m + 60 + overhead <= fabric_mtu) {
                roce_mtu = m;
                break;
            }
        return fmt::format(
            "PSP adds {} bytes to each sealed frame, and port {} (fabric) has MTU {} while "
            "port {} (host) has MTU {}: host packets over {} bytes cannot be sealed and are "
            "dropped (crypt.tx_too_big). Give the hosts a RoCE MTU of {} or less, or raise the "
            "fabric MTU to {}",
            overhead, f.config.name, fabric_mtu, host.config.name, host_mtu, fabric_mtu - overhead,
            roce_mtu ? std::to_string(roce_mtu) : std::string("(none fits)"), host_mtu + overhead);
    }
    return {};
}

balance::PathSet balance_paths(const Config& c, size_t uplinks) {
    return balance::PathSet(uint32_t(std::max<size_t>(uplinks, 1)), c.balance.source_ports);
}

namespace {
balance::CongestionSettings congestion_settings(const Config& c) {
    balance::CongestionSettings s;
    s.round_ns = uint64_t(c.balance.round_us) * 1000;
    s.congested_rounds = c.balance.congested_rounds;
    s.clear_rounds = c.balance.clear_rounds;
    s.signal_permille = c.balance.signal_permille;
    return s;
}
}  // namespace

BalanceShared::BalanceShared(const Config& c, size_t uplinks)
    : monitor(balance_paths(c, uplinks), c.workers, congestion_settings(c)),
      policy(c.balance.policy) {}

balance::Policy make_balance_policy(const Config& c, BalancePolicy policy, size_t uplinks,
                                    BalanceShared* shared, uint32_t worker) {
    const uint64_t gap_ns = uint64_t(c.balance.flowlet_gap_us) * 1000;
    switch (policy) {
        case BalancePolicy::flowlet:
            return balance::FlowletPolicy(balance_paths(c, uplinks), gap_ns);
        case BalancePolicy::congestion:
            return balance::CongestionPolicy(balance_paths(c, uplinks), gap_ns, &shared->monitor,
                                             worker);
        case BalancePolicy::spray:
            return balance::SprayPolicy(balance_paths(c, uplinks), gap_ns, &shared->monitor, worker,
                                        &shared->peers);
        case BalancePolicy::ecmp:
            break;
    }
    return balance::EcmpPolicy{};
}

Pipeline::Pipeline(const Config& c, const PortSet& ports, uint16_t tx_queue)
    : ports_(ports),
      passive_mode_(c.mode == Mode::passive),
      fabric_ports_(ports.fabric()),
      firewall_{c.firewall.verify_icrc, c.firewall.drop_bad_icrc},
      classifier_(c.classify.rules.empty()
                      ? classify::Classifier(classify::Unclassified{})
                      : classify::Classifier(classify::RuleClassifier(c.classify.rules))),
      config_(c),
      own_balance_(std::make_unique<BalanceShared>(c, ports.fabric().size())),
      balance_shared_(own_balance_.get()),
      policy_in_force_(c.balance.policy),
      balance_(make_balance_policy(c, policy_in_force_, ports.fabric().size(), balance_shared_, 0)),
      psp_config_(c.psp),
      psp_(c.psp, tx_queue, c.workers, fabric_frame_limit(c, ports)),
      table_(worker_table_config(c)),
      tx_(ports, tx_queue),
      tx_queue_(tx_queue) {
    if (ports.host() >= 0) host_port_ = uint16_t(ports.host());
    uplink_drops_seen_.assign(fabric_ports_.size(), 0);
    make_class_policies(0);
    if (!passive_mode_) {
        flowlets_ =
            std::make_unique<flow::SideArray<balance::FlowletState>>(table_.config().max_flows);
        paired_ = std::make_unique<flow::SideArray<uint32_t>>(table_.config().max_flows);
    }
    if (c.balance.reorder && !passive_mode_) {
        balance::ReorderSettings r;
        r.depth = c.balance.reorder_depth;
        r.flows = c.balance.reorder_flows;
        r.timeout_ns = uint64_t(c.balance.reorder_timeout_us) * 1000;
        reorderer_ = std::make_unique<balance::Reorderer>(r, table_.config().max_flows);
    }
}

void Pipeline::housekeeping(uint64_t now_ns) {
    balance_shared_->monitor.tick(now_ns);
    if (!reorderer_) return;
    if (reorderer_->frames_held()) {
        reorderer_->expire(now_ns, [&](void* m) {
            tx_.enqueue(host_port_, static_cast<rte_mbuf*>(m), true, stats_.tx, stats_.ports);
        });
        copy_reorder_counters();
    }
    if (tx_queue_ == 0 && now_ns >= next_offer_ns_) {
        send_offers(now_ns);
        next_offer_ns_ = now_ns + uint64_t(config_.balance.offer_interval_ms) * 1'000'000;
    }
}

void Pipeline::copy_reorder_counters() {
    const balance::ReorderCounters& r = reorderer_->counters();
    ReorderStageCounters& out = stats_.reorder;
    out.in_order = r.in_order;
    out.starts = r.starts;
    out.held = r.held;
    out.released_in_order = r.released_in_order;
    out.timeouts = r.timeouts;
    out.released_on_timeout = r.released_on_timeout;
    out.overflows = r.overflows;
    out.released_on_overflow = r.released_on_overflow;
    out.behind = r.behind;
    out.released_on_restart = r.released_on_restart;
    out.no_slot = r.no_slot;
}

void Pipeline::send_offers(uint64_t) {
    balance::ReorderOffer offer;
    offer.interval_ms = config_.balance.offer_interval_ms;
    offer.timeout_us = config_.balance.reorder_timeout_us;
    offer.depth = uint16_t(config_.balance.reorder_depth);
    offer.hosts = config_.balance.reorder_hosts;
    const size_t bytes = balance::offer_bytes(offer);
    for (size_t u = 0; u < fabric_ports_.size(); ++u) {
        const Port& port = ports_.ports()[fabric_ports_[u]];
        rte_mbuf* m = port.pool ? rte_pktmbuf_alloc(port.pool) : nullptr;
        if (!m) continue;  // the pool is empty: the next interval tries again
        uint8_t* p = reinterpret_cast<uint8_t*>(rte_pktmbuf_append(m, uint16_t(bytes)));
        if (!p || balance::encode_offer(offer, uint8_t(u), {p, bytes}) != bytes) {
            rte_pktmbuf_free(m);
            continue;
        }
        tx_.enqueue(fabric_ports_[u], m, false, stats_.tx, stats_.ports);
        ++stats_.balance.offers_sent;
    }
}

void Pipeline::release_held() {
    if (!reorderer_) return;
    reorderer_->release_all([&](void* m) {
        tx_.enqueue(host_port_, static_cast<rte_mbuf*>(m), true, stats_.tx, stats_.ports);
    });
    copy_reorder_counters();
}

void Pipeline::make_class_policies(uint32_t worker) {
    class_policies_ = ClassPolicies{};
    classes_configured_ = false;
    for (size_t k = 0; k < classify::kTrafficClassCount; ++k) {
        const BalanceConfig::ClassBalance& cb = config_.balance.classes[k];
        class_policy_store_[k].reset();
        if (cb.has_policy) {
            class_policy_store_[k] = make_balance_policy(config_, cb.policy, fabric_ports_.size(),
                                                         balance_shared_, worker);
            class_policies_.policy[k] = &*class_policy_store_[k];
            class_policies_.any_policy = true;
            classes_configured_ = true;
        }
        if (cb.dscp >= 0) {
            class_policies_.dscp[k] = uint8_t(cb.dscp);
            classes_configured_ = true;
        }
    }
}

void Pipeline::share_balance(BalanceShared* shared, uint32_t worker) {
    balance_shared_ = shared;
    balance_worker_ = worker;
    own_balance_.reset();
    make_class_policies(worker);
    policy_in_force_ = shared->policy.load(std::memory_order_relaxed);
    balance_ = make_balance_policy(config_, policy_in_force_, fabric_ports_.size(), shared, worker);
}

void Pipeline::charge_tx_drops() {
    for (size_t u = 0; u < fabric_ports_.size(); ++u) {
        const uint64_t dropped = tx_.dropped(fabric_ports_[u]);
        if (dropped == uplink_drops_seen_[u]) continue;
        balance_shared_->monitor.uplink_signal(balance_worker_, uint32_t(u),
                                               balance::Signal::tx_drop,
                                               dropped - uplink_drops_seen_[u]);
        uplink_drops_seen_[u] = dropped;
    }
}

void Pipeline::follow_balance_policy() {
    const BalancePolicy wanted = balance_shared_->policy.load(std::memory_order_relaxed);
    if (wanted == policy_in_force_) return;
    // flows keep their paths: every policy reads the same per-flow state, and a flowlet
    // policy moves a flow only at its next gap
    policy_in_force_ = wanted;
    balance_ = make_balance_policy(config_, wanted, fabric_ports_.size(), balance_shared_,
                                   balance_worker_);
}

Direction Pipeline::direction_of(uint16_t port_index) const {
    if (passive_mode_) return Direction::passive;
    return port_index == host_port_ ? Direction::host_to_fabric : Direction::fabric_to_host;
}

void Pipeline::run(Burst& b) {
    // Where each direction sends a frame no stage redirects: from the host, the first
    // uplink (non-RoCE: ARP, the verbs programs' TCP side channels); from the fabric, the
    // host.
    const uint16_t out = b.direction == Direction::host_to_fabric   ? fabric_ports_.front()
                         : b.direction == Direction::fabric_to_host ? host_port_
                                                                    : kNoPort;
    for (PacketState& s : b.frames()) {
        s.out_port = out;
        s.dropped = false;
        s.traffic_class = classify::TrafficClass::unknown;
        s.path = {};
        s.mark_dscp = kNoDscp;
        s.sealed = false;
        s.opened = false;
        s.consumed = false;
    }
    switch (b.direction) {
        case Direction::host_to_fabric:
            host_to_fabric(b);
            break;
        case Direction::fabric_to_host:
            fabric_to_host(b);
            break;
        case Direction::passive:
            passive(b);
            break;
    }
    tx_.send(b, stats_.tx, stats_.ports);
    if (b.direction == Direction::host_to_fabric) charge_tx_drops();
}

void Pipeline::host_to_fabric(Burst& b) {
    AccountContext acct{table_, stats_.account, stats_.rx, segmented_, firewall_.verify_icrc};
    account(b, acct);
    firewall(b, firewall_, stats_.firewall);
    std::visit([&](const auto& classifier) { classify_stage(b, classifier); }, classifier_);
    follow_balance_policy();
    balance_shared_->monitor.tick(b.now_ns);
    BalanceContext balance{flowlets_.get(), stats_.balance, &balance_shared_->monitor,
                           &balance_shared_->owners, balance_worker_};
    const ClassPolicies* classes = classes_configured_ ? &class_policies_ : nullptr;
    std::visit(
        [&](const auto& policy) { balance_decide(b, policy, fabric_ports_, balance, classes); },
        balance_);
    crypt_seal(b, psp_, stats_.crypt);
    balance_apply(b, stats_.balance);
}

void Pipeline::fabric_to_host(Burst& b) {
    take_offers(b, balance_shared_->peers, stats_.balance);
    crypt_open(b, psp_, stats_.crypt);
    AccountContext acct{table_, stats_.account, stats_.rx, segmented_, firewall_.verify_icrc};
    account(b, acct);
    firewall(b, firewall_, stats_.firewall);
    if (psp_.enabled()) drop_plaintext_from_peers(b, psp_config_, stats_.crypt);
    balance_shared_->monitor.tick(b.now_ns);
    FeedbackContext feedback{paired_.get(), stats_.balance, &balance_shared_->monitor,
                             &balance_shared_->owners, balance_worker_};
    path_feedback(b, feedback);
    if (reorderer_ && !balance_shared_->reorder_paused.load(std::memory_order_relaxed)) {
        ReorderContext r{*reorderer_, tx_, stats_.tx, stats_.ports, host_port_};
        reorder(b, r);
        copy_reorder_counters();
    }
}

void Pipeline::passive(Burst& b) {
    AccountContext acct{table_, stats_.account, stats_.rx, segmented_, firewall_.verify_icrc};
    account(b, acct);
}

void parse_flows_section(const toml::node& node, Config& c, config::Problems& problems) {
    const toml::table* t = config::as_table(node, "flows", problems);
    if (!t) return;
    static constexpr std::string_view kKeys[] = {"max_flows", "idle_timeout_s"};
    config::refuse_unknown_keys(*t, "flows", kKeys, problems);
    config::read_uint(*t, "flows", "max_flows", 1u, flow::Table::kMaxFlowsLimit, c.flows.max_flows,
                      problems);
    config::read_uint(*t, "flows", "idle_timeout_s", 0u, 86400u * 7, c.flows.idle_timeout_s,
                      problems);
}

}  // namespace weft::dataplane

#include "weft/dataplane/instance.hpp"

#include <fmt/format.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include <chrono>
#include <thread>

#include <unistd.h>

#include "weft/capture/pcap_file.hpp"
#include "weft/flow/summary.hpp"

namespace weft::dataplane {

namespace {

struct Launch {
    Worker* worker;
    std::atomic<bool>* stop;
};

int worker_main(void* arg) {
    auto* l = static_cast<Launch*>(arg);
    l->worker->run(*l->stop);
    return 0;
}

void add(flow::Totals& a, const flow::Totals& b) {
    a.frames += b.frames;
    a.bytes += b.bytes;
    a.roce_packets += b.roce_packets;
    a.roce_bytes += b.roce_bytes;
    a.not_roce += b.not_roce;
    a.icrc_checked += b.icrc_checked;
    a.icrc_errors += b.icrc_errors;
    a.truncated_records += b.truncated_records;
    for (size_t i = 0; i < a.verdicts.size(); ++i) a.verdicts[i] += b.verdicts[i];
}

void add(flow::TableCounters& a, const flow::TableCounters& b) {
    a.packets += b.packets;
    a.flows_created += b.flows_created;
    a.flows_evicted_idle += b.flows_evicted_idle;
    a.flows_refused_table_full += b.flows_refused_table_full;
    a.hosts_refused_table_full += b.hosts_refused_table_full;
    a.extension_refused += b.extension_refused;
    a.opcode_detail_overflow += b.opcode_detail_overflow;
}

}  // namespace

Instance::Instance(const Config& c, const Plan& p) : config_(c), plan_(p) {
    // Count what the pcap ports will deliver before DPDK opens the files, so the end of
    // input is known exactly (net_pcap gives no end-of-file signal).
    if (c.exit_on_eof)
        for (const PortConfig& port : c.ports)
            if (std::string f = port.arg("rx_pcap"); port.driver() == "net_pcap" && !f.empty()) {
                capture::PcapReader reader(f);
                capture::Record rec;
                while (reader.next(rec)) ++expected_frames_;
            }
    eal_ = std::make_unique<Eal>(c, p);
    ports_ = std::make_unique<PortSet>(c);
    // Each worker sends on its own TX queue of every port: no locks on the TX path.
    if (c.mode == Mode::inline_)
        for (const Port& port : ports_->ports())
            if (port.tx_queues < c.workers)
                throw DataplaneError(fmt::format(
                    "port {}: its driver gives {} TX queue(s), fewer than the {} workers "
                    "(net_af_packet: add qpairs={} to its args)",
                    port.config.name, port.tx_queues, c.workers, c.workers));
    for (unsigned i = 0; i < c.workers; ++i)
        workers_.push_back(std::make_unique<Worker>(i, c, *ports_));
    // A port with fewer RX queues than workers is read by the workers that have a queue,
    // and each frame handed to its flow's owner through that worker's inbox (dispatch.hpp).
    bool dispatch = std::any_of(ports_->ports().begin(), ports_->ports().end(),
                                [&](const Port& p) { return p.rx_queues < c.workers; });
    if (dispatch && c.workers > 1) {
        for (unsigned i = 0; i < c.workers; ++i) {
            std::string name = fmt::format("weftd_inbox_{}", i);
            rte_ring* r =
                rte_ring_create(name.c_str(), kInboxSize, int(rte_socket_id()), RING_F_SC_DEQ);
            if (!r)
                throw DataplaneError(
                    fmt::format("cannot create {}: {}", name, rte_strerror(rte_errno)));
            inboxes_.push_back(r);
        }
        for (auto& w : workers_) w->set_inboxes(inboxes_);
    }
}

Instance::~Instance() {
    // frames still in an inbox when the workers stopped go back to their pools first
    for (rte_ring* r : inboxes_) {
        void* m = nullptr;
        while (rte_ring_dequeue(r, &m) == 0) rte_pktmbuf_free(static_cast<rte_mbuf*>(m));
        rte_ring_free(r);
    }
    workers_.clear();
    ports_.reset();
    eal_.reset();
}

std::string Instance::run(std::atomic<bool>& stop) {
    started_ = std::chrono::system_clock::now();
    running_.store(true, std::memory_order_release);
    std::vector<Launch> launches;
    launches.reserve(workers_.size());
    for (size_t i = 0; i < workers_.size(); ++i) {
        launches.push_back({workers_[i].get(), &stop});
        int rc = rte_eal_remote_launch(worker_main, &launches.back(), unsigned(i));
        if (rc != 0) {
            stop = true;
            rte_eal_mp_wait_lcore();
            running_.store(false, std::memory_order_release);
            throw DataplaneError(fmt::format("cannot launch worker {} on lcore {} (CPU {})", i, i,
                                             plan_.worker_lcores[i]));
        }
    }
    std::string reason = "stopped by signal";
    using Clock = std::chrono::steady_clock;
    uint64_t last_seen = 0;
    auto last_progress = Clock::now();
    while (!stop.load()) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
        if (!config_.exit_on_eof) continue;
        uint64_t seen = 0;
        for (const auto& w : workers_) seen += w->received();
        if (seen >= expected_frames_) {
            reason = fmt::format("end of input ({} frames)", seen);
            break;
        }
        if (seen != last_seen) {
            last_seen = seen;
            last_progress = Clock::now();
        } else if (Clock::now() - last_progress > std::chrono::seconds(3)) {
            reason = fmt::format("input stalled: {} of {} frames delivered by the driver", seen,
                                 expected_frames_);
            break;
        }
    }
    stop = true;
    rte_eal_mp_wait_lcore();
    // After the workers' threads have ended (their last publication and answers are
    // visible): readers copy the tables themselves from now on.
    running_.store(false, std::memory_order_release);
    return reason;
}

void Instance::set_endpoints(std::string control_socket, std::string metrics_address) {
    control_socket_ = std::move(control_socket);
    metrics_address_ = std::move(metrics_address);
}

namespace {

// Copies one worker's flows into `buf`: through its mailbox while it runs, directly once
// its thread has ended. Returns {copied, missed}.
std::pair<size_t, size_t> copy_flows(Worker& w, std::span<flow::FlowCopy> buf,
                                     const std::atomic<bool>& running, uint64_t seq,
                                     bool& abandoned) {
    FlowRequest& rq = w.flow_request();
    if (running.load(std::memory_order_acquire)) {
        rq.buffer = buf;
        rq.requested.store(seq, std::memory_order_release);
        auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
        for (;;) {
            if (rq.answered.load(std::memory_order_acquire) == seq) return {rq.copied, rq.missed};
            if (!running.load(std::memory_order_acquire)) break;  // ended: copy below
            if (std::chrono::steady_clock::now() > deadline) {
                // The worker may still write into the buffer: the caller must keep it.
                abandoned = true;
                throw DataplaneError(fmt::format(
                    "worker {} did not answer a flow snapshot within 5 s (is it stuck?)",
                    w.index()));
            }
            std::this_thread::sleep_for(std::chrono::microseconds(200));
        }
        if (rq.answered.load(std::memory_order_acquire) == seq) return {rq.copied, rq.missed};
    }
    flow::TableCopier c;
    c.start(buf);
    while (!c.step(w.table(), UINT32_MAX)) {
    }
    return {c.copied(), c.missed()};
}

}  // namespace

Instance::Snapshot Instance::snapshot() const {
    std::lock_guard lock(snapshot_mutex_);
    Snapshot snap;
    for (const auto& w : workers_) {
        size_t live = w->published().flows_live;
        size_t capacity = live + live / 4 + 1024;
        auto buf = std::make_unique<std::vector<flow::FlowCopy>>();
        size_t copied = 0, missed = 0;
        for (int attempt = 0; attempt < 3; ++attempt) {
            buf->resize(capacity);
            bool abandoned = false;
            try {
                std::tie(copied, missed) =
                    copy_flows(*w, *buf, running_, ++snapshot_seq_, abandoned);
            } catch (...) {
                if (abandoned) buf.release();  // NOLINT: a stuck worker may still write it
                throw;
            }
            if (missed == 0) break;
            capacity = copied + 2 * missed + 1024;  // the table grew meanwhile
        }
        buf->resize(copied);
        snap.missed += missed;
        auto flows = flow::summarize_copies(*buf);
        std::move(flows.begin(), flows.end(), std::back_inserter(snap.flows));
        WorkerPublication pub = w->published();
        add(snap.totals, pub.stats.totals);
        add(snap.table, pub.table);
    }
    // The two directions of a QP may live on different workers: pair once, across all.
    flow::pair_flows(snap.flows);
    return snap;
}

nlohmann::json Instance::flows_document(const flow::FlowFilter& filter) const {
    Snapshot snap = snapshot();
    nlohmann::json doc = flow::flows_document(snap.flows, flow::select_flows(snap.flows, filter),
                                              snap.totals, snap.table);
    doc["dataplane"] = counters_json();
    doc["dataplane"]["snapshot_missed_flows"] = snap.missed;
    return doc;
}

std::string Instance::format_flows(const flow::FlowFilter& filter) const {
    Snapshot snap = snapshot();
    return flow::format_report(snap.flows, flow::select_flows(snap.flows, filter), snap.totals,
                               snap.table);
}

Instance::Reading Instance::read_workers() const {
    Reading r;
    r.workers.reserve(workers_.size());
    for (const auto& w : workers_) {
        const WorkerPublication& pub = r.workers.emplace_back(w->published());
        add(r.totals, pub.stats.totals);
        add(r.table, pub.table);
        r.flows += pub.flows_live;
        for (size_t i = 0; i < kMaxPorts; ++i) {
            r.rx_packets[i] += pub.stats.rx_packets[i];
            r.tx_packets[i] += pub.stats.tx_packets[i];
        }
    }
    return r;
}

nlohmann::json Instance::counters_json() const {
    return counters_json(read_workers());
}

nlohmann::json Instance::counters_json(const Reading& r) const {
    using nlohmann::json;
    json workers = json::array();
    for (size_t w = 0; w < r.workers.size(); ++w) {
        const WorkerPublication& pub = r.workers[w];
        const WorkerStats& s = pub.stats;
        workers.push_back({{"worker", w},
                           {"lcore", w},
                           {"cpu", plan_.worker_lcores[w]},
                           {"frames", s.totals.frames},
                           {"roce_packets", s.totals.roce_packets},
                           {"forwarded_roce", s.forwarded_roce},
                           {"forwarded_other", s.forwarded_other},
                           {"dropped_malformed", s.dropped_malformed},
                           {"dropped_bad_icrc", s.dropped_bad_icrc},
                           {"dropped_tx_full", s.dropped_tx_full},
                           {"dispatched", s.dispatched},
                           {"dropped_dispatch_full", s.dropped_dispatch_full},
                           {"flows", pub.flows_live}});
    }
    json ports = json::array();
    const auto& ps = ports_->ports();
    for (size_t i = 0; i < ps.size(); ++i) {
        rte_eth_stats st{};
        rte_eth_stats_get(ps[i].id, &st);
        ports.push_back({{"name", ps[i].config.name},
                         {"role", to_string(ps[i].config.role)},
                         {"device", ps[i].config.device},
                         {"rx_packets", r.rx_packets[i]},
                         {"tx_packets", r.tx_packets[i]},
                         {"driver_rx_missed", st.imissed},
                         {"driver_rx_errors", st.ierrors},
                         {"driver_tx_errors", st.oerrors}});
    }
    return {{"mode", to_string(config_.mode)}, {"ports", ports}, {"workers", workers}};
}

std::string Instance::format_counters() const {
    nlohmann::json j = counters_json();
    std::string s;
    for (const auto& p : j["ports"])
        s += fmt::format(
            "port {:<10} {:<7} rx {:>12} tx {:>12} (driver: missed {}, rx errors {}, tx errors "
            "{})\n",
            p["name"].get<std::string>(), p["role"].get<std::string>(),
            p["rx_packets"].get<uint64_t>(), p["tx_packets"].get<uint64_t>(),
            p["driver_rx_missed"].get<uint64_t>(), p["driver_rx_errors"].get<uint64_t>(),
            p["driver_tx_errors"].get<uint64_t>());
    for (const auto& w : j["workers"])
        s += fmt::format(
            "worker {} (CPU {}): frames {}, RoCE {}, forwarded RoCE {} other {}, dropped "
            "malformed {} bad ICRC {} TX full {}, flows {}\n",
            w["worker"].get<unsigned>(), w["cpu"].get<unsigned>(), w["frames"].get<uint64_t>(),
            w["roce_packets"].get<uint64_t>(), w["forwarded_roce"].get<uint64_t>(),
            w["forwarded_other"].get<uint64_t>(), w["dropped_malformed"].get<uint64_t>(),
            w["dropped_bad_icrc"].get<uint64_t>(), w["dropped_tx_full"].get<uint64_t>(),
            w["flows"].get<uint64_t>());
    return s;
}

nlohmann::json Instance::status_json() const {
    using nlohmann::json;
    const Reading r = read_workers();
    bool running = running_.load(std::memory_order_acquire);
    double uptime =
        std::chrono::duration<double>(std::chrono::system_clock::now() - started_).count();
    json doc = {
        {"schema", "weft.status/1"},
        {"pid", ::getpid()},
        {"mode", to_string(config_.mode)},
        {"running", running},
        {"started_unix_s", std::chrono::duration<double>(started_.time_since_epoch()).count()},
        {"uptime_s", uptime},
        {"control_socket", control_socket_},
        {"metrics", metrics_address_.empty() ? json(nullptr) : json(metrics_address_)},
        {"config",
         {{"workers", config_.workers},
          {"ports", config_.ports.size()},
          {"max_flows", config_.max_flows},
          {"idle_timeout_s", config_.idle_timeout_s},
          {"verify_icrc", config_.verify_icrc},
          {"drop_bad_icrc", config_.drop_bad_icrc}}},
        {"flows", r.flows},
        {"totals", flow::totals_to_json(r.totals)},
        {"table", flow::table_counters_to_json(r.table)}};
    doc["workers"] = counters_json(r)["workers"];
    return doc;
}

std::string Instance::format_status() const {
    nlohmann::json j = status_json();
    const auto& t = j["totals"];
    std::string s =
        fmt::format("weftd pid {}, {} mode, {} for {:.1f} s, {} worker(s), {} port(s)\n",
                    j["pid"].get<int>(), j["mode"].get<std::string>(),
                    j["running"].get<bool>() ? "running" : "stopped", j["uptime_s"].get<double>(),
                    j["config"]["workers"].get<unsigned>(), j["config"]["ports"].get<size_t>());
    s += fmt::format("control socket {}, metrics {}\n", j["control_socket"].get<std::string>(),
                     j["metrics"].is_null() ? "off" : j["metrics"].get<std::string>());
    s += fmt::format(
        "frames {} ({}), RoCE {}, not RoCE {}, malformed {}, ICRC checked {} errors {}\n",
        t["frames"].get<uint64_t>(), flow::format_bytes(t["bytes"].get<uint64_t>()),
        t["roce_packets"].get<uint64_t>(), t["not_roce"].get<uint64_t>(),
        t["malformed"].get<uint64_t>(), t["icrc_checked"].get<uint64_t>(),
        t["icrc_errors"].get<uint64_t>());
    const auto& tb = j["table"];
    s += fmt::format(
        "flows {} live of {} max; created {}, evicted idle {}, refused (table full) {}\n",
        j["flows"].get<uint64_t>(), j["config"]["max_flows"].get<uint64_t>(),
        tb["flows_created"].get<uint64_t>(), tb["flows_evicted_idle"].get<uint64_t>(),
        tb["flows_refused_table_full"].get<uint64_t>());
    s += format_counters();
    return s;
}

nlohmann::json Instance::ports_json() const {
    using nlohmann::json;
    json ports = json::array();
    const auto& ps = ports_->ports();
    const Reading r = read_workers();
    for (size_t i = 0; i < ps.size(); ++i) {
        const Port& p = ps[i];
        rte_eth_stats st{};
        rte_eth_stats_get(p.id, &st);
        rte_eth_link link{};
        rte_eth_link_get_nowait(p.id, &link);
        json per_worker = json::array();
        for (size_t w = 0; w < r.workers.size(); ++w)
            per_worker.push_back({{"worker", w},
                                  {"rx_packets", r.workers[w].stats.rx_packets[i]},
                                  {"tx_packets", r.workers[w].stats.tx_packets[i]}});
        ports.push_back({{"name", p.config.name},
                         {"role", to_string(p.config.role)},
                         {"device", p.config.device},
                         {"driver", p.config.driver()},
                         {"port_id", p.id},
                         {"numa_node", rte_eth_dev_socket_id(p.id)},
                         {"rx_queues", p.rx_queues},
                         {"tx_queues", p.tx_queues},
                         {"link_up", link.link_status == RTE_ETH_LINK_UP},
                         {"link_speed_mbps", link.link_speed},
                         {"rx_packets", r.rx_packets[i]},
                         {"tx_packets", r.tx_packets[i]},
                         {"workers", per_worker},
                         {"driver_counters",
                          {{"rx_packets", st.ipackets},
                           {"tx_packets", st.opackets},
                           {"rx_bytes", st.ibytes},
                           {"tx_bytes", st.obytes},
                           {"rx_missed", st.imissed},
                           {"rx_errors", st.ierrors},
                           {"tx_errors", st.oerrors},
                           {"rx_no_mbuf", st.rx_nombuf}}}});
    }
    return {{"schema", "weft.ports/1"}, {"mode", to_string(config_.mode)}, {"ports", ports}};
}

std::string Instance::format_ports() const {
    nlohmann::json j = ports_json();
    std::string s =
        fmt::format("{:<10} {:<7} {:<24} {:>4} {:>6} {:>12} {:>12} {:>10} {:>8}\n", "PORT", "ROLE",
                    "DEVICE", "LINK", "QUEUES", "RX", "TX", "RX MISSED", "ERRORS");
    for (const auto& p : j["ports"]) {
        const auto& d = p["driver_counters"];
        s += fmt::format(
            "{:<10} {:<7} {:<24} {:>4} {:>6} {:>12} {:>12} {:>10} {:>8}\n",
            p["name"].get<std::string>(), p["role"].get<std::string>(),
            p["device"].get<std::string>(), p["link_up"].get<bool>() ? "up" : "down",
            fmt::format("{}/{}", p["rx_queues"].get<unsigned>(), p["tx_queues"].get<unsigned>()),
            p["rx_packets"].get<uint64_t>(), p["tx_packets"].get<uint64_t>(),
            d["rx_missed"].get<uint64_t>(),
            d["rx_errors"].get<uint64_t>() + d["tx_errors"].get<uint64_t>());
    }
    return s;
}

}  // namespace weft::dataplane

#include "weft/dataplane/instance.hpp"

#include <fmt/format.h>
#include <rte_ethdev.h>
#include <rte_launch.h>
#include <rte_lcore.h>

#include <chrono>
#include <thread>

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
    if (c.mode == Mode::inline_)
        for (const Port& port : ports_->ports())
            if (port.tx_queues < c.workers || port.rx_queues < c.workers)
                throw DataplaneError(fmt::format(
                    "port {}: its driver gives {} RX / {} TX queue(s), fewer than the {} workers "
                    "(net_af_packet: add qpairs={} to its args)",
                    port.config.name, port.rx_queues, port.tx_queues, c.workers, c.workers));
    for (unsigned i = 0; i < c.workers; ++i)
        workers_.push_back(std::make_unique<Worker>(i, c, *ports_));
}

Instance::~Instance() {
    workers_.clear();
    ports_.reset();
    eal_.reset();
}

std::string Instance::run(std::atomic<bool>& stop) {
    std::vector<Launch> launches;
    launches.reserve(workers_.size());
    for (size_t i = 0; i < workers_.size(); ++i) {
        launches.push_back({workers_[i].get(), &stop});
        int rc = rte_eal_remote_launch(worker_main, &launches.back(), plan_.worker_lcores[i]);
        if (rc != 0) {
            stop = true;
            rte_eal_mp_wait_lcore();
            throw DataplaneError(
                fmt::format("cannot launch worker {} on lcore {}", i, plan_.worker_lcores[i]));
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
    return reason;
}

nlohmann::json Instance::flows_document() const {
    std::vector<flow::FlowSummary> flows;
    flow::Totals totals;
    flow::TableCounters counters;
    for (const auto& w : workers_) {
        const flow::Table& table = w->table();
        table.for_each([&](uint32_t, const flow::FlowRecord& r) {
            flows.push_back(flow::summarize(table, r));
        });
        add(totals, w->stats().totals);
        add(counters, table.counters());
    }
    // The two directions of a QP may live on different workers: pair once, across all.
    flow::pair_flows(flows);
    nlohmann::json doc =
        flow::flows_document(flows, flow::select_flows(flows, {}), totals, counters);
    doc["dataplane"] = counters_json();
    return doc;
}

nlohmann::json Instance::counters_json() const {
    using nlohmann::json;
    json workers = json::array();
    WorkerStats sum;
    for (const auto& w : workers_) {
        const WorkerStats& s = w->stats();
        workers.push_back({{"worker", w->index()},
                           {"lcore", plan_.worker_lcores[w->index()]},
                           {"frames", s.totals.frames},
                           {"roce_packets", s.totals.roce_packets},
                           {"forwarded_roce", s.forwarded_roce},
                           {"forwarded_other", s.forwarded_other},
                           {"dropped_malformed", s.dropped_malformed},
                           {"dropped_bad_icrc", s.dropped_bad_icrc},
                           {"dropped_tx_full", s.dropped_tx_full},
                           {"flows", w->table().size()}});
        for (size_t i = 0; i < kMaxPorts; ++i) {
            sum.rx_packets[i] += s.rx_packets[i];
            sum.tx_packets[i] += s.tx_packets[i];
        }
    }
    json ports = json::array();
    const auto& ps = ports_->ports();
    for (size_t i = 0; i < ps.size(); ++i) {
        rte_eth_stats st{};
        rte_eth_stats_get(ps[i].id, &st);
        ports.push_back({{"name", ps[i].config.name},
                         {"role", to_string(ps[i].config.role)},
                         {"device", ps[i].config.device},
                         {"rx_packets", sum.rx_packets[i]},
                         {"tx_packets", sum.tx_packets[i]},
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
            "worker {} (lcore {}): frames {}, RoCE {}, forwarded RoCE {} other {}, dropped "
            "malformed {} "
            "bad ICRC {} TX full {}, flows {}\n",
            w["worker"].get<unsigned>(), w["lcore"].get<unsigned>(), w["frames"].get<uint64_t>(),
            w["roce_packets"].get<uint64_t>(), w["forwarded_roce"].get<uint64_t>(),
            w["forwarded_other"].get<uint64_t>(), w["dropped_malformed"].get<uint64_t>(),
            w["dropped_bad_icrc"].get<uint64_t>(), w["dropped_tx_full"].get<uint64_t>(),
            w["flows"].get<uint64_t>());
    return s;
}

}  // namespace weft::dataplane

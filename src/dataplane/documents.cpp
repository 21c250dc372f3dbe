#include "weft/dataplane/documents.hpp"

#include <fmt/format.h>
#include <rte_ethdev.h>
#include <unistd.h>

#include <chrono>

#include "weft/flow/report.hpp"
#include "weft/roce/psp.hpp"
#include "weft/telemetry/render.hpp"

namespace weft::dataplane {

using nlohmann::json;

namespace {

// {"rx": {...}, "account": {...}, ...}: every stage's counters under its name.
json stages_json(const WorkerStats& s) {
    json j = json::object();
    for_each_stage([&](const auto& stage) {
        j[std::string(stage.name)] = telemetry::to_json(s.*stage.member);
    });
    return j;
}

// The stages that run in this mode (a passive weftd only receives and accounts).
std::string stages_text(const WorkerStats& s, bool passive, std::string_view indent) {
    std::string out;
    for_each_stage([&](const auto& stage) {
        if (passive && !stage.passive) return;
        out += fmt::format("{}{}: {}\n", indent, stage.name, telemetry::to_text(s.*stage.member));
    });
    return out;
}

json workers_json(const Instance& instance, const Instance::Reading& r) {
    json workers = json::array();
    for (size_t w = 0; w < r.workers.size(); ++w) {
        const WorkerPublication& pub = r.workers[w];
        json entry = stages_json(pub.stats);
        entry["worker"] = w;
        entry["lcore"] = w;
        entry["cpu"] = instance.plan().worker_lcores[w];
        entry["flows"] = pub.flows_live;
        workers.push_back(std::move(entry));
    }
    return workers;
}

json counters_json(const Instance& instance, const Instance::Reading& r) {
    json ports = json::array();
    const auto& ps = instance.ports().ports();
    for (size_t i = 0; i < ps.size(); ++i) {
        const rte_eth_stats st = instance.ports().driver_stats(i);
        json p = telemetry::to_json(r.stats.ports[i]);
        p["name"] = ps[i].config.name;
        p["role"] = to_string(ps[i].config.role);
        p["device"] = ps[i].config.device;
        p["driver_rx_missed"] = st.imissed;
        p["socket_ring_drops"] = instance.ports().socket_ring_drops(i);
        p["driver_rx_errors"] = st.ierrors;
        p["driver_tx_errors"] = st.oerrors;
        ports.push_back(std::move(p));
    }
    return {{"mode", to_string(instance.config().mode)},
            {"ports", ports},
            {"workers", workers_json(instance, r)}};
}

std::string counters_text(const Instance& instance, const Instance::Reading& r) {
    std::string s;
    const auto& ps = instance.ports().ports();
    for (size_t i = 0; i < ps.size(); ++i) {
        const rte_eth_stats st = instance.ports().driver_stats(i);
        const uint64_t ring = instance.ports().socket_ring_drops(i);
        s += fmt::format("port {:<10} {:<7} {} (driver: missed {}{}, rx errors {}, tx errors {})\n",
                         ps[i].config.name, to_string(ps[i].config.role),
                         telemetry::to_text(r.stats.ports[i]), st.imissed,
                         ring ? fmt::format(" of which socket ring full {}", ring) : "", st.ierrors,
                         st.oerrors);
    }
    for (size_t w = 0; w < r.workers.size(); ++w) {
        s += fmt::format("worker {} (CPU {}), {} flows\n", w, instance.plan().worker_lcores[w],
                         r.workers[w].flows_live);
        s += stages_text(r.workers[w].stats, instance.config().mode == Mode::passive, "  ");
    }
    return s;
}

}  // namespace

json counters_document(const Instance& instance) {
    return counters_json(instance, instance.read_workers());
}

std::string counters_text(const Instance& instance) {
    return counters_text(instance, instance.read_workers());
}

json status_document(const Instance& instance) {
    const Instance::Reading r = instance.read_workers();
    const Config& c = instance.config();
    const auto started = instance.started();
    double uptime =
        std::chrono::duration<double>(std::chrono::system_clock::now() - started).count();
    return {{"schema", "weft.status/1"},
            {"pid", ::getpid()},
            {"mode", to_string(c.mode)},
            {"running", instance.running()},
            {"started_unix_s", std::chrono::duration<double>(started.time_since_epoch()).count()},
            {"uptime_s", uptime},
            {"control_socket", instance.control_socket()},
            {"metrics",
             instance.metrics_address().empty() ? json(nullptr) : json(instance.metrics_address())},
            {"config",
             {{"workers", c.workers},
              {"ports", c.ports.size()},
              {"max_flows", c.flows.max_flows},
              {"idle_timeout_s", c.flows.idle_timeout_s},
              {"verify_icrc", c.firewall.verify_icrc},
              {"drop_bad_icrc", c.firewall.drop_bad_icrc}}},
            {"flows", r.flows},
            {"totals", flow::totals_to_json(r.stats.account)},
            {"table", flow::table_counters_to_json(r.table)},
            {"stages", stages_json(r.stats)},
            {"workers", workers_json(instance, r)}};
}

std::string status_text(const Instance& instance) {
    const Instance::Reading r = instance.read_workers();
    const Config& c = instance.config();
    const flow::Totals& t = r.stats.account;
    double uptime =
        std::chrono::duration<double>(std::chrono::system_clock::now() - instance.started())
            .count();
    std::string s =
        fmt::format("weftd pid {}, {} mode, {} for {:.1f} s, {} worker(s), {} port(s)\n",
                    ::getpid(), to_string(c.mode), instance.running() ? "running" : "stopped",
                    uptime, c.workers, c.ports.size());
    s += fmt::format("control socket {}, metrics {}\n", instance.control_socket(),
                     instance.metrics_address().empty() ? "off" : instance.metrics_address());
    s += fmt::format(
        "frames {} ({}), RoCE {}, not RoCE {}, malformed {}, ICRC checked {} errors {}\n", t.frames,
        flow::format_bytes(t.bytes), t.roce_packets, t.not_roce, t.malformed(), t.icrc_checked,
        t.icrc_errors);
    s += fmt::format(
        "flows {} live of {} max; created {}, evicted idle {}, refused (table full) {}\n", r.flows,
        c.flows.max_flows, r.table.flows_created, r.table.flows_evicted_idle,
        r.table.flows_refused_table_full);
    s += counters_text(instance, r);
    return s;
}

json ports_document(const Instance& instance) {
    json ports = json::array();
    const auto& ps = instance.ports().ports();
    const Instance::Reading r = instance.read_workers();
    for (size_t i = 0; i < ps.size(); ++i) {
        const Port& p = ps[i];
        const rte_eth_stats st = instance.ports().driver_stats(i);
        rte_eth_link link{};
        rte_eth_link_get_nowait(p.id, &link);
        json per_worker = json::array();
        for (size_t w = 0; w < r.workers.size(); ++w) {
            json entry = telemetry::to_json(r.workers[w].stats.ports[i]);
            entry["worker"] = w;
            per_worker.push_back(std::move(entry));
        }
        json entry = telemetry::to_json(r.stats.ports[i]);
        entry.update({{"name", p.config.name},
                      {"role", to_string(p.config.role)},
                      {"device", p.config.device},
                      {"driver", p.config.driver()},
                      {"port_id", p.id},
                      {"numa_node", rte_eth_dev_socket_id(p.id)},
                      {"rx_queues", p.rx_queues},
                      {"tx_queues", p.tx_queues},
                      {"link_up", link.link_status == RTE_ETH_LINK_UP},
                      {"link_speed_mbps", link.link_speed},
                      {"workers", per_worker},
                      {"driver_counters",
                       {{"rx_packets", st.ipackets},
                        {"tx_packets", st.opackets},
                        {"rx_bytes", st.ibytes},
                        {"tx_bytes", st.obytes},
                        {"rx_missed", st.imissed},
                        {"socket_ring_drops", instance.ports().socket_ring_drops(i)},
                        {"rx_errors", st.ierrors},
                        {"tx_errors", st.oerrors},
                        {"rx_no_mbuf", st.rx_nombuf}}}});
        ports.push_back(std::move(entry));
    }
    return {
        {"schema", "weft.ports/1"}, {"mode", to_string(instance.config().mode)}, {"ports", ports}};
}

std::string ports_text(const Instance& instance) {
    json j = ports_document(instance);
    std::string s =
        fmt::format("{:<10} {:<7} {:<24} {:>4} {:>6} {:>12} {:>12} {:>10} {:>8}\n", "PORT", "ROLE",
                    "DEVICE", "LINK", "QUEUES", "RX", "TX", "RX MISSED", "ERRORS");
    uint64_t ring_drops = 0;
    for (const auto& p : j["ports"]) {
        const auto& d = p["driver_counters"];
        ring_drops += d["socket_ring_drops"].get<uint64_t>();
        s += fmt::format(
            "{:<10} {:<7} {:<24} {:>4} {:>6} {:>12} {:>12} {:>10} {:>8}\n",
            p["name"].get<std::string>(), p["role"].get<std::string>(),
            p["device"].get<std::string>(), p["link_up"].get<bool>() ? "up" : "down",
            fmt::format("{}/{}", p["rx_queues"].get<unsigned>(), p["tx_queues"].get<unsigned>()),
            p["rx_packets"].get<uint64_t>(), p["tx_packets"].get<uint64_t>(),
            d["rx_missed"].get<uint64_t>(),
            d["rx_errors"].get<uint64_t>() + d["tx_errors"].get<uint64_t>());
    }
    // Said in words: these frames reached the host and never reached weftd.
    if (ring_drops)
        s += fmt::format(
            "RX MISSED includes {} frame(s) the kernel dropped because an af_packet socket ring "
            "was full (weftd did not poll fast enough: --idle-sleep-us, or more workers)\n",
            ring_drops);
    return s;
}

namespace {

// Where the flows came from, as `weftctl analyze` says it for a file: weftd, its mode,
// the captures it replayed (if any), how long it has run, and any capture found corrupt.
json source_json(const Instance& instance) {
    const double seconds =
        instance.running() || instance.started().time_since_epoch().count()
            ? std::chrono::duration<double>(std::chrono::system_clock::now() - instance.started())
                  .count()
            : 0.0;
    std::string corruption, truncation;
    for (const std::string& c : instance.capture_corruptions())
        corruption += (corruption.empty() ? "" : "; ") + c;
    for (const std::string& t : instance.capture_truncations())
        truncation += (truncation.empty() ? "" : "; ") + t;
    return {{"program", "weftd"},
            {"mode", to_string(instance.config().mode)},
            {"files", instance.capture_files()},
            {"seconds", seconds},
            {"truncation", truncation},
            {"corruption", corruption}};
}

}  // namespace

json flows_document(const Instance& instance, const flow::FlowFilter& filter) {
    Instance::Snapshot snap = instance.snapshot();
    // a last record cut by the end of its file is a truncated record, as analyze counts it
    snap.totals.truncated_records += instance.capture_truncations().size();
    json doc = flow::flows_document(snap.flows, flow::select_flows(snap.flows, filter), snap.totals,
                                    snap.table);
    doc["source"] = source_json(instance);
    doc["dataplane"] = counters_document(instance);
    doc["dataplane"]["snapshot_missed_flows"] = snap.missed;
    return doc;
}

void write_flows_document(const Instance& instance, const flow::TextSink& sink) {
    Instance::Snapshot snap = instance.snapshot();
    snap.totals.truncated_records += instance.capture_truncations().size();
    json dataplane = counters_document(instance);
    dataplane["snapshot_missed_flows"] = snap.missed;
    flow::write_flows_document(
        sink, snap.flows, flow::select_flows(snap.flows, {}), snap.totals, snap.table,
        {{"source", source_json(instance)}, {"dataplane", std::move(dataplane)}});
}

std::string flows_text(const Instance& instance, const flow::FlowFilter& filter,
                       const flow::TableStyle& style) {
    Instance::Snapshot snap = instance.snapshot();
    return flow::format_report(snap.flows, flow::select_flows(snap.flows, filter), snap.totals,
                               snap.table, style);
}

json keys_document(const Instance& instance, const PspRotation* rotation) {
    const PspConfig& c = instance.config().psp;
    const PspEpoch e = instance.psp_epoch();
    const auto now = std::chrono::system_clock::now();
    auto age_s = [&](std::chrono::system_clock::time_point t) {
        return std::chrono::duration<double>(now - t).count();
    };
    const uint64_t steady = PspKeyState::steady_ns();
    const uint64_t move_in_ms =
        e.send_from_ns > steady ? (e.send_from_ns - steady) / 1'000'000 + 1 : 0;
    // the senders seal in the state's generation once it is due, in the one before until then
    const uint32_t sending = move_in_ms ? e.generation - 1 : e.generation;
    const CryptCounters totals = instance.read_workers().stats.crypt;
    json peers = json::array();
    for (const PspPeerConfig& p : c.peers) {
        json hosts = json::array();
        for (const roce::IpPrefix& h : p.hosts) hosts.push_back(h.to_string());
        json local = json::array();
        for (const roce::IpPrefix& h : p.local_hosts) local.push_back(h.to_string());
        peers.push_back(
            {{"name", p.name},
             {"hosts", hosts},
             {"local_hosts", local},
             {"tx_spi", fmt::format("{:08x}", roce::psp::spi_in_generation(p.spi, sending))}});
    }
    json sas = json::array();
    for (const PspSaReading& r : instance.psp_sas()) {
        json sa = {{"direction", r.receive ? "receive" : "send"},
                   {"spi", fmt::format("{:08x}", r.spi)},
                   {"master_key", (r.spi & roce::psp::kSpiKeySelector) ? 1 : 0},
                   {"packets", r.packets},
                   {"bytes", r.bytes}};
        if (r.receive) {
            sa["auth_fail"] = r.auth_fail;
            sa["replay"] = r.replay;
        } else {
            sa["peer"] = r.peer;
        }
        sa["errors"] = r.errors;
        sas.push_back(std::move(sa));
    }
    json doc = {{"schema", "weft.keys/1"},
                {"generation", e.generation},
                {"generation_age_s", age_s(e.since)},
                {"master_key_in_use", sending & 1},
                {"senders_move_in_ms", move_in_ms},
                {"master_keys",
                 {{{"key", 0}, {"loaded_age_s", age_s(e.key_loaded[0])}},
                  {{"key", 1}, {"loaded_age_s", age_s(e.key_loaded[1])}}}},
                {"rotate_interval_s", c.rotate_interval_s},
                {"rotate_send_delay_ms", c.rotate_send_delay_ms},
                {"version", c.version},
                {"rx_spis",
                 {fmt::format("{:08x}", roce::psp::spi_in_generation(c.rx_spi, 0)),
                  fmt::format("{:08x}", roce::psp::spi_in_generation(c.rx_spi, 1))}},
                {"peers", peers},
                {"security_associations", sas},
                {"counters", telemetry::to_json(totals)}};
    if (rotation)
        doc["rotated"] = {{"generation", rotation->generation},
                          {"new_key", rotation->new_key},
                          {"senders_move_in_ms", rotation->send_in_ms}};
    return doc;
}

std::string keys_text(const json& doc) {
    std::string t;
    if (doc.contains("rotated")) {
        const json& r = doc["rotated"];
        t += r["new_key"].get<bool>()
                 ? fmt::format(
                       "rotated to generation {}: a new master key loaded for receiving; "
                       "senders move to it in {} ms\n",
                       r["generation"].get<uint32_t>(), r["senders_move_in_ms"].get<uint64_t>())
                 : fmt::format(
                       "rotated to generation {}: no new master key in the file; "
                       "senders moved to the other key\n",
                       r["generation"].get<uint32_t>());
    }
    t += fmt::format(
        "PSP generation {} ({} s old), sealing with master key {}{}, {}\n",
        doc["generation"].get<uint32_t>(), uint64_t(doc["generation_age_s"].get<double>()),
        doc["master_key_in_use"].get<int>(),
        doc["senders_move_in_ms"].get<uint64_t>()
            ? fmt::format(" (moving in {} ms)", doc["senders_move_in_ms"].get<uint64_t>())
            : std::string(),
        doc["version"].get<int>() ? "AES-GCM-256" : "AES-GCM-128");
    t += fmt::format("master keys loaded {} s and {} s ago; rotation {}\n",
                     uint64_t(doc["master_keys"][0]["loaded_age_s"].get<double>()),
                     uint64_t(doc["master_keys"][1]["loaded_age_s"].get<double>()),
                     doc["rotate_interval_s"].get<uint32_t>()
                         ? fmt::format("every {} s", doc["rotate_interval_s"].get<uint32_t>())
                         : std::string("by weftctl keys rotate only"));
    t += fmt::format("receive SPIs {} and {}\n", doc["rx_spis"][0].get<std::string>(),
                     doc["rx_spis"][1].get<std::string>());
    for (const auto& p : doc["peers"])
        t += fmt::format("peer {}: send SPI {} to {}\n", p["name"].get<std::string>(),
                         p["tx_spi"].get<std::string>(), p["hosts"].dump());
    t += fmt::format("{:<8} {:<10} {:<8} {:>3} {:>12} {:>14} {:>9} {:>7} {:>7}\n", "SA", "PEER",
                     "SPI", "KEY", "PACKETS", "BYTES", "AUTHFAIL", "REPLAY", "ERRORS");
    for (const auto& sa : doc["security_associations"]) {
        const bool rx = sa["direction"] == "receive";
        t += fmt::format("{:<8} {:<10} {:<8} {:>3} {:>12} {:>14} {:>9} {:>7} {:>7}\n",
                         rx ? "receive" : "send", rx ? "-" : sa["peer"].get<std::string>(),
                         sa["spi"].get<std::string>(), sa["master_key"].get<int>(),
                         sa["packets"].get<uint64_t>(), sa["bytes"].get<uint64_t>(),
                         rx ? fmt::format("{}", sa["auth_fail"].get<uint64_t>()) : "-",
                         rx ? fmt::format("{}", sa["replay"].get<uint64_t>()) : "-",
                         sa["errors"].get<uint64_t>());
    }
    t += "totals:";
    for (const auto& [name, value] : doc["counters"].items())
        t += fmt::format(" {} {}", name, value.dump());
    return t + "\n";
}

json paths_document(const Instance& instance) {
    const Config& c = instance.config();
    const Instance::Reading reading = instance.read_workers();
    const WorkerStats& stats = reading.stats;
    json reorder_hosts = json::array();
    for (const roce::IpPrefix& h : c.balance.reorder_hosts) reorder_hosts.push_back(h.to_string());
    // offers learnt from weftds across the fabric, and whether each still stands
    json peers = json::array();
    uint64_t now = 0;  // the workers' clock, as of their last publication (<= 1 ms old)
    for (const WorkerPublication& w : reading.workers) now = std::max(now, w.tsc_ns);
    for (const auto& r : instance.reorder_peers())
        peers.push_back(
            {{"hosts", r.prefix.to_string()},
             {"live", r.expires_ns > now},
             {"expires_in_ms", r.expires_ns > now ? (r.expires_ns - now) / 1'000'000 : 0}});
    const auto& ps = instance.ports().ports();
    const auto& fabric = instance.ports().fabric();
    json paths = json::array();
    for (const balance::PathReading& r : instance.paths()) {
        json signals = json::object();
        for (size_t k = 0; k < balance::kSignalCount; ++k)
            signals[balance::to_string(balance::Signal(k))] = r.signals[k];
        paths.push_back(
            {{"path", r.index},
             {"uplink", r.path.uplink < fabric.size() ? ps[fabric[r.path.uplink]].config.name
                                                      : std::to_string(r.path.uplink)},
             {"source_port", r.path.source_port == balance::kKeepSourcePort
                                 ? json(nullptr)
                                 : json(r.path.source_port)},
             {"state", r.state == balance::PathState::congested ? "congested" : "ok"},
             {"streak_rounds", r.streak},
             {"packets", r.packets},
             {"bytes", r.bytes},
             {"signals", signals},
             {"moved_in", r.moved_in},
             {"moved_out", r.moved_out},
             {"congested_rounds", r.congested_rounds},
             {"times_congested", r.times_congested},
             {"load_packets_per_round", r.load_per_round},
             {"last_round",
              {{"packets", r.last_round_packets}, {"signals", r.last_round_signals}}}});
    }
    return {{"schema", "weft.paths/1"},
            {"policy", to_string(instance.balance_policy())},
            {"flowlet_gap_us", c.balance.flowlet_gap_us},
            {"round_us", c.balance.round_us},
            {"congested_rounds", c.balance.congested_rounds},
            {"clear_rounds", c.balance.clear_rounds},
            {"signal_permille", c.balance.signal_permille},
            {"rounds", instance.path_rounds()},
            {"paths", paths},
            {"reorder",
             {{"enabled", c.balance.reorder},
              {"paused", instance.reorder_paused()},
              {"hosts", reorder_hosts},
              {"depth", c.balance.reorder_depth},
              {"timeout_us", c.balance.reorder_timeout_us},
              // every held frame leaves by one of the three releases
              {"frames_held", stats.reorder.held - stats.reorder.released_in_order -
                                  stats.reorder.released_on_timeout -
                                  stats.reorder.released_on_overflow -
                                  stats.reorder.released_on_restart},
              {"counters", telemetry::to_json(stats.reorder)}}},
            {"spray_peers", peers},
            {"counters", telemetry::to_json(stats.balance)}};
}

std::string paths_text(const json& doc) {
    std::string t = fmt::format(
        "policy {}: flowlet gap {} us; a path is congested after {} rounds of {} us with "
        "signals >= {} per mille of its packets, usable again after {} clean rounds ({} "
        "rounds so far)\n",
        doc["policy"].get<std::string>(), doc["flowlet_gap_us"].get<uint32_t>(),
        doc["congested_rounds"].get<uint32_t>(), doc["round_us"].get<uint32_t>(),
        doc["signal_permille"].get<uint32_t>(), doc["clear_rounds"].get<uint32_t>(),
        doc["rounds"].get<uint64_t>());
    t += fmt::format("{:>4} {:<8} {:>5} {:<9} {:>11} {:>8} {:>7} {:>6} {:>8} {:>6} {:>6}\n", "PATH",
                     "UPLINK", "SPORT", "STATE", "PACKETS", "RESENT", "NAKS", "CNPS", "TXDROPS",
                     "IN", "OUT");
    for (const auto& p : doc["paths"]) {
        const json& sig = p["signals"];
        t += fmt::format("{:>4} {:<8} {:>5} {:<9} {:>11} {:>8} {:>7} {:>6} {:>8} {:>6} {:>6}\n",
                         p["path"].get<uint32_t>(), p["uplink"].get<std::string>(),
                         p["source_port"].is_null()
                             ? std::string("rnic")
                             : std::to_string(p["source_port"].get<uint32_t>()),
                         p["state"].get<std::string>(), p["packets"].get<uint64_t>(),
                         sig["retransmit"].get<uint64_t>(), sig["nak"].get<uint64_t>(),
                         sig["cnp"].get<uint64_t>(), sig["tx_drop"].get<uint64_t>(),
                         p["moved_in"].get<uint64_t>(), p["moved_out"].get<uint64_t>());
    }
    t += "counters:";
    for (const auto& [name, value] : doc["counters"].items())
        t += fmt::format(" {} {}", name, value.dump());
    t += "\n";
    const json& r = doc["reorder"];
    if (r["enabled"].get<bool>()) {
        t += fmt::format("reorder{} for {}: depth {}, timeout {} us;",
                         r["paused"].get<bool>() ? " (PAUSED)" : "", r["hosts"].dump(),
                         r["depth"].get<uint32_t>(), r["timeout_us"].get<uint32_t>());
        for (const auto& [name, value] : r["counters"].items())
            t += fmt::format(" {} {}", name, value.dump());
        t += "\n";
    }
    for (const auto& p : doc["spray_peers"])
        t += fmt::format("spray to {}: offered by a weftd across the fabric{}\n",
                         p["hosts"].get<std::string>(),
                         p["live"].get<bool>()
                             ? fmt::format(" (good for {} ms)", p["expires_in_ms"].get<uint64_t>())
                             : std::string(" (expired: not sprayed)"));
    return t;
}

json explain_path_document(const Instance& instance, const roce::IpAddress& src,
                           const roce::IpAddress& dst, uint32_t dest_qp) {
    const Instance::PathExplanation e = instance.explain_path(src, dst, dest_qp);
    json doc = {{"schema", "weft.explain-path/1"},
                {"src", src.to_string()},
                {"dst", dst.to_string()},
                {"dest_qp", dest_qp},
                {"policy", to_string(instance.balance_policy())},
                {"found", e.worker >= 0}};
    if (e.worker < 0 || e.state.reason == balance::PathReason::none) {
        doc["found"] = false;
        return doc;
    }
    const std::vector<balance::PathReading> paths = instance.paths();
    const auto& ps = instance.ports().ports();
    const auto& fabric = instance.ports().fabric();
    auto path_json = [&](uint32_t p) {
        json j = {{"path", p}};
        if (p < paths.size()) {
            const balance::PathReading& r = paths[p];
            j["uplink"] = r.path.uplink < fabric.size() ? ps[fabric[r.path.uplink]].config.name
                                                        : std::to_string(r.path.uplink);
            j["source_port"] = r.path.source_port == balance::kKeepSourcePort
                                   ? json(nullptr)
                                   : json(r.path.source_port);
            j["state"] = r.state == balance::PathState::congested ? "congested" : "ok";
        }
        return j;
    };
    const char* why = "";
    switch (e.state.reason) {
        case balance::PathReason::hash:
            why = "a hash of the flow (ecmp: its 5-tuple; flowlet: the QP and its flowlet count)";
            break;
        case balance::PathReason::least_loaded:
            why =
                "the better of two candidate paths (fewer recent signals, then fewer packets), "
                "when the flow started";
            break;
        case balance::PathReason::moved:
            why = "moved at a gap: its path was congested";
            break;
        case balance::PathReason::stayed:
            why = "its path is congested, but no other was better at its last gap";
            break;
        case balance::PathReason::none:
            break;
    }
    doc["worker"] = e.worker;
    doc["class"] = classify::to_string(classify::TrafficClass(e.state.traffic_class));
    doc["path"] = path_json(e.state.path);
    doc["reason"] = balance::to_string(e.state.reason);
    doc["why"] = why;
    doc["flowlets"] = e.state.flowlets;
    doc["moves"] = e.state.moves;
    if (e.state.moves) {
        doc["last_move"] = {{"from", path_json(e.state.moved_from)},
                            {"ms_ago", e.now_ns / 1'000'000 >= e.state.last_move_ms
                                           ? e.now_ns / 1'000'000 - e.state.last_move_ms
                                           : 0}};
    }
    doc["packets"] = e.packets;
    doc["bytes"] = e.bytes;
    return doc;
}

std::string explain_path_text(const json& doc) {
    std::string flow = fmt::format("{} -> {} QP {:#08x}", doc["src"].get<std::string>(),
                                   doc["dst"].get<std::string>(), doc["dest_qp"].get<uint32_t>());
    if (!doc["found"].get<bool>())
        return fmt::format(
            "{}: no such host -> fabric RoCE flow on this weftd (a flow is one direction of a "
            "QP: source host, destination host, destination QP)\n",
            flow);
    auto path = [](const json& p) {
        return fmt::format("path {} (uplink {}, source port {}, {})", p["path"].get<uint32_t>(),
                           p.value("uplink", std::string("?")),
                           p.contains("source_port") && !p["source_port"].is_null()
                               ? std::to_string(p["source_port"].get<uint32_t>())
                               : std::string("the RNIC's"),
                           p.value("state", std::string("?")));
    };
    std::string t =
        fmt::format("{} (worker {}): class {}, {} packets\n", flow, doc["worker"].get<int>(),
                    doc["class"].get<std::string>(), doc["packets"].get<uint64_t>());
    t += fmt::format("  on {}\n  why: {} (policy {})\n", path(doc["path"]),
                     doc["why"].get<std::string>(), doc["policy"].get<std::string>());
    t += fmt::format("  {} flowlet(s), {} move(s)", doc["flowlets"].get<uint32_t>(),
                     doc["moves"].get<uint32_t>());
    if (doc.contains("last_move"))
        t += fmt::format("; the last from {}, {} ms ago", path(doc["last_move"]["from"]),
                         doc["last_move"]["ms_ago"].get<uint64_t>());
    return t + "\n";
}

}  // namespace weft::dataplane

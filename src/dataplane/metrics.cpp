#include "weft/dataplane/metrics.hpp"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <rte_ethdev.h>
#include "weft/dataplane/config_sections.hpp"

#include <cerrno>
#include <cstring>

#include "weft/dataplane/eal.hpp"
#include "weft/dataplane/instance.hpp"
#include "weft/telemetry/render.hpp"

namespace weft::dataplane {

std::optional<ListenAddress> parse_listen_address(const std::string& spec, std::string& error) {
    std::string host = "127.0.0.1", port = spec;
    if (!spec.empty() && spec[0] == '[') {
        size_t close = spec.find("]:");
        if (close == std::string::npos) {
            error = fmt::format("metrics address {}: expected [IPV6]:PORT", spec);
            return std::nullopt;
        }
        host = spec.substr(1, close - 1);
        port = spec.substr(close + 2);
    } else if (size_t colon = spec.rfind(':'); colon != std::string::npos) {
        host = spec.substr(0, colon);
        port = spec.substr(colon + 1);
    }
    unsigned long p = 0;
    try {
        size_t used = 0;
        p = std::stoul(port, &used, 10);
        if (used != port.size()) p = 0;
    } catch (const std::exception&) {
        p = 0;
    }
    if (p == 0 || p > 65535) {
        error = fmt::format(
            "metrics address {}: port must be 1-65535 (PORT, HOST:PORT or "
            "[IPV6]:PORT; HOST numeric)",
            spec);
        return std::nullopt;
    }
    ListenAddress a;
    auto* v4 = reinterpret_cast<sockaddr_in*>(&a.addr);
    auto* v6 = reinterpret_cast<sockaddr_in6*>(&a.addr);
    if (inet_pton(AF_INET, host.c_str(), &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons(uint16_t(p));
        a.len = sizeof *v4;
        a.text = fmt::format("{}:{}", host, p);
    } else if (inet_pton(AF_INET6, host.c_str(), &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons(uint16_t(p));
        a.len = sizeof *v6;
        a.text = fmt::format("[{}]:{}", host, p);
    } else {
        error =
            fmt::format("metrics address {}: {} is not a numeric IPv4 or IPv6 address", spec, host);
        return std::nullopt;
    }
    return a;
}

namespace {

MHD_Result answer(void* cls, MHD_Connection* connection, const char* url, const char* method,
                  const char*, const char*, size_t*, void**) {
    auto* server = static_cast<MetricsServer*>(cls);
    std::string body;
    unsigned status = MHD_HTTP_OK;
    const char* type = "text/plain; version=0.0.4; charset=utf-8";
    if (std::strcmp(method, "GET") != 0 && std::strcmp(method, "HEAD") != 0) {
        status = MHD_HTTP_METHOD_NOT_ALLOWED;
        body = "only GET\n";
        type = "text/plain; charset=utf-8";
    } else if (std::strcmp(url, "/metrics") == 0) {
        body = metrics_text(server->instance());
    } else {
        status = MHD_HTTP_NOT_FOUND;
        body = "weftd: the metrics are at /metrics\n";
        type = "text/plain; charset=utf-8";
    }
    MHD_Response* r =
        MHD_create_response_from_buffer(body.size(), body.data(), MHD_RESPMEM_MUST_COPY);
    if (!r) return MHD_NO;
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    MHD_Result ok = MHD_queue_response(connection, status, r);
    MHD_destroy_response(r);
    return ok;
}

}  // namespace

MetricsServer::MetricsServer(const Instance& instance, const ListenAddress& address)
    : instance_(instance), address_(address.text) {
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG;
    if (address.addr.ss_family == AF_INET6) flags |= MHD_USE_IPv6;
    uint16_t port = address.addr.ss_family == AF_INET6
                        ? ntohs(reinterpret_cast<const sockaddr_in6*>(&address.addr)->sin6_port)
                        : ntohs(reinterpret_cast<const sockaddr_in*>(&address.addr)->sin_port);
    errno = 0;
    daemon_ = MHD_start_daemon(flags, port, nullptr, nullptr, &answer, this, MHD_OPTION_SOCK_ADDR,
                               reinterpret_cast<const sockaddr*>(&address.addr),
                               MHD_OPTION_CONNECTION_LIMIT, 16u, MHD_OPTION_CONNECTION_TIMEOUT, 10u,
                               MHD_OPTION_END);
    if (!daemon_)
        throw DataplaneError(fmt::format("metrics: cannot listen on {}{}{}", address_,
                                         errno ? ": " : "", errno ? std::strerror(errno) : ""));
}

MetricsServer::~MetricsServer() {
    if (daemon_) MHD_stop_daemon(daemon_);
}

std::string metrics_text(const Instance& instance) {
    using telemetry::LabelledCounters;
    telemetry::PrometheusWriter out;
    const Instance::Reading reading = instance.read_workers();
    const std::vector<WorkerPublication>& pubs = reading.workers;
    auto worker = [](size_t w) { return fmt::format("worker=\"{}\"", w); };

    out.family("weft_info", "gauge", "weftd's mode; always 1");
    out.sample(fmt::format("mode=\"{}\"", to_string(instance.config().mode)), uint64_t(1));
    out.family("weft_running", "gauge", "1 while the workers run");
    out.sample("", uint64_t(instance.running()));
    out.family("weft_start_time_seconds", "gauge", "when the workers started, Unix time");
    out.sample("", std::chrono::duration<double>(instance.started().time_since_epoch()).count());

    // Every stage's counters, per worker, from the stages' lists (counters.hpp).
    for_each_stage([&](const auto& stage) {
        using Counters = std::remove_cvref_t<decltype(pubs[0].stats.*stage.member)>;
        std::vector<LabelledCounters<Counters>> sources;
        for (size_t w = 0; w < pubs.size(); ++w)
            sources.push_back({worker(w), &(pubs[w].stats.*stage.member)});
        telemetry::write_prometheus(out, stage.prometheus_prefix, sources);
    });
    {
        std::vector<LabelledCounters<flow::TableCounters>> sources;
        for (size_t w = 0; w < pubs.size(); ++w) sources.push_back({worker(w), &pubs[w].table});
        telemetry::write_prometheus(out, "weft_table", sources);
    }
    out.family("weft_flows", "gauge", "queue-pair flows in the flow table");
    for (size_t w = 0; w < pubs.size(); ++w) out.sample(worker(w), pubs[w].flows_live);

    const auto& ps = instance.ports().ports();
    auto port = [&](size_t i) {
        return fmt::format("port=\"{}\",role=\"{}\"",
                           telemetry::escape_label_value(ps[i].config.name),
                           to_string(ps[i].config.role));
    };
    {
        std::vector<LabelledCounters<PortCounters>> sources;
        for (size_t i = 0; i < ps.size(); ++i)
            sources.push_back({port(i), &reading.stats.ports[i]});
        telemetry::write_prometheus(out, "weft_port", sources);
    }
    std::vector<rte_eth_stats> st(ps.size());
    for (size_t i = 0; i < ps.size(); ++i) st[i] = instance.ports().driver_stats(i);
    struct DriverCounter {
        const char* name;
        const char* help;
        uint64_t rte_eth_stats::*field;
    };
    static const DriverCounter driver[] = {
        {"weft_port_driver_rx_packets_total", "packets the driver received",
         &rte_eth_stats::ipackets},
        {"weft_port_driver_tx_packets_total", "packets the driver sent", &rte_eth_stats::opackets},
        {"weft_port_driver_rx_bytes_total", "bytes the driver received", &rte_eth_stats::ibytes},
        {"weft_port_driver_tx_bytes_total", "bytes the driver sent", &rte_eth_stats::obytes},
        {"weft_port_driver_rx_missed_total",
         "packets the port dropped before weftd read them: RX ring full (af_packet: the "
         "socket ring, as weft_port_socket_ring_drops_total)",
         &rte_eth_stats::imissed},
        {"weft_port_driver_rx_errors_total", "erroneous packets received", &rte_eth_stats::ierrors},
        {"weft_port_driver_tx_errors_total", "failed transmissions", &rte_eth_stats::oerrors},
        {"weft_port_driver_rx_no_mbuf_total", "RX mbuf allocation failures",
         &rte_eth_stats::rx_nombuf},
    };
    for (const auto& d : driver) {
        out.family(d.name, "counter", d.help);
        for (size_t i = 0; i < ps.size(); ++i) out.sample(port(i), st[i].*d.field);
    }
    out.family("weft_port_socket_ring_drops_total", "counter",
               "frames the kernel dropped because an af_packet socket ring was full");
    for (size_t i = 0; i < ps.size(); ++i)
        out.sample(port(i), instance.ports().socket_ring_drops(i));

    // PSP per security association (the totals are weft_crypt_*): labelled by direction,
    // SPI and, for send SAs, the peer; an SA's counters start again when it is replaced
    if (instance.config().psp.enabled()) {
        const std::vector<PspSaReading> sas = instance.psp_sas();
        auto sa_label = [](const PspSaReading& r) {
            return fmt::format("direction=\"{}\",spi=\"{:08x}\",peer=\"{}\"",
                               r.receive ? "receive" : "send", r.spi,
                               telemetry::escape_label_value(r.peer));
        };
        struct SaCounter {
            const char* name;
            const char* help;
            uint64_t PspSaReading::*field;
            bool receive_only;
        };
        static const SaCounter sa_counters[] = {
            {"weft_psp_sa_packets_total", "frames sealed (send) or opened (receive) under the SA",
             &PspSaReading::packets, false},
            {"weft_psp_sa_bytes_total", "their bytes, before sealing or after opening",
             &PspSaReading::bytes, false},
            {"weft_psp_sa_auth_fail_total", "frames whose ICV did not verify under the SA",
             &PspSaReading::auth_fail, true},
            {"weft_psp_sa_replay_total", "frames refused by the SA's replay window",
             &PspSaReading::replay, true},
            {"weft_psp_sa_errors_total", "frames the SA could not seal or open otherwise",
             &PspSaReading::errors, false},
        };
        for (const auto& c : sa_counters) {
            out.family(c.name, "counter", c.help);
            for (const PspSaReading& r : sas)
                if (r.receive || !c.receive_only) out.sample(sa_label(r), r.*c.field);
        }
    }
    // Balancing: per path (uplink, source port), inline mode only
    if (instance.config().mode == Mode::inline_) {
        const std::vector<balance::PathReading> paths = instance.paths();
        const auto& ps = instance.ports().ports();
        const auto& fabric = instance.ports().fabric();
        auto path_label = [&](const balance::PathReading& r) {
            const std::string uplink = r.path.uplink < fabric.size()
                                           ? ps[fabric[r.path.uplink]].config.name
                                           : std::to_string(r.path.uplink);
            return fmt::format("path=\"{}\",uplink=\"{}\",source_port=\"{}\"", r.index,
                               telemetry::escape_label_value(uplink),
                               r.path.source_port == balance::kKeepSourcePort
                                   ? std::string("rnic")
                                   : std::to_string(r.path.source_port));
        };
        out.family("weft_path_packets_total", "counter", "host RoCE frames sent on the path");
        for (const auto& r : paths) out.sample(path_label(r), r.packets);
        out.family("weft_path_bytes_total", "counter", "their bytes");
        for (const auto& r : paths) out.sample(path_label(r), r.bytes);
        out.family(
            "weft_path_signals_total", "counter",
            "congestion signals charged to the path, by kind (retransmit, nak, cnp, ecn_ce)");
        for (const auto& r : paths)
            for (size_t k = 0; k < balance::kSignalCount; ++k)
                out.sample(path_label(r) + fmt::format(",signal=\"{}\"",
                                                       balance::to_string(balance::Signal(k))),
                           r.signals[k]);
        out.family(
            "weft_path_congested", "gauge",
            "1 while the path is judged congested (policy congestion moves flowlets off it)");
        for (const auto& r : paths)
            out.sample(path_label(r), uint64_t(r.state == balance::PathState::congested));
        out.family("weft_path_moves_total", "counter",
                   "flowlets moved onto (direction=in) or away from (out) the path");
        for (const auto& r : paths) {
            out.sample(path_label(r) + ",direction=\"in\"", r.moved_in);
            out.sample(path_label(r) + ",direction=\"out\"", r.moved_out);
        }
    }
    return out.text();
}

void parse_metrics_section(const toml::node& node, Config& c, config::Problems& problems) {
    const toml::table* t = config::as_table(node, "metrics", problems);
    if (!t) return;
    static constexpr std::string_view kKeys[] = {"listen"};
    config::refuse_unknown_keys(*t, "metrics", kKeys, problems);
    const toml::node* listen = t->get("listen");
    if (!listen) return;
    if (listen->is_integer()) {
        uint32_t port = 0;
        if (config::read_uint(*listen, "metrics.listen", 1u, 65535u, port, problems))
            c.metrics.listen = std::to_string(port);
        return;
    }
    if (!listen->is_string()) {
        problems.add("metrics.listen", "must be \"HOST:PORT\" or a port number");
        return;
    }
    c.metrics.listen = *listen->value<std::string>();  // checked by validate(), as --metrics
}

}  // namespace weft::dataplane

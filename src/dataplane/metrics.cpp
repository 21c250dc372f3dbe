#include "weft/dataplane/metrics.hpp"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <rte_ethdev.h>

#include <cerrno>
#include <cstring>

#include "weft/dataplane/eal.hpp"
#include "weft/dataplane/instance.hpp"

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
        body = server->instance().metrics_text();
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

namespace {

// One metric family: its HELP and TYPE lines, then samples added with labels.
class Family {
  public:
    Family(std::string& out, std::string_view name, std::string_view type, std::string_view help)
        : out_(out), name_(name) {
        out_ += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
    }
    void sample(std::string_view labels, uint64_t v) {
        out_ += labels.empty() ? fmt::format("{} {}\n", name_, v)
                               : fmt::format("{}{{{}}} {}\n", name_, labels, v);
    }
    void sample(std::string_view labels, double v) {
        out_ += labels.empty() ? fmt::format("{} {}\n", name_, v)
                               : fmt::format("{}{{{}}} {}\n", name_, labels, v);
    }

  private:
    std::string& out_;
    std::string_view name_;
};

// Label values are port names and fixed words; escape anyway, as the format requires.
std::string label_value(std::string_view v) {
    std::string s;
    for (char c : v) {
        if (c == '\\' || c == '"') s += '\\';
        if (c == '\n') {
            s += "\\n";
            continue;
        }
        s += c;
    }
    return s;
}

}  // namespace

std::string Instance::metrics_text() const {
    std::string out;
    const Reading reading = read_workers();
    const std::vector<WorkerPublication>& pubs = reading.workers;
    auto worker = [](size_t w) { return fmt::format("worker=\"{}\"", w); };

    Family(out, "weft_info", "gauge", "weftd's mode; always 1")
        .sample(fmt::format("mode=\"{}\"", to_string(config_.mode)), uint64_t(1));
    Family(out, "weft_running", "gauge", "1 while the workers run")
        .sample("", uint64_t(running_.load(std::memory_order_acquire)));
    Family(out, "weft_start_time_seconds", "gauge", "when the workers started, Unix time")
        .sample("", std::chrono::duration<double>(started_.time_since_epoch()).count());

    struct WorkerCounter {
        const char* name;
        const char* help;
        uint64_t (*get)(const WorkerPublication&);
    };
    static const WorkerCounter counters[] = {
        {"weft_frames_total", "frames received", [](auto& p) { return p.stats.totals.frames; }},
        {"weft_bytes_total", "wire bytes received", [](auto& p) { return p.stats.totals.bytes; }},
        {"weft_roce_packets_total", "well-formed RoCEv2 packets",
         [](auto& p) { return p.stats.totals.roce_packets; }},
        {"weft_roce_bytes_total", "wire bytes of well-formed RoCEv2 packets",
         [](auto& p) { return p.stats.totals.roce_bytes; }},
        {"weft_not_roce_frames_total", "frames that are not RoCEv2",
         [](auto& p) { return p.stats.totals.not_roce; }},
        {"weft_icrc_checked_total", "RoCEv2 ICRCs computed",
         [](auto& p) { return p.stats.totals.icrc_checked; }},
        {"weft_icrc_errors_total", "RoCEv2 packets whose ICRC was wrong",
         [](auto& p) { return p.stats.totals.icrc_errors; }},
        {"weft_flows_created_total", "queue-pair flows created",
         [](auto& p) { return p.table.flows_created; }},
        {"weft_flows_evicted_idle_total", "flows removed after the idle timeout",
         [](auto& p) { return p.table.flows_evicted_idle; }},
        {"weft_flows_refused_total", "packets of new flows refused: the flow table was full",
         [](auto& p) { return p.table.flows_refused_table_full; }},
    };
    for (const auto& c : counters) {
        Family f(out, c.name, "counter", c.help);
        for (size_t w = 0; w < pubs.size(); ++w) f.sample(worker(w), c.get(pubs[w]));
    }
    {
        Family f(out, "weft_dispatched_packets_total", "counter",
                 "frames handed to their flow's worker (ports with fewer RX queues than workers)");
        for (size_t w = 0; w < pubs.size(); ++w) f.sample(worker(w), pubs[w].stats.dispatched);
    }
    {
        Family f(out, "weft_flows", "gauge", "queue-pair flows in the flow table");
        for (size_t w = 0; w < pubs.size(); ++w) f.sample(worker(w), pubs[w].flows_live);
    }
    {
        Family f(out, "weft_packets_by_verdict_total", "counter",
                 "frames by parser verdict (ok, not_roce, and why malformed RoCE was refused)");
        for (size_t w = 0; w < pubs.size(); ++w)
            for (size_t v = 0; v < roce::kVerdictCount; ++v)
                f.sample(
                    fmt::format("{},verdict=\"{}\"", worker(w), roce::to_string(roce::Verdict(v))),
                    pubs[w].stats.totals.verdicts[v]);
    }
    {
        Family f(out, "weft_forwarded_packets_total", "counter", "frames forwarded (inline)");
        for (size_t w = 0; w < pubs.size(); ++w) {
            f.sample(worker(w) + ",kind=\"roce\"", pubs[w].stats.forwarded_roce);
            f.sample(worker(w) + ",kind=\"other\"", pubs[w].stats.forwarded_other);
        }
    }
    {
        Family f(out, "weft_dropped_packets_total", "counter", "frames dropped, by reason");
        for (size_t w = 0; w < pubs.size(); ++w) {
            f.sample(worker(w) + ",reason=\"malformed\"", pubs[w].stats.dropped_malformed);
            f.sample(worker(w) + ",reason=\"bad_icrc\"", pubs[w].stats.dropped_bad_icrc);
            f.sample(worker(w) + ",reason=\"tx_full\"", pubs[w].stats.dropped_tx_full);
            f.sample(worker(w) + ",reason=\"dispatch_full\"", pubs[w].stats.dropped_dispatch_full);
        }
    }
    const auto& ps = ports_->ports();
    auto port = [&](size_t i) {
        return fmt::format("port=\"{}\",role=\"{}\"", label_value(ps[i].config.name),
                           to_string(ps[i].config.role));
    };
    {
        Family rx(out, "weft_port_rx_packets_total", "counter", "frames weftd took from the port");
        for (size_t i = 0; i < ps.size(); ++i) rx.sample(port(i), reading.rx_packets[i]);
        Family tx(out, "weft_port_tx_packets_total", "counter", "frames weftd sent on the port");
        for (size_t i = 0; i < ps.size(); ++i) tx.sample(port(i), reading.tx_packets[i]);
    }
    std::vector<rte_eth_stats> st(ps.size());
    for (size_t i = 0; i < ps.size(); ++i) rte_eth_stats_get(ps[i].id, &st[i]);
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
        {"weft_port_driver_rx_missed_total", "packets the port dropped: RX ring full",
         &rte_eth_stats::imissed},
        {"weft_port_driver_rx_errors_total", "erroneous packets received", &rte_eth_stats::ierrors},
        {"weft_port_driver_tx_errors_total", "failed transmissions", &rte_eth_stats::oerrors},
        {"weft_port_driver_rx_no_mbuf_total", "RX mbuf allocation failures",
         &rte_eth_stats::rx_nombuf},
    };
    for (const auto& d : driver) {
        Family f(out, d.name, "counter", d.help);
        for (size_t i = 0; i < ps.size(); ++i) f.sample(port(i), st[i].*d.field);
    }
    return out;
}

}  // namespace weft::dataplane

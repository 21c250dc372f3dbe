// weft-probe: Weft's per-host eBPF agent. Argument parsing and wiring only; the probe
// module loads the programs and runs the detectors.
#include <fmt/format.h>
#include <net/if.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <ctime>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>

#include "weft/probe/alert_server.hpp"
#include "weft/probe/config.hpp"
#include "weft/probe/detectors.hpp"
#include "weft/probe/probe.hpp"
#include "weft/tools/cli.hpp"

namespace {

std::atomic<bool> g_stop{false};
extern "C" void on_signal(int) {
    g_stop = true;
}

uint64_t monotonic_ns() {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return uint64_t(ts.tv_sec) * 1'000'000'000ull + uint64_t(ts.tv_nsec);
}

int64_t realtime_minus_monotonic() {
    timespec rt{}, mono{};
    clock_gettime(CLOCK_REALTIME, &rt);
    clock_gettime(CLOCK_MONOTONIC, &mono);
    return (int64_t(rt.tv_sec) - int64_t(mono.tv_sec)) * 1'000'000'000ll +
           (int64_t(rt.tv_nsec) - int64_t(mono.tv_nsec));
}

}  // namespace

int main(int argc, char** argv) {
    using namespace weft::probe;
    CLI::App app{
        "weft-probe: eBPF probes that understand RoCEv2. TC programs on each interface count\n"
        "every queue pair and peer pair (RoCEv2, TCP, UDP), refuse-and-count malformed RoCE,\n"
        "and report new peers, new QPs, NAKs, PSN jumps and malformed packets; detectors turn\n"
        "them into alerts (JSON lines): qpn-scan, psn-injection, rkey-guessing, fan-out,\n"
        "bulk-read, cnp-storm, nak-storm, malformed-roce. Needs root.\n\n"
        "  weft-probe --iface eth0 --iface eth1 --alerts /var/log/weft/alerts.jsonl\n"
        "  weft-probe --iface tap0 --duration 60 --counters-json counters.json"};
    std::vector<std::string> ifaces;
    std::string alerts_path = "-", config_path, counters_path;
    double duration = 0;
    uint32_t poll_ms = 100;
    app.add_option("-i,--iface", ifaces, "interface to watch (repeatable)")->required();
    app.add_option("--alerts", alerts_path, "append alerts as JSON lines here ('-': stdout)")
        ->capture_default_str();
    app.add_option("-c,--config", config_path, "TOML file with [detectors] thresholds")
        ->check(CLI::ExistingFile);
    app.add_option("--duration", duration,
                   "stop after this many seconds (0: until SIGINT/SIGTERM)");
    app.add_option("--poll-ms", poll_ms, "how often the maps are read for the rate detectors")
        ->check(CLI::Range(10u, 60000u))
        ->capture_default_str();
    app.add_option("--counters-json", counters_path,
                   "on exit, write the global, per-QP and per-peer counters as JSON here");
    std::string socket_path = kDefaultAlertSocket;
    app.add_option("--socket", socket_path,
                   "unix socket (mode 0600) where `weftctl alerts` reads the alerts; 'none': off")
        ->capture_default_str();
    if (auto rc = weft::tools::parse_command_line(app, argc, argv)) return *rc;

    DetectorConfig config;
    if (!config_path.empty())
        if (auto errors = load_detector_config(config_path, config); !errors.empty()) {
            for (auto& e : errors) fmt::print(stderr, "weft-probe: {}\n", e);
            return 1;
        }
    std::ofstream alerts_file;
    std::ostream* alerts = &std::cout;
    if (alerts_path != "-") {
        alerts_file.open(alerts_path, std::ios::app);
        if (!alerts_file) {
            fmt::print(stderr, "weft-probe: cannot open {}\n", alerts_path);
            return 1;
        }
        alerts = &alerts_file;
    }
    char host[256] = "";
    gethostname(host, sizeof host - 1);
    std::signal(SIGINT, on_signal);
    std::signal(SIGTERM, on_signal);
    try {
        std::unique_ptr<AlertServer> server;
        if (socket_path != "none") server = std::make_unique<AlertServer>(socket_path);
        Probe probe;
        for (const auto& i : ifaces) probe.attach(i);
        std::map<uint32_t, std::string> names;
        for (const auto& i : ifaces) names[if_nametoindex(i.c_str())] = i;
        fmt::print(stderr, "weft-probe: attached to {}\n", fmt::join(ifaces, ", "));
        const uint64_t start = monotonic_ns();
        const int64_t offset = realtime_minus_monotonic();
        Detectors detectors(config, start);
        std::vector<Alert> raised;
        uint64_t next_poll = start, alerts_written = 0;
        auto write = [&] {
            for (const Alert& a : raised) {
                auto it = names.find(a.ifindex);
                nlohmann::json j =
                    alert_to_json(a, host, it == names.end() ? "" : it->second, offset);
                // when the alert left the probe: detection latency is measured to here
                j["raised_monotonic_ns"] = monotonic_ns();
                *alerts << j.dump() << '\n';
                if (server) server->publish(j);
                ++alerts_written;
            }
            if (!raised.empty()) alerts->flush();
            raised.clear();
        };
        std::vector<QpCounters> qps;  // one buffer for every read of the QP tables
        while (!g_stop) {
            bool volume = false;  // a QP crossed a READ or CNP mark: read the maps now
            probe.poll_events(
                [&](const weft_probe_event& e) {
                    volume |= e.type == WP_EV_VOLUME;
                    detectors.on_event(e, raised);
                },
                20);
            uint64_t now = monotonic_ns();
            if (now >= next_poll || volume) {
                probe.read_qps(qps);
                detectors.on_poll(now, qps, raised);
                next_poll = now + uint64_t(poll_ms) * 1'000'000ull;
            }
            write();
            if (server) server->service();
            if (duration > 0 && double(now - start) / 1e9 >= duration) break;
        }
        // what is still in the ring buffer when we stop is consumed, not lost
        while (probe.poll_events([&](const weft_probe_event& e) { detectors.on_event(e, raised); },
                                 0) > 0) {
        }
        // one last read of the tables serves the detectors and the counters document
        probe.read_qps(qps);
        detectors.on_poll(monotonic_ns(), qps, raised);
        write();
        Counters c = probe.counters();
        if (!counters_path.empty()) {
            std::ofstream out(counters_path);
            out << counters_to_json(c, qps, probe.peers(qps), names).dump(2) << '\n';
        }
        fmt::print(stderr,
                   "weft-probe: stopped; {} packets, {} RoCE, {} malformed, {} alerts; "
                   "ring-buffer drops {}, full maps: QP {} peer {}\n",
                   c[WP_PACKETS], c[WP_ROCE], c[WP_MALFORMED], alerts_written, c[WP_RINGBUF_DROPS],
                   c[WP_QP_MAP_FULL], c[WP_PEER_MAP_FULL]);
    } catch (const weft::ipc::ControlError& e) {
        fmt::print(stderr, "weft-probe: {}\n", e.what());
        return 1;
    } catch (const ProbeError& e) {
        fmt::print(stderr, "weft-probe: {}\n", e.what());
        return 1;
    }
    return 0;
}

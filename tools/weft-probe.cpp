// weft-probe: Weft's per-host eBPF agent. Argument parsing and wiring only; the probe
// module loads the programs and runs the agent loop (probe/agent.hpp).
#include <fmt/format.h>

#include <atomic>
#include <csignal>
#include <fstream>
#include <iostream>

#include "weft/probe/agent.hpp"
#include "weft/probe/alert_server.hpp"
#include "weft/probe/config.hpp"
#include "weft/tools/cli.hpp"

namespace {

std::atomic<bool> g_stop{false};
extern "C" void on_signal(int) {
    g_stop = true;
}

int report(const std::vector<std::string>& errors) {
    for (auto& e : errors) fmt::print(stderr, "weft-probe: {}\n", e);
    return 1;
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
        "  weft-probe --iface tap0 --duration 60 --counters-json counters.json\n"
        "  weft-probe --check-config probe.toml"};
    AgentOptions options;
    std::string alerts_path = "-", config_path, check_path, counters_path;
    auto* iface =
        app.add_option("-i,--iface", options.interfaces, "interface to watch (repeatable)")
            ->check(weft::tools::non_empty());
    app.add_option("--alerts", alerts_path, "append alerts as JSON lines here ('-': stdout)")
        ->capture_default_str()
        ->check(weft::tools::non_empty());
    app.add_option("-c,--config", config_path,
                   "TOML file with [detectors] thresholds (docs/DETECTION.md)")
        ->check(CLI::ExistingFile);
    auto* check = app.add_option("--check-config", check_path,
                                 "validate this configuration, print the thresholds, and exit")
                      ->check(CLI::ExistingFile);
    weft::tools::add_bounded_real(&app, "--duration", options.duration_s, 0, 1e7,
                                  "stop after this many seconds (0: until SIGINT/SIGTERM)");
    weft::tools::add_bounded<uint32_t>(
        &app, "--poll-ms", options.poll_ms, 10, 60000,
        "how often the maps are read for the rate detectors (default 100)");
    app.add_option("--counters-json", counters_path,
                   "on exit, write the global, per-QP and per-peer counters as JSON here")
        ->check(weft::tools::non_empty());
    options.socket_path = kDefaultAlertSocket;
    app.add_option("--socket", options.socket_path,
                   "unix socket (mode 0600) where `weftctl alerts` reads the alerts; 'none': off")
        ->check(weft::tools::non_empty())
        ->capture_default_str();
    iface->excludes(check);
    if (auto rc = weft::tools::parse_command_line(app, argc, argv)) return *rc;

    const std::string& file = check_path.empty() ? config_path : check_path;
    if (!file.empty())
        if (auto errors = load_detector_config(file, options.detectors); !errors.empty())
            return report(errors);
    if (!check_path.empty()) {
        fmt::print("{}: valid\n{}", check_path, describe(options.detectors));
        return 0;
    }
    if (options.interfaces.empty()) return report({"give at least one --iface (see --help)"});
    if (options.socket_path == "none") options.socket_path.clear();
    // Outputs are opened before the probes attach: a bad path fails now, not at exit.
    // Alerts are appended, the counters document replaces its file on exit (io/output.hpp:
    // never through a symlink, mode 0600).
    std::unique_ptr<weft::io::OutputFile> alerts, counters_out;
    if (weft::io::same_file(alerts_path, counters_path))
        return report(
            {"--alerts and --counters-json name the same file: one would overwrite the "
             "other"});
    if (weft::io::same_file(alerts_path, config_path) ||
        weft::io::same_file(counters_path, config_path))
        return report({"an output is the configuration file: it would be overwritten"});
    try {
        alerts =
            std::make_unique<weft::io::OutputFile>(alerts_path, weft::io::OutputFile::Mode::append);
        if (!counters_path.empty())
            counters_out = std::make_unique<weft::io::OutputFile>(
                counters_path, weft::io::OutputFile::Mode::replace);
    } catch (const weft::io::OutputError& e) {
        return report({e.what()});
    }
    std::signal(SIGINT, on_signal);
    std::signal(SIGTERM, on_signal);
    std::signal(SIGHUP, on_signal);  // a closed terminal: detach as on SIGTERM
    // A closed alerts pipe is an EPIPE from write(), handled by the agent (it stops and
    // detaches); SIGPIPE would kill us with the TC filters left attached.
    std::signal(SIGPIPE, SIG_IGN);
    try {
        AgentResult r = run_agent(options, *alerts, g_stop);
        if (r.alerts_reader_gone)
            fmt::print(stderr, "weft-probe: the alerts reader closed the pipe; stopping\n");
        if (counters_out) {
            counters_out->write(r.counters_document.dump(2));
            counters_out->write("\n");
            counters_out->commit();
        }
        const Counters& c = r.counters;
        fmt::print(stderr,
                   "weft-probe: stopped; {} packets, {} RoCE, {} malformed, {} alerts; "
                   "ring-buffer drops {}, full maps: QP {} peer {}\n",
                   c[WP_PACKETS], c[WP_ROCE], c[WP_MALFORMED], r.alerts, c[WP_RINGBUF_DROPS],
                   c[WP_QP_MAP_FULL], c[WP_PEER_MAP_FULL]);
    } catch (const weft::ipc::ControlError& e) {
        return report({e.what()});
    } catch (const ProbeError& e) {
        return report({e.what()});
    } catch (const weft::io::OutputError& e) {
        return report({e.what()});
    }
    return 0;
}

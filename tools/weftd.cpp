// weftd: Weft's DPDK data plane. Argument parsing and wiring only; the dataplane module
// does the work.
#include <fmt/format.h>

#include <atomic>
#include <csignal>
#include <iostream>
#include <memory>

#include "weft/dataplane/config.hpp"
#include "weft/dataplane/control_server.hpp"
#include "weft/dataplane/documents.hpp"
#include "weft/dataplane/instance.hpp"
#include "weft/dataplane/metrics.hpp"
#include "weft/dataplane/placement.hpp"
#include "weft/io/output.hpp"
#include "weft/tools/cli.hpp"

namespace {

std::atomic<bool> g_stop{false};
extern "C" void on_signal(int) {
    g_stop = true;
}

constexpr int kExitConfig = 1;

int report_errors(const std::vector<std::string>& errors) {
    for (const std::string& e : errors) fmt::print(stderr, "weftd: {}\n", e);
    return kExitConfig;
}

}  // namespace

int main(int argc, char** argv) {
    using namespace weft::dataplane;
    CLI::App app{
        "weftd: Weft's DPDK data plane for RoCEv2. Every frame is parsed, its ICRC checked\n"
        "(unless --no-icrc) and its queue pair tracked; inline, RoCE from the host port\n"
        "leaves on a fabric port chosen by ECMP, other traffic passes untouched, malformed\n"
        "RoCE is dropped and counted. With [psp] in the config, RoCE to peer weftd is sealed\n"
        "with PSP and PSP from them opened; without it, PSP frames (UDP 1000) from the fabric\n"
        "are dropped and counted, never forwarded unopened. Passive, it only watches (mirror\n"
        "ports, or a capture file). Stages, counters, PSP and key rotation: docs/WEFTD.md.\n\n"
        "  weftd --passive --pcap trace.pcap --exit-on-eof --dump-flows flows.json\n"
        "  weftd --inline --port host:net_af_packet0,iface=eth0 --port "
        "fabric:net_af_packet1,iface=eth1\n"
        "  weftd --config /etc/weft/weftd.toml --show-plan\n"
        "  weftd --check-config /etc/weft/weftd.toml"};
    std::string config_file, check_file, pcap, dump, prefix;
    std::vector<std::string> port_flags;
    bool passive = false, inline_mode = false, show_plan = false, exit_on_eof = false;
    bool no_huge = false, drop_bad_icrc = false;
    uint32_t workers = 0, memory_mb = 0;
    app.add_option("-c,--config", config_file, "TOML configuration (see docs/WEFTD.md)")
        ->check(CLI::ExistingFile);
    app.add_option("--check-config", check_file,
                   "validate this configuration, explain the plan, and exit (0: valid)")
        ->check(CLI::ExistingFile);
    app.add_flag("--show-plan", show_plan,
                 "print the NUMA/lcore placement and EAL arguments, and exit");
    auto* p_opt = app.add_flag("--passive", passive, "watch only (mirror ports or --pcap)");
    app.add_flag("--inline", inline_mode, "bump in the wire: one host port, fabric ports")
        ->excludes(p_opt);
    app.add_option("--port", port_flags,
                   "ROLE:DEVICE[,ARGS], ROLE one of host, fabric, mirror; DEVICE a PCI address or "
                   "a vdev (net_af_packet0,iface=eth1); repeatable, added to the config's ports")
        ->check(weft::tools::non_empty());
    app.add_option("--pcap", pcap, "read this capture through net_pcap (implies --passive)")
        ->check(CLI::ExistingFile);
    app.add_flag("--exit-on-eof", exit_on_eof, "stop when every capture file has been read");
    app.add_option("--dump-flows", dump,
                   "on exit, write the flows as JSON (schema weft.flows/1, as weftctl analyze "
                   "--json) to this file ('-': stdout)")
        ->check(weft::tools::non_empty());
    weft::tools::add_bounded<uint32_t>(&app, "-w,--workers", workers, 1, 128,
                                       "worker lcores (default 1, or the config's)");
    app.add_option("--file-prefix", prefix, "DPDK runtime file prefix (default weftd-<pid>)")
        ->check(weft::tools::non_empty());
    app.add_flag("--no-huge", no_huge, "do not use hugepages even when some are free");
    weft::tools::add_bounded<uint32_t>(&app, "--memory-mb", memory_mb, 64, 1u << 20,
                                       "memory without hugepages, MB (default 512)");
    app.add_flag("--drop-bad-icrc", drop_bad_icrc, "inline: drop RoCE whose ICRC is wrong");
    bool no_icrc = false;
    app.add_flag("--no-icrc", no_icrc,
                 "do not compute ICRCs (RoCE is still parsed, tracked and firewalled by header)");
    uint32_t idle_sleep_us = 0;
    weft::tools::add_bounded<uint32_t>(
        &app, "--idle-sleep-us", idle_sleep_us, 0, 1'000'000,
        "sleep this long after ~1000 empty polls instead of busy-polling (0: busy-poll); "
        "for hosts where weftd shares its cores");
    std::string control_socket, metrics;
    app.add_option("--control-socket", control_socket,
                   "unix socket weftctl -s reads (mode 0600; default /run/weft/<file prefix>.sock; "
                   "'none': no socket)")
        ->check(weft::tools::non_empty());
    app.add_option("--metrics", metrics,
                   "serve Prometheus metrics at http://ADDR/metrics: PORT (on 127.0.0.1), "
                   "HOST:PORT or [IPV6]:PORT; default off")
        ->check(weft::tools::non_empty());
    if (auto rc = weft::tools::parse_command_line(app, argc, argv)) return *rc;

    Config c;
    const std::string& file = check_file.empty() ? config_file : check_file;
    if (!file.empty())
        if (auto errors = load_config_file(file, c); !errors.empty()) return report_errors(errors);
    if (passive || !pcap.empty()) c.mode = Mode::passive;
    if (inline_mode) c.mode = Mode::inline_;
    if (!pcap.empty()) {
        PortConfig p;
        p.name = "pcap";
        p.role = PortRole::mirror;
        p.device = "net_pcap0";
        p.args = "rx_pcap=" + pcap;
        c.ports.push_back(p);
        // a capture is replayed as fast as it reads: keep every flow, as weftctl analyze does
        if (file.empty()) c.flows.idle_timeout_s = 0;
    }
    for (size_t i = 0; i < port_flags.size(); ++i) {
        std::string error;
        auto p = parse_port_flag(port_flags[i], c.ports.size(), error);
        if (!p) return report_errors({error});
        c.ports.push_back(*p);
    }
    if (workers) c.workers = workers;
    if (!prefix.empty()) c.eal.file_prefix = prefix;
    if (no_huge) c.eal.hugepages = false;
    if (memory_mb) c.eal.memory_mb = memory_mb;
    if (drop_bad_icrc) c.firewall.drop_bad_icrc = true;
    c.exit_on_eof = exit_on_eof;
    if (idle_sleep_us) c.idle_sleep_us = idle_sleep_us;
    if (no_icrc) c.firewall.verify_icrc = false;
    c.dump_flows = dump;
    if (control_socket == "none")
        c.control.socket = "";
    else if (!control_socket.empty())
        c.control.socket = control_socket;
    if (!metrics.empty()) c.metrics.listen = metrics;
    if (auto errors = validate(c); !errors.empty()) return report_errors(errors);

    Plan plan;
    try {
        plan = make_plan(c);
    } catch (const PlanError& e) {
        return report_errors({e.what()});
    }
    // Interfaces and files on this host: named before the EAL starts (it would only say
    // "no device"); a configuration checked elsewhere gets them as warnings.
    const std::vector<std::string> missing = host_problems(c);
    if (check_file.empty() && !missing.empty()) return report_errors(missing);
    if (!check_file.empty() || show_plan) {
        for (const std::string& m : missing) fmt::print(stderr, "weftd: warning: {}\n", m);
        if (!check_file.empty()) fmt::print("{}: valid\n", check_file);
        fmt::print("{}{}", describe(c), format(plan));
        fmt::print("EAL: {}\n", fmt::join(eal_arguments(c, plan), " "));
        return 0;
    }

    // The flow dump's file is made now (a temporary file beside it, renamed on success):
    // a bad path must fail before an hour's run, not after it.
    std::unique_ptr<weft::io::OutputFile> dump_out;
    for (const PortConfig& port : c.ports)
        if (weft::io::same_file(dump, port.arg("rx_pcap")))
            return report_errors({"--dump-flows " + dump + " is the capture port " + port.name +
                                  " reads: it would be overwritten"});
    if (weft::io::same_file(dump, config_file))
        return report_errors({"--dump-flows " + dump + " is the configuration file"});
    if (!dump.empty()) {
        try {
            dump_out =
                std::make_unique<weft::io::OutputFile>(dump, weft::io::OutputFile::Mode::replace);
        } catch (const weft::io::OutputError& e) {
            return report_errors({e.what()});
        }
    }

    std::signal(SIGINT, on_signal);
    std::signal(SIGTERM, on_signal);
    std::signal(SIGHUP, on_signal);  // a closed terminal: stop as cleanly as on SIGTERM
    // `--dump-flows - | head` must not kill us by SIGPIPE: the write fails and says so.
    std::signal(SIGPIPE, SIG_IGN);
    try {
        Instance instance(c, plan);
        // The control plane's threads start after EAL init and end before the instance.
        std::unique_ptr<ControlServer> control;
        if (std::string path = control_socket_path(c); !path.empty())
            control = std::make_unique<ControlServer>(instance, path);
        std::unique_ptr<MetricsServer> metrics_server;
        if (!c.metrics.listen.empty()) {
            std::string error;
            metrics_server = std::make_unique<MetricsServer>(
                instance, *parse_listen_address(c.metrics.listen, error));
        }
        instance.set_endpoints(control ? control->path() : "",
                               metrics_server ? metrics_server->address() : "");
        fmt::print(stderr,
                   "weftd: running, {} mode, {} port(s), {} worker(s); control {}, metrics {}\n",
                   to_string(c.mode), c.ports.size(), c.workers, control ? control->path() : "off",
                   metrics_server ? "http://" + metrics_server->address() + "/metrics" : "off");
        std::string why = instance.run(g_stop);
        metrics_server.reset();
        control.reset();
        fmt::print(stderr, "weftd: {}\n{}", why, counters_text(instance));
        for (const std::string& t : instance.capture_truncations())
            fmt::print(stderr, "weftd: warning: {}\n", t);
        if (dump_out) {
            // streamed as it is made; every write is checked
            write_flows_document(instance, [&](std::string_view text) { dump_out->write(text); });
            dump_out->commit();
        }
        // A corrupt capture was read up to the corruption (and reported above); the run
        // still fails, as weftctl analyze's does.
        if (!instance.capture_corruptions().empty()) {
            for (const std::string& c : instance.capture_corruptions())
                fmt::print(stderr,
                           "weftd: error: {}; the counters and flows cover the "
                           "records before it\n",
                           c);
            return kExitConfig;
        }
    } catch (const std::exception& e) {
        return report_errors({e.what()});
    }
    return 0;
}

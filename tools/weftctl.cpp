// weftctl: the operator's command line. Argument parsing and wiring only; the work is
// done by the analyze and flow modules.
#include <fmt/format.h>

#include <cstdio>
#include <iostream>
#include <optional>

#include "weft/analyze/analyzer.hpp"
#include "weft/capture/pcap_file.hpp"
#include "weft/crypt/pcap_files.hpp"
#include "weft/flow/report.hpp"
#include "weft/io/output.hpp"
#include "weft/ipc/protocol.hpp"
#include "weft/tools/cli.hpp"
#include "weft/verbs/devices.hpp"

namespace {

struct FilterArgs {
    uint64_t top = 0;  // 0: not given (20 in the table, every flow in JSON)
    bool all = false;
    bool wide = false;  // the table: every column and the opcodes, whatever the width
    std::vector<std::string> hosts;
    std::string qpn;
    std::string sort = "bytes";
};

struct AnalyzeArgs {
    std::string file;
    std::string master_keys;  // open PSP frames and analyse their inner RoCE
    bool json = false;
    FilterArgs filter;
    bool no_icrc = false;
    uint32_t max_flows = 1u << 20;
    bool quiet = false;
};

// The table fits the reader's terminal (stdout's, or $COLUMNS, or 80 columns).
weft::flow::TableStyle table_style(const FilterArgs& a) {
    weft::flow::TableStyle style;
    style.width = std::clamp(weft::tools::output_width(), weft::flow::TableStyle::kMinWidth,
                             weft::flow::TableStyle::kMaxWidth);
    style.wide = a.wide;
    return style;
}

// The flow filter of `analyze` and `flows`: nullopt (after saying why) on bad input.
std::optional<weft::flow::FlowFilter> build_filter(const char* who, const FilterArgs& a,
                                                   bool json) {
    using namespace weft;
    flow::FlowFilter filter;
    for (auto& h : a.hosts) {
        auto ip = roce::IpAddress::parse(h);
        if (!ip) {
            fmt::print(stderr, "weftctl {}: --host {}: not an IPv4 or IPv6 address\n", who, h);
            return std::nullopt;
        }
        filter.hosts.push_back(*ip);
    }
    if (!a.qpn.empty()) {
        try {
            size_t used = 0;
            unsigned long v = std::stoul(a.qpn, &used, 0);
            if (used != a.qpn.size() || v > 0xffffff) throw std::out_of_range("qpn");
            filter.dest_qp = uint32_t(v);
        } catch (const std::exception&) {
            fmt::print(stderr, "weftctl {}: --qpn {}: not a 24-bit QP number (decimal or 0x hex)\n",
                       who, a.qpn);
            return std::nullopt;
        }
    }
    filter.sort = flow::sort_key_from(a.sort).value_or(flow::FlowFilter::SortKey::Bytes);
    // A person reads the largest flows; a program gets them all unless it asks for fewer.
    filter.top = a.all ? 0 : a.top ? a.top : json ? 0 : 20;
    return filter;
}

void add_filter_options(CLI::App* cmd, FilterArgs& a) {
    weft::tools::add_bounded<uint64_t>(
        cmd, "-n,--top", a.top, 1, 1'000'000'000,
        "show the N largest flows (default: 20 in the table, all with --json; --all: every one)");
    cmd->add_flag("--all", a.all, "show every flow (overrides --top)");
    cmd->add_flag("--wide", a.wide,
                  "the table: every column and each flow's opcodes (by default the columns that "
                  "fit the terminal's width, or $COLUMNS, or 80)");
    cmd->add_option("--host", a.hosts, "only flows from or to this IP (repeatable)")
        ->check(weft::tools::non_empty());
    cmd->add_option("--qpn", a.qpn, "only flows to this destination QP number (decimal or 0x hex)")
        ->check(weft::tools::non_empty());
    cmd->add_option("--sort", a.sort, "order flows by bytes, packets, messages, naks or gaps")
        ->check(CLI::IsMember({"bytes", "packets", "messages", "naks", "gaps"}))
        ->capture_default_str();
}

int run_analyze(const AnalyzeArgs& a) {
    using namespace weft;
    auto parsed = build_filter("analyze", a.filter, a.json);
    if (!parsed) return 2;
    flow::FlowFilter filter = *parsed;

    analyze::Options opt;
    opt.verify_icrc = !a.no_icrc;
    std::unique_ptr<crypt::MasterKeys> keys;
    if (!a.master_keys.empty()) {
        try {
            keys = std::make_unique<crypt::MasterKeys>(crypt::load_master_keys(a.master_keys));
        } catch (const crypt::CryptError& e) {
            fmt::print(stderr, "weftctl analyze: {}\n", e.what());
            return 1;
        }
        opt.psp_keys = keys.get();
    }
    opt.table.max_flows = a.max_flows;
    tools::ProgressLine progress;
    if (!a.quiet) {
        opt.on_progress = [&progress](const analyze::Progress& p) {
            // a pipe has no size: then the bytes read so far
            const std::string done =
                p.file_size
                    ? fmt::format("{:.0f}%", 100.0 * double(p.bytes_read) / double(p.file_size))
                    : fmt::format("{} read", weft::flow::format_bytes(p.bytes_read));
            progress.show(
                fmt::format("analyze: {}  {} frames  {:.1f} s", done, p.frames, p.seconds));
        };
    }
    analyze::Result r;
    try {
        r = analyze::analyze_file(a.file, opt);
    } catch (const capture::CaptureError& e) {
        fmt::print(stderr, "weftctl analyze: {}\n", e.what());
        return 1;
    }
    progress.finish();
    if (!r.truncation.empty())
        fmt::print(stderr,
                   "weftctl analyze: warning: {}: last record truncated ({}); analysed the {} "
                   "complete frames before it\n",
                   a.file, r.truncation, r.totals.frames);
    // A corrupt capture is reported (what came before the corruption) and then fails.
    if (!r.corruption.empty())
        fmt::print(stderr,
                   "weftctl analyze: error: {}: corrupt capture: {}; the report covers the {} "
                   "frames before it\n",
                   a.file, r.corruption, r.totals.frames);
    auto selected = r.flows.select(filter);
    // Every write is checked: a report cut short (disk full, I/O error) exits 1 naming the
    // output and the OS error. A reader that goes away (`| head`) ends us by SIGPIPE, as it
    // does any filter.
    io::FdOutput out(STDOUT_FILENO, io::describe_stdout());
    try {
        if (a.json) {
            nlohmann::json source = {{"program", "weftctl analyze"},
                                     {"file", a.file},
                                     {"seconds", r.seconds},
                                     {"truncation", r.truncation},
                                     {"corruption", r.corruption}};
            nlohmann::json psp = nlohmann::json::array();
            for (auto& [key, c] : r.psp)
                psp.push_back({{"spi", fmt::format("{:08x}", key.first)},
                               {"version", key.second},
                               {"frames", c.frames},
                               {"bytes", c.bytes},
                               {"opened", c.opened},
                               {"refused", c.refused}});
            // "psp" when there is something to say: PSP frames, or keys to open them with
            nlohmann::json extra = {{"source", std::move(source)}};
            if (!psp.empty() || !a.master_keys.empty()) extra["psp"] = std::move(psp);
            flow::write_flows_document([&out](std::string_view text) { out.write(text); },
                                       flow::flow_source(r.flows), selected, r.totals, r.table,
                                       extra);
        } else {
            // PSP frames per SPI first: without keys they are not RoCE to the table below
            for (auto& [key, c] : r.psp) {
                std::string refused;
                for (auto& [why, n] : c.refused) refused += fmt::format(" {} {}", why, n);
                out.write(fmt::format(
                    "PSP SPI {:08x} {}: {} frames ({}){}{}\n", key.first,
                    key.second <= 3 ? roce::psp::to_string(roce::psp::Version(key.second)) : "v?",
                    c.frames, flow::format_bytes(c.bytes),
                    a.master_keys.empty() ? "" : fmt::format(", {} opened", c.opened),
                    refused.empty() ? "" : "; refused:" + refused));
            }
            out.write(flow::format_report(flow::flow_source(r.flows), selected, r.totals, r.table,
                                          table_style(a.filter)));
        }
    } catch (const io::OutputError& e) {
        fmt::print(stderr, "weftctl analyze: {}\n", e.what());
        return 1;
    }
    return r.corruption.empty() ? 0 : 1;
}

int run_devices(bool json) {
    using namespace weft;
    try {
        verbs::Discovery d = verbs::discover();
        if (json)
            std::cout << verbs::to_json(d).dump(2) << '\n';
        else
            std::cout << verbs::format(d);
    } catch (const verbs::VerbsError& e) {
        fmt::print(stderr, "weftctl devices: {}\n", e.what());
        return 1;
    }
    return 0;
}

// status, ports and flows of a running weftd, through its control socket.
int run_live(const std::string& command, std::string socket, bool json,
             const std::optional<weft::flow::FlowFilter>& filter,
             const weft::flow::TableStyle& style = {}, const nlohmann::json& extra = {}) {
    using namespace weft;
    try {
        if (socket.empty()) {
            auto live = ipc::live_sockets();
            if (live.size() != 1) {
                if (live.empty())
                    fmt::print(stderr,
                               "weftctl {}: no weftd answers in {} (is one running? give its "
                               "socket with -s)\n",
                               command, ipc::kSocketDir);
                else
                    fmt::print(stderr,
                               "weftctl {}: several weftd answer; pick one with -s:\n  {}\n",
                               command, fmt::join(live, "\n  "));
                return 1;
            }
            socket = live[0];
        }
        nlohmann::json request = ipc::make_request(command, !json, filter ? &*filter : nullptr,
                                                   filter ? &style : nullptr);
        if (extra.is_object()) request.update(extra);
        auto reply = ipc::call(socket, request);
        if (json)
            std::cout << reply.dump(2) << '\n';
        else
            std::cout << reply.value("text", "");
        if (!std::cout.flush()) {
            fmt::print(stderr, "weftctl {}: cannot write {}\n", command, io::describe_stdout());
            return 1;
        }
    } catch (const ipc::ControlError& e) {
        fmt::print(stderr, "weftctl {}: {}\n", command, e.what());
        return 1;
    }
    return 0;
}

// One alert as a line for people: time, severity, detector, who, where, the evidence.
std::string format_alert(const nlohmann::json& a) {
    std::string evidence;
    const nlohmann::json details = a.value("evidence", nlohmann::json::object());
    for (auto& [k, v] : details.items())
        evidence += fmt::format(" {}={}", k, v.is_string() ? v.get<std::string>() : v.dump());
    auto ip = [&](const char* key) {
        return a.contains(key) && a[key].is_string() ? a[key].get<std::string>() : std::string("-");
    };
    return fmt::format(
        "{}  {:<6} {:<15} {} -> {}  {}{}{}\n", a.value("time", "?"), a.value("severity", "?"),
        a.value("detector", "?"), ip("src"), ip("dst"), a.value("interface", ""),
        a.contains("qps") && !a["qps"].empty() ? "  qps " + a["qps"].dump() : "", evidence);
}

int run_alerts(std::string socket, bool follow, bool json) {
    using namespace weft;
    if (socket.empty()) socket = ipc::kProbeAlertSocket;
    nlohmann::json request = {{"command", "alerts"}, {"follow", follow}};
    try {
        if (!follow) {
            auto reply = ipc::call(socket, request, std::chrono::seconds(10), "weft-probe");
            if (json) {
                std::cout << reply.dump(2) << '\n';
            } else {
                const nlohmann::json list = reply.value("alerts", nlohmann::json::array());
                for (const auto& a : list) std::cout << format_alert(a);
                if (list.empty()) std::cout << "no alerts\n";
            }
            return 0;
        }
        ipc::stream(
            socket, request,
            [&](const std::string& line) {
                auto a = nlohmann::json::parse(line, nullptr, false);
                if (a.is_discarded()) return;
                if (json)
                    std::cout << a.dump() << std::endl;
                else
                    std::cout << format_alert(a) << std::flush;
            },
            "weft-probe");
        // The probe closed the stream: it stopped (an interrupt ends us before this).
        fmt::print(stderr, "weftctl alerts: weft-probe at {} stopped; no more alerts\n", socket);
        return 1;
    } catch (const ipc::ControlError& e) {
        fmt::print(stderr, "weftctl alerts: {}\n", e.what());
        return 1;
    }
    return 0;
}

struct PspArgs {
    std::string in, out, keys, spi_text, mode = "transport", sport = "entropy";
    uint32_t version = 0;
    int crypt_offset = -1;  // -1: leave inner UDP + BTH in clear
    bool vc = false, json = false;
    uint64_t iv_start = 1;
};

void print_psp_counters(const char* what, const PspArgs& a, const weft::crypt::FileCounters& c) {
    if (a.json) {
        nlohmann::json j = {{"schema", "weft.psp-file/1"},
                            {"command", what},
                            {"input", a.in},
                            {"output", a.out},
                            {"frames", c.frames},
                            {"written", c.written},
                            {"refused", c.refused}};
        nlohmann::json spis = nlohmann::json::object();
        for (auto& [spi, n] : c.by_spi) spis[fmt::format("{:08x}", spi)] = n;
        j["by_spi"] = spis;
        j["truncation"] = c.truncation;
        std::cerr << j.dump() << '\n';
        return;
    }
    if (!c.truncation.empty())
        fmt::print(stderr,
                   "weftctl psp {}: warning: {}: last record truncated ({}); the {} whole "
                   "frames before it were processed\n",
                   what, a.in, c.truncation, c.frames);
    std::string refused;
    for (auto& [why, n] : c.refused) refused += fmt::format(" {} {}", why, n);
    fmt::print(stderr, "weftctl psp {}: {} frames read, {} written{}{}\n", what, c.frames,
               c.written, refused.empty() ? "" : "; not written:", refused);
}

// 0: every frame read was written; 1: some were not (counted on stderr by reason).
int psp_status(const weft::crypt::FileCounters& c) {
    return c.written == c.frames ? 0 : 1;
}

int run_psp(bool seal, const PspArgs& a) {
    using namespace weft;
    if (io::same_file(a.in, a.out)) {
        fmt::print(stderr, "weftctl psp: {} is both the input and the output\n", a.out);
        return tools::kExitUsage;
    }
    try {
        const crypt::MasterKeys keys = crypt::load_master_keys(a.keys);
        if (!seal) {
            const crypt::FileCounters c = crypt::open_file(a.in, a.out, keys);
            print_psp_counters("open", a, c);
            return psp_status(c);
        }
        auto spi = tools::parse_bounded<uint32_t>(
            a.spi_text.rfind("0x", 0) == 0 ? a.spi_text : "0x" + a.spi_text, 1, 0xffffffffu, true);
        if (!spi || (*spi & 0x7fffffffu) == 0) {
            fmt::print(stderr,
                       "weftctl psp seal: --spi {}: must be 8 hex digits whose low 31 bits are not "
                       "all 0 (bit 31 chooses master key 1)\n",
                       a.spi_text);
            return tools::kExitUsage;
        }
        crypt::SealOptions o;
        o.version = roce::psp::Version(a.version);
        o.mode = a.mode == "tunnel" ? roce::psp::Mode::tunnel : roce::psp::Mode::transport;
        o.cookie = a.vc;
        o.source_port =
            a.sport == "xor" ? crypt::SourcePort::xor_ports : crypt::SourcePort::entropy;
        // the default keeps inner UDP + BTH readable; in tunnel mode it depends on the
        // inner family, so IPv4's is taken (an IPv6 capture gives --crypt-offset 15)
        o.crypt_offset = a.crypt_offset >= 0 ? uint8_t(a.crypt_offset)
                                             : crypt::clear_udp_bth_offset(o.mode, false, a.vc);
        const crypt::FileCounters c = crypt::seal_file(a.in, a.out, keys, *spi, o, a.iv_start);
        print_psp_counters("seal", a, c);
        return psp_status(c);
    } catch (const crypt::CryptError& e) {
        fmt::print(stderr, "weftctl psp {}: {}\n", seal ? "seal" : "open", e.what());
        return 1;
    } catch (const capture::CaptureError& e) {
        fmt::print(stderr, "weftctl psp {}: {}\n", seal ? "seal" : "open", e.what());
        return 1;
    }
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{
        "weftctl: operate Weft, the RoCEv2 fabric monitor, encryptor and load balancer.\n"
        "`weftctl analyze CAPTURE` shows every RoCEv2 queue-pair flow in a pcap;\n"
        "`weftctl devices` lists this host's RDMA devices and their RoCE GIDs;\n"
        "`weftctl [-s SOCKET] status|ports|flows` reads a running weftd;\n"
        "`weftctl [-s SOCKET] keys [rotate]` shows (or rotates) a running weftd's PSP keys;\n"
        "`weftctl [-s SOCKET] paths` shows its fabric paths and their congestion signals,\n"
        "`weftctl [-s SOCKET] balance policy NAME` changes its balancing policy,\n"
        "`weftctl [-s SOCKET] explain-path SRC DST QPN` says where a flow goes and why;\n"
        "`weftctl psp seal|open IN OUT --master-keys F` applies PSP to a capture;\n"
        "`weftctl alerts [--follow]` reads weft-probe's alerts."};
    app.require_subcommand(1);
    // `weftctl flows -s SOCKET` as well as `weftctl -s SOCKET flows`
    app.fallthrough();
    app.footer("Run `weftctl SUBCOMMAND --help` for the options of each subcommand.");

    AnalyzeArgs a;
    auto* analyze = app.add_subcommand(
        "analyze",
        "Read a pcap or pcapng capture and report its RoCEv2 QP flows: packets, bytes, opcodes,\n"
        "PSN gaps/duplicates/out-of-order, ACKs and NAKs by syndrome, CNPs, ECN CE marks,\n"
        "ICRC errors (every ICRC is verified), messages and message sizes; plus totals and\n"
        "malformed packets counted by verdict. A flow is one direction of one queue pair:\n"
        "(source IP, destination IP, destination QPN); the two directions of an RC connection\n"
        "are paired by PSN. Exit status: 0 analysed (a last record cut short by the end of the\n"
        "file is reported, not an error), 1 unreadable or corrupt capture (a corrupt one is\n"
        "reported up to the corruption, whose record and byte offset are named), 2 bad usage.");
    analyze
        ->add_option("file", a.file,
                     "capture file (pcap or pcapng; Ethernet or Linux cooked, as tcpdump -i "
                     "any writes); '-' reads standard input")
        ->required();
    analyze->add_flag("--json", a.json, "emit the weft.flows/1 JSON document (see docs/SCHEMA.md)");
    add_filter_options(analyze, a.filter);
    analyze->add_flag("--no-icrc", a.no_icrc,
                      "skip ICRC verification (faster; icrc_errors stay 0)");
    weft::tools::add_bounded<uint32_t>(
        analyze, "--max-flows", a.max_flows, 1, (1u << 24) - 2,
        "flow table size (default 1048576); flows beyond it are counted as refused");
    analyze->add_flag("-q,--quiet", a.quiet, "no progress on stderr");
    analyze
        ->add_option("--master-keys", a.master_keys,
                     "open PSP frames (UDP 1000) with this master-key file (root's, mode 0600) "
                     "and analyse their inner RoCE; without it PSP frames are counted per SPI")
        ->check(weft::tools::non_empty());

    bool devices_json = false;
    auto* devices = app.add_subcommand(
        "devices",
        "List this host's RDMA devices through libibverbs and sysfs: ports, state, MTU, link\n"
        "layer, the GID table with each entry's type (RoCE v1/v2) and IP address, and the\n"
        "per-port counters. On a machine without RDMA it says so in one line and exits 0.");
    devices->add_flag("--json", devices_json, "emit the weft.devices/1 JSON document");

    std::string socket;
    app.add_option("-s,--socket", socket,
                   "a running weftd's control socket (default: the only one in /run/weft)")
        ->check(weft::tools::non_empty());
    bool live_json = false;
    auto* status = app.add_subcommand(
        "status",
        "A running weftd: mode, uptime, frames, RoCE, malformed, ICRC errors, flows, and each\n"
        "worker's counters, read while it runs (counters are at most ~1 ms old).");
    status->add_flag("--json", live_json, "emit the weft.status/1 JSON document");
    auto* ports = app.add_subcommand(
        "ports",
        "A running weftd's ports: role, device, link, queues, weftd's and the driver's "
        "counters.");
    ports->add_flag("--json", live_json, "emit the weft.ports/1 JSON document");
    FilterArgs live_filter;
    auto* flows = app.add_subcommand(
        "flows",
        "A running weftd's live flow table, in the form of `weftctl analyze`: the workers copy\n"
        "their tables out between bursts, so the pipeline does not stop.");
    flows->add_flag("--json", live_json,
                    "emit the weft.flows/1 JSON document (with \"dataplane\")");
    add_filter_options(flows, live_filter);

    bool alerts_follow = false, alerts_json = false;
    auto* alerts = app.add_subcommand(
        "alerts",
        "weft-probe's alerts (qpn-scan, psn-injection, rkey-guessing, fan-out, bulk-read,\n"
        "cnp-storm, nak-storm, malformed-roce): the recent ones, or --follow for new ones as\n"
        "they are raised. Reads weft-probe's socket (-s, default /run/weft/probe/alerts.sock).");
    alerts->add_flag("-f,--follow", alerts_follow, "keep printing new alerts until interrupted");
    alerts->add_flag("--json", alerts_json,
                     "JSON: the weft.alerts/1 document, or with --follow one alert per line");

    auto* keys = app.add_subcommand(
        "keys",
        "A running weftd's PSP keys: the generation, the master key its senders use, the\n"
        "keys' ages, the receive SPIs (both generations), each peer's send SPI, and counters\n"
        "in total and per security association. Never a key byte.\n"
        "`weftctl keys rotate` re-reads the master-key file. To bring in a new key: write it\n"
        "in place of the key NOT in use (line 1 for key 0, line 2 for key 1) on every host,\n"
        "then rotate every weftd within [psp] rotate_send_delay_ms (default 5000): each loads\n"
        "it for receiving at once (the key it replaces goes stale) and its senders move to it\n"
        "after the delay. With no new key in the file, the senders move to the other key at\n"
        "once. [psp] rotate_interval_s rotates on a timer.");
    keys->add_flag("--json", live_json, "emit the weft.keys/1 JSON document");
    auto* rotate = keys->add_subcommand(
        "rotate", "re-read the master-key file and move to the next key generation");
    rotate->add_flag("--json", live_json, "emit the weft.keys/1 JSON document after the rotation");

    auto* paths = app.add_subcommand(
        "paths",
        "A running weftd's fabric paths (uplink x UDP source port) and how it balances host\n"
        "RoCE over them: the policy in force, each path's state (ok, or congested: moved away\n"
        "from by the congestion policy), packets, the congestion signals charged to it\n"
        "(RESENT: host requests resent, their PSN gone backwards; NAKS: NAK sequence errors for\n"
        "PSNs that left on it; CNPS: CNPs for QPs whose data takes it; TXDROPS: frames its\n"
        "uplink's full TX queue refused) and flowlets moved IN and OUT (--json: bytes too).\n"
        "A path is congested after [balance] congested_rounds rounds of round_us in a row\n"
        "with signals >= signal_permille of its packets, usable again after clear_rounds.");
    paths->add_flag("--json", live_json, "emit the weft.paths/1 JSON document");
    std::string explain_src, explain_dst, explain_qp;
    auto* explain = app.add_subcommand(
        "explain-path",
        "Which path a running weftd puts one host -> fabric RoCE flow on, and why: the flow's\n"
        "traffic class, its path (uplink, UDP source port, whether congested), the reason\n"
        "(ecmp's hash, the better of two paths at its start, a move off a congested path\n"
        "at a gap, or staying for want of a better one), its flowlets and moves, the last move's\n"
        "path and age. A flow is one direction of a QP: SRC and DST host, DST's QP number.");
    explain->add_option("src", explain_src, "source host address (the host behind this weftd)")
        ->required();
    explain->add_option("dst", explain_dst, "destination host address")->required();
    explain->add_option("qpn", explain_qp, "destination QP number (decimal or 0x hex)")->required();
    explain->add_flag("--json", live_json, "emit the weft.explain-path/1 JSON document");
    std::string policy_name;
    auto* balance = app.add_subcommand(
        "balance",
        "Change a running weftd's balancing policy: `weftctl balance policy congestion`.\n"
        "ecmp: a hash of each QP's 5-tuple picks its uplink, as a switch would; flowlet: a QP\n"
        "may take another path (by hash) after [balance] flowlet_gap_us of quiet; congestion:\n"
        "a QP starts on the better of two paths (fewer recent signals, then fewer packets) and\n"
        "leaves its path, at such a gap, only when the path is congested; spray: as congestion, "
        "and each request to a host that a\n"
        "weftd across the fabric offered to reorder for ([balance] reorder there) takes the\n"
        "next good path in turn. Flows keep their paths across a change; the workers\n"
        "follow at their next burst. Not kept across a restart: set [balance] policy too.");
    balance->require_subcommand(1);
    auto* balance_policy =
        balance->add_subcommand("policy", "set the policy: ecmp, flowlet, congestion or spray");
    balance_policy->add_option("name", policy_name, "ecmp, flowlet, congestion or spray")
        ->required()
        ->check(CLI::IsMember({"ecmp", "flowlet", "congestion", "spray"}));
    balance_policy->add_flag("--json", live_json,
                             "emit the weft.paths/1 JSON document after the change");
    std::string reorder_action;
    auto* balance_reorder = balance->add_subcommand(
        "reorder",
        "pause: frames from the fabric pass unordered while this weftd's reorder offer still\n"
        "stands, so peers keep spraying to it and its hosts see sprayed QPs out of order (the\n"
        "control experiment that shows what the buffer does: it breaks those QPs with\n"
        "go-back-N); resume: reorder again");
    balance_reorder->add_option("action", reorder_action, "pause or resume")
        ->required()
        ->check(CLI::IsMember({"pause", "resume"}));
    balance_reorder->add_flag("--json", live_json, "emit the weft.paths/1 JSON document");

    PspArgs psp_args;
    auto* psp = app.add_subcommand(
        "psp",
        "PSP (Google's PSP Security Protocol) over capture files, with the code weftd's crypt\n"
        "stages use: `seal` encrypts every IP frame of a capture under one SPI, `open` keeps\n"
        "only the frames that authenticate. Keys come from a master-key file: two lines of 64\n"
        "hex digits (key 0, key 1; '#' comments and blank lines allowed), owned by root, mode\n"
        "0600 or 0400, not a symbolic link. Counters on stderr (--json: weft.psp-file/1).\n"
        "Exit status: 0 every frame written, 1 some frame not sealed or not opened (the\n"
        "counters say why: a wrong key shows as auth_failed) or an error, 2 a usage mistake.");
    psp->require_subcommand(1);
    auto* seal = psp->add_subcommand("seal", "encrypt: IN.pcap OUT.pcap --master-keys F --spi HEX");
    auto* open =
        psp->add_subcommand("open", "decrypt and authenticate: IN.pcap OUT.pcap --master-keys F");
    for (CLI::App* cmd : {seal, open}) {
        cmd->add_option("in", psp_args.in, "capture to read (Ethernet)")->required();
        cmd->add_option("out", psp_args.out, "capture to write (replaced when complete)")
            ->required();
        cmd->add_option("--master-keys", psp_args.keys, "master-key file (root's, mode 0600)")
            ->required();
        cmd->add_flag("--json", psp_args.json, "counters as one JSON object on stderr");
    }
    seal->add_option("--spi", psp_args.spi_text,
                     "security parameter index, 8 hex digits; bit 31 chooses the master key "
                     "(0x1... key 0, 0x9... key 1)")
        ->required();
    weft::tools::add_bounded<uint32_t>(seal, "--psp-version", psp_args.version, 0, 1,
                                       "0: AES-GCM-128, 1: AES-GCM-256 (default 0)");
    weft::tools::add_bounded<int>(seal, "--crypt-offset", psp_args.crypt_offset, 0, 63,
                                  "4-octet units left in clear after the PSP header (default: "
                                  "inner UDP + BTH, 5 in transport mode, 7 with --vc)");
    seal->add_flag("--vc", psp_args.vc, "include a virtualization cookie (zero)");
    seal->add_option("--mode", psp_args.mode, "transport (default) or tunnel")
        ->check(CLI::IsMember({"transport", "tunnel"}));
    weft::tools::add_bounded<uint64_t>(seal, "--iv-start", psp_args.iv_start, 1,
                                       0xffffffffffffffffull,
                                       "first IV, then +1 per frame (default 1). Never seal "
                                       "two captures under one SPI from the same start: an IV "
                                       "used twice under a key breaks AES-GCM");
    seal->add_option("--outer-sport", psp_args.sport,
                     "outer UDP source port: entropy (a hash of the inner flow, default) or xor "
                     "(inner sport XOR dport, as Google's reference tools)")
        ->check(CLI::IsMember({"entropy", "xor"}));

    if (auto status = weft::tools::parse_command_line(app, argc, argv)) return *status;
    if (rotate->parsed()) return run_live("keys-rotate", socket, live_json, std::nullopt);
    if (keys->parsed()) return run_live("keys", socket, live_json, std::nullopt);
    if (paths->parsed()) return run_live("paths", socket, live_json, std::nullopt);
    if (explain->parsed()) {
        uint32_t qp = 0;
        try {
            size_t used = 0;
            const unsigned long v = std::stoul(explain_qp, &used, 0);
            if (used != explain_qp.size() || v > 0xffffff) throw std::out_of_range("qpn");
            qp = uint32_t(v);
        } catch (const std::exception&) {
            fmt::print(stderr,
                       "weftctl explain-path: {}: not a 24-bit QP number (decimal or 0x hex)\n",
                       explain_qp);
            return weft::tools::kExitUsage;
        }
        for (const std::string& a : {explain_src, explain_dst})
            if (!weft::roce::IpAddress::parse(a)) {
                fmt::print(stderr, "weftctl explain-path: {}: not an IPv4 or IPv6 address\n", a);
                return weft::tools::kExitUsage;
            }
        return run_live("explain-path", socket, live_json, std::nullopt, {},
                        {{"src", explain_src}, {"dst", explain_dst}, {"qp", qp}});
    }
    if (balance_reorder->parsed())
        return run_live("balance-reorder", socket, live_json, std::nullopt, {},
                        {{"action", reorder_action}});
    if (balance_policy->parsed())
        return run_live("balance-policy", socket, live_json, std::nullopt, {},
                        {{"policy", policy_name}});
    if (seal->parsed()) return run_psp(true, psp_args);
    if (open->parsed()) return run_psp(false, psp_args);
    if (alerts->parsed()) return run_alerts(socket, alerts_follow, alerts_json);
    if (status->parsed()) return run_live("status", socket, live_json, std::nullopt);
    if (ports->parsed()) return run_live("ports", socket, live_json, std::nullopt);
    if (flows->parsed()) {
        auto filter = build_filter("flows", live_filter, live_json);
        if (!filter) return weft::tools::kExitUsage;
        return run_live("flows", socket, live_json, filter, table_style(live_filter));
    }
    if (analyze->parsed()) return run_analyze(a);
    if (devices->parsed()) return run_devices(devices_json);
    return weft::tools::kExitUsage;
}

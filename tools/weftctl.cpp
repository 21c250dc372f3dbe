// weftctl: the operator's command line. Argument parsing and wiring only; the work is
// done by the analyze and flow modules.
#include <fmt/format.h>

#include <cstdio>
#include <iostream>
#include <optional>

#include "weft/analyze/analyzer.hpp"
#include "weft/capture/pcap_file.hpp"
#include "weft/tools/cli.hpp"
#include "weft/verbs/devices.hpp"

namespace {

struct AnalyzeArgs {
    std::string file;
    bool json = false;
    std::optional<size_t> top;  // default: 20 in the table, every flow in JSON
    bool all = false;
    std::vector<std::string> hosts;
    std::string qpn;
    std::string sort = "bytes";
    bool no_icrc = false;
    uint32_t max_flows = 1u << 20;
    bool quiet = false;
};

int run_analyze(const AnalyzeArgs& a) {
    using namespace weft;
    flow::FlowFilter filter;
    for (auto& h : a.hosts) {
        auto ip = roce::IpAddress::parse(h);
        if (!ip) {
            fmt::print(stderr, "weftctl analyze: --host {}: not an IPv4 or IPv6 address\n", h);
            return 2;
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
            fmt::print(stderr,
                       "weftctl analyze: --qpn {}: not a 24-bit QP number (decimal or 0x hex)\n",
                       a.qpn);
            return 2;
        }
    }
    static const std::map<std::string, flow::FlowFilter::SortKey> sorts = {
        {"bytes", flow::FlowFilter::SortKey::Bytes},
        {"packets", flow::FlowFilter::SortKey::Packets},
        {"messages", flow::FlowFilter::SortKey::Messages},
        {"naks", flow::FlowFilter::SortKey::Naks},
        {"gaps", flow::FlowFilter::SortKey::Gaps}};
    filter.sort = sorts.at(a.sort);
    // A person reads the largest flows; a program gets them all unless it asks for fewer.
    filter.top = a.all ? 0 : a.top.value_or(a.json ? 0 : 20);

    analyze::Options opt;
    opt.verify_icrc = !a.no_icrc;
    opt.table.max_flows = a.max_flows;
    tools::ProgressLine progress;
    if (!a.quiet) {
        opt.on_progress = [&progress](const analyze::Progress& p) {
            double pct = p.file_size ? 100.0 * double(p.bytes_read) / double(p.file_size) : 0;
            progress.show(
                fmt::format("analyze: {:.0f}%  {} frames  {:.1f} s", pct, p.frames, p.seconds));
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
    auto selected = flow::select_flows(r.flows, filter);
    if (a.json) {
        auto doc = flow::flows_document(r.flows, selected, r.totals, r.table);
        doc["source"] = {{"file", a.file}, {"seconds", r.seconds}, {"truncation", r.truncation}};
        std::cout << doc.dump(2) << '\n';
    } else {
        std::cout << flow::format_report(r.flows, selected, r.totals, r.table);
    }
    return 0;
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

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{
        "weftctl: operate Weft, the RoCEv2 fabric monitor, encryptor and load balancer.\n"
        "`weftctl analyze CAPTURE` shows every RoCEv2 queue-pair flow in a pcap;\n"
        "`weftctl devices` lists this host's RDMA devices and their RoCE GIDs."};
    app.require_subcommand(1);
    app.footer("Run `weftctl SUBCOMMAND --help` for the options of each subcommand.");

    AnalyzeArgs a;
    auto* analyze = app.add_subcommand(
        "analyze",
        "Read a pcap or pcapng capture and report its RoCEv2 QP flows: packets, bytes, opcodes,\n"
        "PSN gaps/duplicates/out-of-order, ACKs and NAKs by syndrome, CNPs, ECN CE marks,\n"
        "ICRC errors (every ICRC is verified), messages and message sizes; plus totals and\n"
        "malformed packets counted by verdict. A flow is one direction of one queue pair:\n"
        "(source IP, destination IP, destination QPN); the two directions of an RC connection\n"
        "are paired by PSN. Exit status: 0 analysed, 1 unreadable capture, 2 bad usage.");
    analyze->add_option("file", a.file, "capture file (pcap or pcapng, Ethernet link type)")
        ->required();
    analyze->add_flag("--json", a.json, "emit the weft.flows/1 JSON document (see docs/SCHEMA.md)");
    analyze->add_option("-n,--top", a.top,
                        "show the N largest flows (default: 20 in the table, all with --json)");
    analyze->add_flag("--all", a.all, "show every flow (overrides --top)");
    analyze->add_option("--host", a.hosts, "only flows from or to this IP (repeatable)");
    analyze->add_option("--qpn", a.qpn,
                        "only flows to this destination QP number (decimal or 0x hex)");
    analyze->add_option("--sort", a.sort, "order flows by bytes, packets, messages, naks or gaps")
        ->check(CLI::IsMember({"bytes", "packets", "messages", "naks", "gaps"}))
        ->capture_default_str();
    analyze->add_flag("--no-icrc", a.no_icrc,
                      "skip ICRC verification (faster; icrc_errors stay 0)");
    analyze
        ->add_option("--max-flows", a.max_flows,
                     "flow table size; flows beyond it are counted as refused")
        ->check(CLI::Range(1u, (1u << 24) - 2))
        ->capture_default_str();
    analyze->add_flag("-q,--quiet", a.quiet, "no progress on stderr");

    bool devices_json = false;
    auto* devices = app.add_subcommand(
        "devices",
        "List this host's RDMA devices through libibverbs and sysfs: ports, state, MTU, link\n"
        "layer, the GID table with each entry's type (RoCE v1/v2) and IP address, and the\n"
        "per-port counters. On a machine without RDMA it says so in one line and exits 0.");
    devices->add_flag("--json", devices_json, "emit the weft.devices/1 JSON document");

    if (auto status = weft::tools::parse_command_line(app, argc, argv)) return *status;
    if (analyze->parsed()) return run_analyze(a);
    if (devices->parsed()) return run_devices(devices_json);
    return weft::tools::kExitUsage;
}

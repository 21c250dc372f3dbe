// weft-gen: writes captures of realistic RoCEv2 traffic and of attacks. Argument
// parsing and wiring only; scenarios live in src/gen, the wire format in src/roce.
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <iostream>

#include "weft/capture/pcap_file.hpp"
#include "weft/gen/scenario.hpp"
#include "weft/tools/cli.hpp"

namespace {

class PcapSink : public weft::gen::FrameSink {
  public:
    explicit PcapSink(weft::capture::PcapWriter& w) : writer_(w) {}
    void put(std::span<const uint8_t> frame, uint64_t ts) override {
        writer_.write(frame, ts);
        if ((++count_ & 0xffff) == 0 && progress_) progress_(count_);
    }
    std::function<void(uint64_t)> progress_;

  private:
    weft::capture::PcapWriter& writer_;
    uint64_t count_ = 0;
};

std::string scenario_help() {
    std::string s = "Scenarios:\n";
    for (auto& sc : weft::gen::scenarios()) {
        s += fmt::format("  {:<14} {}\n", sc.name, sc.summary);
        std::string d(sc.details);
        size_t at = 0;
        while (at < d.size()) {
            size_t nl = d.find('\n', at);
            if (nl == std::string::npos) nl = d.size();
            s += fmt::format("  {:<14}   {}\n", "", d.substr(at, nl - at));
            at = nl + 1;
        }
    }
    return s;
}

}  // namespace

int main(int argc, char** argv) {
    using namespace weft;
    gen::ScenarioOptions o;
    std::string scenario, out;
    double link_gbps = 100;
    uint64_t packets = 0, start_ns = 1767225600ull * 1000000000ull;  // 2026-01-01T00:00:00Z
    bool list = false, json = false, quiet = false;

    CLI::App app{
        "weft-gen: write a pcap of realistic RoCEv2 traffic (AI training and inference) or of\n"
        "the attacks and faults Weft detects. Frames are built with Weft's one wire-format\n"
        "definition and carry valid ICRCs (except the malformed ones, by design); timestamps\n"
        "are paced as a link of --link-gbps would serialise them. The same --seed gives the\n"
        "same file, byte for byte.\n\n"
        "Example: weft-gen gradient -o grad.pcap --hosts 8 --message-size 4M --iterations 2"};
    app.footer(
        scenario_help() +
        "\nSizes accept K/M/G suffixes (powers of 1024). Exit status: 0 written, 1 could not\n"
        "write, 2 bad usage.");
    app.add_option("scenario", scenario, "scenario to generate (see below)");
    app.add_option("-o,--out", out, "pcap file to write");
    app.add_flag("--list", list, "list the scenarios and exit");
    app.add_option("--seed", o.seed, "random seed; the same seed gives the same file")
        ->capture_default_str();
    app.add_option("--link-gbps", link_gbps, "link speed that paces the timestamps")
        ->check(CLI::Range(0.001, 1600.0))
        ->capture_default_str();
    app.add_option("--packets", packets, "stop after this many frames (0: when the scenario ends)")
        ->capture_default_str();
    app.add_option("--start-ns", start_ns, "timestamp of the first frame (ns since the epoch)")
        ->capture_default_str();
    app.add_option("--mtu", o.fabric.mtu, "RoCE path MTU")
        ->check(CLI::IsMember({256, 512, 1024, 2048, 4096}))
        ->capture_default_str();
    app.add_flag("--ipv6", o.fabric.ipv6, "use IPv6 (fd00::/64) instead of IPv4 (10.0.0.0/16)");
    app.add_option("--vlan", o.fabric.vlan, "802.1Q VLAN id on every frame (0: untagged)")
        ->check(CLI::Range(0, 4094))
        ->capture_default_str();
    app.add_option("--ack-interval", o.fabric.ack_interval,
                   "requester asks for an ACK every N packets")
        ->check(CLI::Range(1u, 1u << 20))
        ->capture_default_str();
    app.add_option("--hosts", o.hosts,
                   "hosts in the all-reduce ring; servers + KV hosts for inference")
        ->check(CLI::Range(1u, 60000u))
        ->capture_default_str();
    app.add_option("--message-size", o.message_size, "bytes all-reduced per iteration")
        ->transform(CLI::AsSizeValue(false))
        ->capture_default_str();
    app.add_option("--iterations", o.iterations, "all-reduce iterations (0: until --packets)")
        ->capture_default_str();
    app.add_option("--qps-per-peer", o.qps_per_peer, "parallel QPs per ring neighbour")
        ->check(CLI::Range(1u, 256u))
        ->capture_default_str();
    app.add_option("--clients", o.clients, "inference clients")
        ->check(CLI::Range(1u, 60000u))
        ->capture_default_str();
    app.add_option("--requests", o.requests, "inference requests per client (0: until --packets)")
        ->capture_default_str();
    app.add_option("--kv-block", o.kv_block, "bytes of each KV-cache block READ")
        ->transform(CLI::AsSizeValue(false))
        ->capture_default_str();
    app.add_option("--ce-fraction", o.ce_fraction, "congestion: share of data packets CE-marked")
        ->check(CLI::Range(0.0, 1.0))
        ->capture_default_str();
    app.add_option("--loss-rate", o.loss_rate, "loss: share of data packets lost")
        ->check(CLI::Range(0.0, 1.0))
        ->capture_default_str();
    app.add_option("--attack-count", o.attack_count, "attacks: probes, guesses, peers or frames")
        ->check(CLI::Range(1u, 1u << 24))
        ->capture_default_str();
    app.add_option("--compute-gap-ns", o.compute_gap_ns, "silence between all-reduce iterations")
        ->capture_default_str();
    app.add_flag("--json", json, "print a JSON summary on stdout");
    app.add_flag("-q,--quiet", quiet, "no progress or summary on stderr");

    if (auto status = tools::parse_command_line(app, argc, argv)) return *status;
    if (list) {
        std::cout << scenario_help();
        return 0;
    }
    if (scenario.empty() || out.empty()) {
        fmt::print(stderr, "weft-gen: need a scenario and -o FILE (try weft-gen --help)\n");
        return 2;
    }
    if (!gen::is_scenario(scenario)) {
        fmt::print(stderr, "weft-gen: unknown scenario '{}' (weft-gen --list shows them)\n",
                   scenario);
        return 2;
    }
    if (o.message_size == 0 || o.kv_block == 0) {
        fmt::print(stderr, "weft-gen: --message-size and --kv-block must be positive\n");
        return 2;
    }
    if ((o.iterations == 0 || o.requests == 0) && packets == 0) {
        fmt::print(stderr,
                   "weft-gen: --iterations 0 / --requests 0 run until --packets, which must then "
                   "be set\n");
        return 2;
    }

    const auto t0 = std::chrono::steady_clock::now();
    try {
        capture::PcapWriter writer(out);
        PcapSink sink(writer);
        tools::ProgressLine progress;
        if (!quiet) {
            sink.progress_ = [&, last = t0](uint64_t n) mutable {
                auto now = std::chrono::steady_clock::now();
                if (now - last < std::chrono::seconds(1)) return;
                last = now;
                progress.show(fmt::format(
                    "weft-gen: {} frames{}", n,
                    packets ? fmt::format(" ({:.0f}%)", 100.0 * double(n) / double(packets)) : ""));
            };
        }
        gen::Wire wire(sink, link_gbps, start_ns, packets);
        gen::run_scenario(scenario, o, wire);
        writer.close();
        double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        double span_ms = double(wire.now_ns() - start_ns) / 1e6;
        progress.finish();
        if (!quiet)
            fmt::print(stderr,
                       "weft-gen: {} frames, {} bytes, {:.3f} ms of {} Gb/s link time -> {} "
                       "({:.1f} s)\n",
                       wire.frames(), wire.bytes(), span_ms, link_gbps, out, secs);
        if (json)
            std::cout << nlohmann::json{{"scenario", scenario},    {"file", out},
                                        {"frames", wire.frames()}, {"bytes", wire.bytes()},
                                        {"seed", o.seed},          {"first_ns", start_ns},
                                        {"end_ns", wire.now_ns()}}
                             .dump()
                      << '\n';
    } catch (const capture::CaptureError& e) {
        fmt::print(stderr, "weft-gen: {}\n", e.what());
        return 1;
    } catch (const std::invalid_argument& e) {
        fmt::print(stderr, "weft-gen: {}\n", e.what());
        return 2;
    }
    return 0;
}

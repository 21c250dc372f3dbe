// weft-gen: writes captures of realistic RoCEv2 traffic and of attacks. Argument
// parsing and wiring only; scenarios live in src/gen, the wire format in src/roce.
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <iostream>
#include <limits>
#include <optional>

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

constexpr uint64_t kNsPerS = 1'000'000'000;
constexpr uint64_t kMaxPackets = 1'000'000'000'000;  // 1e12 frames: tens of terabytes of pcap
// An RDMA message is at most 2 GiB (IBA); a message or block above 1 GiB is no realistic
// all-reduce bucket or KV block, and its packets are built in memory.
constexpr uint32_t kMaxSize = 1u << 30;

// What ended a scenario before --packets frames: its own length.
std::string what_ended(const std::string& name, const weft::gen::ScenarioOptions& o) {
    using weft::gen::Length;
    for (auto& sc : weft::gen::scenarios()) {
        if (sc.name != name) continue;
        switch (sc.length) {
            case Length::iterations:
                return fmt::format("--iterations {}", o.iterations);
            case Length::requests:
                return fmt::format("--requests {}", o.requests);
            case Length::attack:
                return fmt::format(
                    "the end of the attack ({} sends its --attack-count {} and stops; a larger "
                    "--attack-count makes more)",
                    name, o.attack_count);
        }
    }
    return "the scenario";
}

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
    using tools::add_bounded;
    using U32 = uint32_t;
    using U64 = uint64_t;
    add_bounded<U64>(&app, "--seed", o.seed, 0, std::numeric_limits<U64>::max(),
                     "random seed; the same seed gives the same file (default 1)");
    tools::add_bounded_real(&app, "--link-gbps", link_gbps, 0.001, 1600.0,
                            "link speed that paces the timestamps (default 100)");
    add_bounded<U64>(&app, "--packets", packets, 0, kMaxPackets,
                     "write this many frames: alone, gradient-like scenarios and inference run "
                     "until then; with --iterations or --requests, whichever ends first "
                     "(0, the default: when the scenario ends)");
    // classic pcap keeps seconds in 32 bits
    add_bounded<U64>(&app, "--start-ns", start_ns, 0,
                     U64(std::numeric_limits<U32>::max()) * kNsPerS,
                     "timestamp of the first frame, ns since the epoch (default 2026-01-01)");
    app.add_option("--mtu", o.fabric.mtu, "RoCE path MTU")
        ->check(CLI::IsMember({256, 512, 1024, 2048, 4096}))
        ->capture_default_str();
    app.add_flag("--ipv6", o.fabric.ipv6, "use IPv6 (fd00::/64) instead of IPv4 (10.0.0.0/16)");
    add_bounded<uint16_t>(&app, "--vlan", o.fabric.vlan, 0, 4094,
                          "802.1Q VLAN id on every frame (0, the default: untagged)");
    add_bounded<U32>(&app, "--ack-interval", o.fabric.ack_interval, 1, 1u << 20,
                     "requester asks for an ACK every N packets (default 16)");
    add_bounded<U32>(&app, "--hosts", o.hosts, 1, 60000,
                     "hosts in the all-reduce ring (at least 2); servers + KV hosts for "
                     "inference (default 8)");
    weft::tools::add_size(&app, "--message-size", o.message_size, 1, kMaxSize,
                          "bytes all-reduced per iteration (default 1M)");
    auto* iterations =
        add_bounded<U32>(&app, "--iterations", o.iterations, 0, std::numeric_limits<U32>::max(),
                         "all-reduce iterations (default 4; 0: until --packets)");
    add_bounded<U32>(&app, "--qps-per-peer", o.qps_per_peer, 1, 256,
                     "parallel QPs per ring neighbour (default 1)");
    add_bounded<U32>(&app, "--clients", o.clients, 1, 60000, "inference clients (default 16)");
    auto* requests =
        add_bounded<U32>(&app, "--requests", o.requests, 0, std::numeric_limits<U32>::max(),
                         "inference requests per client (default 64; 0: until --packets)");
    weft::tools::add_size(&app, "--kv-block", o.kv_block, 1, kMaxSize,
                          "bytes of each KV-cache block READ (default 64K)");
    tools::add_bounded_real(&app, "--ce-fraction", o.ce_fraction, 0.0, 1.0,
                            "congestion: share of data packets CE-marked (default 0.05)");
    tools::add_bounded_real(&app, "--loss-rate", o.loss_rate, 0.0, 1.0,
                            "loss: share of data packets lost (default 0.002)");
    // the attacks that are not made as they are sent hold a few frames per unit in memory
    add_bounded<U32>(&app, "--attack-count", o.attack_count, 1, 1u << 20,
                     "attacks: probes, guesses, peers or frames (default 256)");
    // an hour of silence is already far beyond any compute phase
    add_bounded<U64>(&app, "--compute-gap-ns", o.compute_gap_ns, 0, 3600 * kNsPerS,
                     "silence between all-reduce iterations (default 200000)");
    app.add_flag("--json", json, "print a JSON summary on stdout");
    app.add_flag("-q,--quiet", quiet, "no progress or summary on stderr");

    if (auto status = tools::parse_command_line(app, argc, argv)) return *status;
    if (json && out == "-") {
        fmt::print(stderr,
                   "weft-gen: --json prints on standard output, where -o - writes the "
                   "capture: write the capture to a file, or leave out --json\n");
        return tools::kExitUsage;
    }
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
    // --packets says how many frames are wanted: unless the scenario's own length is given
    // too, it is what ends the scenario (iterations and requests default to a few)
    if (packets > 0) {
        if (iterations->count() == 0) o.iterations = 0;
        if (requests->count() == 0) o.requests = 0;
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
        if (packets > 0 && wire.frames() < packets)
            fmt::print(stderr, "weft-gen: {} frames, fewer than --packets {}: {} ended it first\n",
                       wire.frames(), packets, what_ended(scenario, o));
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

// weft-verbs: real RDMA traffic between two hosts over RC queue pairs, in the patterns
// Weft must handle (gradient all-reduce bursts, inference request/response + KV-cache
// READs). Argument parsing and output only; the verbs module does the work.
#include <fmt/format.h>

#include <iostream>
#include <limits>

#include "weft/tools/cli.hpp"
#include "weft/verbs/side_channel.hpp"
#include "weft/verbs/traffic.hpp"

namespace {

constexpr int kExitFailed = 1;
constexpr uint32_t kMaxCount = std::numeric_limits<uint32_t>::max();  // the plan's field

// What a server gives away, said in --help (the app's and the server's): an operator must
// know before starting one where it may listen.
constexpr const char* kExposure =
    "The side channel has no authentication: the server hands the first peer that\n"
    "connects to --bind the buffer address and rkey of its registered memory (which that\n"
    "peer may then RDMA READ and WRITE), its QP numbers, PSNs and GID, and registers as\n"
    "much memory as that peer's plan asks for (up to 4 GiB). Use it on a trusted test\n"
    "fabric only, bound to that fabric's address.";

struct Common {
    weft::verbs::SessionOptions options;
    unsigned connect_timeout = 60, run_timeout = 120;
    bool json = false;
};

void add_common(CLI::App* cmd, Common& c) {
    using weft::tools::add_bounded;
    cmd->add_option("-d,--device", c.options.device.device, "RDMA device (default: the first)");
    add_bounded<uint8_t>(cmd, "--ib-port", c.options.device.port, 1, 255,
                         "device port (default 1)");
    add_bounded<int>(cmd, "-g,--gid-index", c.options.device.gid_index, 0, 255,
                     "GID to send from (default: the port's RoCE v2 GID with an IPv4 address)");
    add_bounded<uint16_t>(cmd, "-p,--port", c.options.tcp_port, 1, 65535,
                          "TCP port of the side channel (default 18515)");
    // 0 would be a deadline already passed; a day is more than any test run needs
    add_bounded<unsigned>(cmd, "--connect-timeout", c.connect_timeout, 1, 86400,
                          "seconds to wait for the peer on the side channel (default 60)");
    add_bounded<unsigned>(cmd, "--timeout", c.run_timeout, 1, 86400,
                          "seconds the traffic may take in all (default 120)");
    cmd->add_flag("--json", c.json, "print the report as JSON (schema weft.verbs/1)");
    cmd->add_flag("--wrong-rkey", c.options.wrong_rkey,
                  "use a wrong rkey for this side's RDMA WRITEs/READs (provokes "
                  "remote-access-error NAKs; for testing monitors and the failure path)");
}

int finish(const Common& c, const weft::verbs::SessionReport& r) {
    if (c.json)
        std::cout << weft::verbs::to_json(r).dump(2) << "\n";
    else
        std::cout << weft::verbs::format(r);
    return r.problems.empty() ? 0 : kExitFailed;
}

int fail(const Common& c, const char* role, const std::exception& e) {
    fmt::print(stderr, "weft-verbs {}: {}\n", role, e.what());
    if (c.json)
        std::cout << nlohmann::json{{"schema", "weft.verbs/1"},
                                    {"role", role},
                                    {"ok", false},
                                    {"error", e.what()}}
                         .dump(2)
                  << "\n";
    return kExitFailed;
}

}  // namespace

int main(int argc, char** argv) {
    using namespace weft;
    CLI::App app{
        "weft-verbs: RDMA traffic over RC queue pairs between a server and a client.\n"
        "The client chooses the pattern and sizes and tells the server over a TCP side\n"
        "channel; both check every payload and report operations, bytes, throughput and\n"
        "latency percentiles. Exit status 1 on any completion error (the status is named),\n"
        "bad payload or disagreement between the sides.\n\n" +
        std::string(kExposure) + "\n\n" +
        "  weft-verbs server --bind 10.0.0.1                   # waits for one client\n"
        "  weft-verbs client 10.0.0.1 --pattern gradient --qps 4 --size 1M --iterations 100\n"
        "  weft-verbs client 10.0.0.1 --pattern inference --request-size 512 \\\n"
        "      --response-size 16K --read-size 256K --read-every 4 --json"};
    app.require_subcommand(1);

    Common server_args;
    CLI::App* server =
        app.add_subcommand("server", std::string("serve one session, then exit.\n") + kExposure);
    add_common(server, server_args);
    server
        ->add_option("--bind", server_args.options.host,
                     "address to listen on, required: the test fabric's address of this host "
                     "(0.0.0.0 or :: for every address, with a warning: any peer that reaches "
                     "this host gets the rkey and buffer address of its registered memory)")
        ->required();

    Common client_args;
    verbs::SessionPlan plan;
    std::string pattern = "gradient";
    CLI::App* client = app.add_subcommand("client", "run one session against a server");
    add_common(client, client_args);
    client->add_option("server", client_args.options.host, "the server's address or name")
        ->required();
    client
        ->add_option("--pattern", pattern,
                     "gradient: large RDMA WRITE with immediate on every QP per iteration, "
                     "both directions; inference: SEND request/response plus RDMA READ of "
                     "KV-cache blocks")
        ->check(CLI::IsMember({"gradient", "inference"}))
        ->default_val("gradient");
    tools::add_bounded<uint16_t>(client, "-q,--qps", plan.qps, 1, verbs::kMaxQps,
                                 "queue pairs (default 4)");
    tools::add_bounded<uint32_t>(client, "-n,--iterations", plan.iterations, 1, kMaxCount,
                                 "gradient: bursts; inference: requests in all (default 100)");
    client->add_option("-m,--mtu", plan.mtu, "path MTU wanted (capped by both ports)")
        ->check(CLI::IsMember({256, 512, 1024, 2048, 4096}))
        ->default_val(4096);
    // sizes as the session accepts them (16 B to its largest transfer), K/M/G suffixes;
    // refused with their range whatever the pattern, so a mistake never waits for a device
    auto size_opt = [&](const char* name, uint32_t& v, const char* help, const char* def) {
        tools::add_size(client, name, v, 16, verbs::kMaxTransferBytes,
                        fmt::format("{} (default {})", help, def));
    };
    size_opt("-s,--size", plan.message_bytes, "gradient: bytes per RDMA WRITE (K, M suffixes)",
             "1M");
    size_opt("--request-size", plan.request_bytes, "inference: request SEND bytes", "512");
    size_opt("--response-size", plan.response_bytes, "inference: response SEND bytes", "16K");
    size_opt("--read-size", plan.read_bytes, "inference: RDMA READ bytes (one KV-cache block)",
             "256K");
    tools::add_bounded<uint32_t>(client, "--read-every", plan.read_every, 0, kMaxCount,
                                 "inference: one READ per this many requests (0: no READs; "
                                 "default 4)");

    if (auto rc = tools::parse_command_line(app, argc, argv)) return *rc;

    if (*server) {
        try {
            if (verbs::binds_every_address(server_args.options.host))
                fmt::print(stderr,
                           "weft-verbs server: warning: --bind {} listens on every address: any "
                           "peer that reaches this host first gets the buffer address and rkey of "
                           "its registered memory (no authentication); use a trusted test "
                           "fabric\n",
                           server_args.options.host);
        } catch (const std::exception& e) {
            return fail(server_args, "server", e);
        }
        server_args.options.connect_timeout = std::chrono::seconds(server_args.connect_timeout);
        server_args.options.run_timeout = std::chrono::seconds(server_args.run_timeout);
        try {
            return finish(server_args, verbs::run_server(server_args.options));
        } catch (const std::exception& e) {
            return fail(server_args, "server", e);
        }
    }
    plan.pattern = *verbs::pattern_from_name(pattern);
    if (std::string why = verbs::validate(plan); !why.empty()) {
        fmt::print(stderr, "weft-verbs client: {}\n", why);
        return tools::kExitUsage;
    }
    client_args.options.connect_timeout = std::chrono::seconds(client_args.connect_timeout);
    client_args.options.run_timeout = std::chrono::seconds(client_args.run_timeout);
    try {
        return finish(client_args, verbs::run_client(client_args.options, plan));
    } catch (const std::exception& e) {
        return fail(client_args, "client", e);
    }
}

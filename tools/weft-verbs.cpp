// weft-verbs: real RDMA traffic between two hosts over RC queue pairs, in the patterns
// Weft must handle (gradient all-reduce bursts, inference request/response + KV-cache
// READs). Argument parsing and output only; the verbs module does the work.
#include <fmt/format.h>

#include <iostream>

#include "weft/tools/cli.hpp"
#include "weft/verbs/traffic.hpp"

namespace {

constexpr int kExitFailed = 1;

struct Common {
    weft::verbs::SessionOptions options;
    unsigned connect_timeout = 60, run_timeout = 120;
    bool json = false;
};

void add_common(CLI::App* cmd, Common& c) {
    cmd->add_option("-d,--device", c.options.device.device, "RDMA device (default: the first)");
    cmd->add_option("--ib-port", c.options.device.port, "device port")->default_val(1);
    cmd->add_option("-g,--gid-index", c.options.device.gid_index,
                    "GID to send from (default: the port's RoCE v2 GID with an IPv4 address)");
    cmd->add_option("-p,--port", c.options.tcp_port, "TCP port of the side channel")
        ->default_val(18515);
    cmd->add_option("--connect-timeout", c.connect_timeout,
                    "seconds to wait for the peer on the side channel")
        ->default_val(60);
    cmd->add_option("--timeout", c.run_timeout, "seconds the traffic may take in all")
        ->default_val(120);
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
        "bad payload or disagreement between the sides.\n\n"
        "  weft-verbs server                                   # waits for one client\n"
        "  weft-verbs client 10.0.0.1 --pattern gradient --qps 4 --size 1M --iterations 100\n"
        "  weft-verbs client 10.0.0.1 --pattern inference --request-size 512 \\\n"
        "      --response-size 16K --read-size 256K --read-every 4 --json"};
    app.require_subcommand(1);

    Common server_args;
    CLI::App* server = app.add_subcommand("server", "serve one session, then exit");
    add_common(server, server_args);
    server->add_option("--bind", server_args.options.host,
                       "address to listen on (default: every address)");

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
    client->add_option("-q,--qps", plan.qps, "queue pairs")->default_val(4);
    client
        ->add_option("-n,--iterations", plan.iterations,
                     "gradient: bursts; inference: requests in all")
        ->default_val(100);
    client->add_option("-m,--mtu", plan.mtu, "path MTU wanted (capped by both ports)")
        ->check(CLI::IsMember({256, 512, 1024, 2048, 4096}))
        ->default_val(4096);
    auto size_opt = [&](const char* name, uint32_t& v, const char* help, const char* def) {
        client->add_option(name, v, help)->transform(CLI::AsSizeValue(false))->default_val(def);
    };
    size_opt("-s,--size", plan.message_bytes, "gradient: bytes per RDMA WRITE (K, M suffixes)",
             "1M");
    size_opt("--request-size", plan.request_bytes, "inference: request SEND bytes", "512");
    size_opt("--response-size", plan.response_bytes, "inference: response SEND bytes", "16K");
    size_opt("--read-size", plan.read_bytes, "inference: RDMA READ bytes (one KV-cache block)",
             "256K");
    client
        ->add_option("--read-every", plan.read_every,
                     "inference: one READ per this many requests (0: no READs)")
        ->default_val(4);

    if (auto rc = tools::parse_command_line(app, argc, argv)) return *rc;

    if (*server) {
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

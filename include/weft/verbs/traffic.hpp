// weft-verbs' traffic: one session between a server and a client over RC QPs, in the
// patterns of weft-gen's gradient and inference scenarios, measured per operation
// (count, bytes, throughput, latency percentiles). Both sides check every payload they
// receive and exchange what they sent and saw, so a session that "succeeds" moved
// exactly what was planned.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "weft/verbs/rc.hpp"
#include "weft/verbs/session.hpp"

namespace weft::verbs {

struct LatencySummary {
    uint64_t samples = 0;
    double p50_us = 0, p99_us = 0, p999_us = 0, max_us = 0, mean_us = 0;
};

// Nearest-rank percentiles of `samples_us` (sorted in place).
LatencySummary summarize_latency(std::vector<double>& samples_us);

struct OperationReport {
    std::string name;  // "rdma_write_imm", "request", "rdma_read", "iteration", ...
    std::string what;  // one line: what the latency measures
    uint64_t count = 0;
    uint64_t bytes = 0;
    LatencySummary latency;
};

struct SessionReport {
    std::string role;  // "server" or "client"
    SessionPlan plan;
    std::string device;
    uint32_t gid_index = 0;
    std::string gid;
    std::string peer;    // the side channel's peer address
    uint16_t mtu = 0;    // the path MTU the QPs use
    double seconds = 0;  // first post to last completion
    std::vector<OperationReport> operations;
    Outcome local;
    Outcome remote;
    std::vector<std::string> problems;  // empty on success
};

struct SessionOptions {
    DeviceChoice device;
    std::string host;  // client: the server; server: the address to bind (required)
    uint16_t tcp_port = 18515;
    std::chrono::seconds connect_timeout{60};  // side channel: connect / accept
    std::chrono::seconds run_timeout{120};     // from the first post to the last completion
    // Use a wrong rkey for this side's RDMA WRITEs and READs: the peer answers with
    // remote-access-error NAKs and the session fails with that status. For testing what
    // monitors and detectors make of rkey guessing, and the failure path itself.
    bool wrong_rkey = false;
};

// Each throws VerbsError when the session cannot run at all (no device, no peer, a
// completion error: the message names the status). A session that ran but whose
// outcome disagrees returns with `problems` filled in.
SessionReport run_server(const SessionOptions& options);
SessionReport run_client(const SessionOptions& options, const SessionPlan& plan);

nlohmann::json to_json(const SessionReport& r);  // schema "weft.verbs/1"
std::string format(const SessionReport& r);

}  // namespace weft::verbs

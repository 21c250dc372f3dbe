// weft-gen's scenarios: realistic AI-fabric RoCEv2 traffic and the attacks and faults
// Weft must recognise. Every scenario is deterministic for a given seed.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "weft/gen/fabric.hpp"
#include "weft/gen/wire.hpp"

namespace weft::gen {

struct ScenarioOptions {
    FabricConfig fabric{};
    uint64_t seed = 1;
    uint32_t hosts = 8;                // gradient ring size; inference servers + clients
    uint32_t message_size = 1u << 20;  // gradient bucket per iteration
    uint32_t iterations = 4;
    uint32_t qps_per_peer = 1;         // parallel QPs per ring neighbour (NCCL channels)
    uint32_t clients = 16;             // inference
    uint32_t requests = 64;            // inference requests per client
    uint32_t kv_block = 64 * 1024;     // inference KV-cache block read
    double ce_fraction = 0.05;         // congestion: share of data packets ECN CE-marked
    double loss_rate = 0.002;          // loss: share of data packets lost before the capture
    uint32_t attack_count = 256;       // probes / guesses / peers / injected packets
    uint64_t compute_gap_ns = 200000;  // idle between all-reduce iterations
};

// What ends a scenario before --packets does: its --iterations (gradient and the
// scenarios built on it), its --requests (inference), or its attack, once the
// --attack-count of it is sent (the background stops with it).
enum class Length { iterations, requests, attack };

struct ScenarioInfo {
    std::string_view name;
    std::string_view summary;
    std::string_view details;
    Length length;
};

const std::vector<ScenarioInfo>& scenarios();
bool is_scenario(std::string_view name);

// Runs `name` onto `wire` until it is done or the wire's frame limit is reached.
// Throws std::invalid_argument for an unknown scenario or impossible options.
void run_scenario(std::string_view name, const ScenarioOptions& options, Wire& wire);

}  // namespace weft::gen

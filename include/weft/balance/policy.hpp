// The balancing policy of a weftd instance, chosen at start-up ([balance] policy) and
// changed by `weftctl balance policy` between bursts. A std::variant of the
// policies, visited once per burst (balance.decide in pipeline.cpp), so the per-packet
// loop is compiled for the one policy in force: no virtual call per packet, as l3fwd
// picks its lookup mode once. A new policy is one more alternative here and its class.
#pragma once

#include <string_view>
#include <variant>

#include "weft/balance/congestion.hpp"
#include "weft/balance/ecmp.hpp"
#include "weft/balance/flowlet.hpp"
#include "weft/balance/spray.hpp"

namespace weft::balance {

using Policy = std::variant<EcmpPolicy, FlowletPolicy, CongestionPolicy, SprayPolicy>;

inline std::string_view name(const Policy& p) {
    return std::visit([](const auto& policy) -> std::string_view { return policy.kName; }, p);
}

}  // namespace weft::balance

// Traffic classes and the classifier that assigns them, once per packet from the host
// (the classify stage): gradient (collectives), inference (request/response, KV-cache
// reads) or control, by configured match and by behaviour. Each class gets its own
// balancing policy. Until classification rules exist (the balancing issue), every
// packet is `unknown` and the classifier is the one that says so.
#pragma once

#include <cstdint>
#include <string_view>
#include <variant>

#include "weft/roce/packet.hpp"

namespace weft::classify {

enum class TrafficClass : uint8_t { unknown, control, gradient, inference };
inline constexpr size_t kTrafficClassCount = 4;

std::string_view to_string(TrafficClass c);

// Assigns no class: what weftd does while no classification is configured.
class Unclassified {
  public:
    static constexpr const char* kName = "none";
    TrafficClass classify(const roce::Packet&) const { return TrafficClass::unknown; }
};

// The classifier variant (Unclassified or rules) is in rules.hpp.

}  // namespace weft::classify

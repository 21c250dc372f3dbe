// Classification by configured match: an ordered list of rules, the first that matches a
// packet names its class; none matching leaves it `unknown`. A rule matches on any of its
// fields that are set (DSCP, source or destination prefixes, a destination-QP range, a
// UDP source-port range), all of them at once. Free of DPDK types, like the policies.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "weft/classify/classifier.hpp"
#include "weft/roce/ip_address.hpp"
#include "weft/roce/packet.hpp"

namespace weft::classify {

struct ClassRule {
    TrafficClass traffic_class = TrafficClass::unknown;
    std::optional<uint8_t> dscp;          // 0..63
    std::vector<roce::IpPrefix> sources;  // any of them; empty: any source
    std::vector<roce::IpPrefix> destinations;
    uint32_t dest_qp_min = 0, dest_qp_max = 0xffffff;  // inclusive, 24-bit
    uint16_t src_port_min = 0, src_port_max = 0xffff;  // inclusive

    bool matches(const roce::Packet& p) const;
};

class RuleClassifier {
  public:
    static constexpr const char* kName = "rules";
    explicit RuleClassifier(std::vector<ClassRule> rules) : rules_(std::move(rules)) {}
    TrafficClass classify(const roce::Packet& p) const {
        for (const ClassRule& r : rules_)
            if (r.matches(p)) return r.traffic_class;
        return TrafficClass::unknown;
    }
    const std::vector<ClassRule>& rules() const { return rules_; }

  private:
    std::vector<ClassRule> rules_;
};

// Chosen at start-up, visited once per burst (as balance::Policy).
using Classifier = std::variant<Unclassified, RuleClassifier>;

// "gradient", "inference", "control" or "unknown"; nullopt for anything else.
std::optional<TrafficClass> traffic_class_named(std::string_view name);

}  // namespace weft::classify

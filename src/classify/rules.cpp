#include "weft/classify/rules.hpp"

namespace weft::classify {

namespace {

bool any_contains(const std::vector<roce::IpPrefix>& prefixes, const roce::IpAddress& a) {
    if (prefixes.empty()) return true;
    for (const roce::IpPrefix& p : prefixes)
        if (p.contains(a)) return true;
    return false;
}

}  // namespace

bool ClassRule::matches(const roce::Packet& p) const {
    if (dscp && p.dscp != *dscp) return false;
    if (p.bth.dest_qp < dest_qp_min || p.bth.dest_qp > dest_qp_max) return false;
    if (p.src_port < src_port_min || p.src_port > src_port_max) return false;
    return any_contains(sources, p.src) && any_contains(destinations, p.dst);
}

std::optional<TrafficClass> traffic_class_named(std::string_view name) {
    for (TrafficClass c : {TrafficClass::unknown, TrafficClass::control, TrafficClass::gradient,
                           TrafficClass::inference})
        if (to_string(c) == name) return c;
    return std::nullopt;
}

}  // namespace weft::classify

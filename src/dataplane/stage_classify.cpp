// The [classify] configuration: rules that name a RoCE packet's traffic class (the
// classify stage, classify/rules.hpp).
#include <fmt/format.h>

#include "weft/dataplane/config_sections.hpp"

namespace weft::dataplane {

namespace {

// [MIN, MAX] of integers within [0, limit]
bool read_range(const toml::table& t, const std::string& key, const char* name, uint32_t limit,
                uint32_t& lo, uint32_t& hi, config::Problems& problems) {
    const toml::node* node = t.get(name);
    if (!node) return false;
    const toml::array* a = node->as_array();
    const auto first = a && a->size() == 2 ? (*a)[0].value<int64_t>() : std::nullopt;
    const auto second = a && a->size() == 2 ? (*a)[1].value<int64_t>() : std::nullopt;
    if (!first || !second || *first < 0 || *second < *first || uint64_t(*second) > limit) {
        problems.add(key + "." + name,
                     fmt::format("must be [MIN, MAX], integers with 0 <= MIN <= MAX <= {}", limit));
        return false;
    }
    lo = uint32_t(*first);
    hi = uint32_t(*second);
    return true;
}

}  // namespace

void parse_classify_section(const toml::node& node, Config& c, config::Problems& problems) {
    const toml::table* t = config::as_table(node, "classify", problems);
    if (!t) return;
    static constexpr std::string_view kKeys[] = {"rules"};
    config::refuse_unknown_keys(*t, "classify", kKeys, problems);
    const toml::node* rules = t->get("rules");
    if (!rules) return;
    const toml::array* arr = rules->as_array();
    if (!arr) {
        problems.add("classify.rules", "must be an array of tables ([[classify.rules]])");
        return;
    }
    size_t i = 0;
    static constexpr std::string_view kRuleKeys[] = {"class",        "dscp",    "sources",
                                                     "destinations", "dest_qp", "src_ports"};
    for (const toml::node& item : *arr) {
        const std::string key = fmt::format("classify.rules[{}]", i++);
        const toml::table* r = item.as_table();
        if (!r) {
            problems.add(key, "must be a table");
            continue;
        }
        config::refuse_unknown_keys(*r, key, kRuleKeys, problems);
        classify::ClassRule rule;
        std::string name;
        if (!config::read_string(*r, key, "class", name, problems)) {
            problems.add(key + ".class", "is required: gradient, inference or control");
        } else if (auto cls = classify::traffic_class_named(name);
                   !cls || *cls == classify::TrafficClass::unknown) {
            problems.add(key + ".class",
                         fmt::format("{}: must be gradient, inference or control", name));
        } else {
            rule.traffic_class = *cls;
        }
        uint32_t dscp = 0;
        if (r->contains("dscp") && config::read_uint(*r, key, "dscp", 0u, 63u, dscp, problems))
            rule.dscp = uint8_t(dscp);
        read_prefixes(*r, key, "sources", rule.sources, problems);
        read_prefixes(*r, key, "destinations", rule.destinations, problems);
        read_range(*r, key, "dest_qp", 0xffffff, rule.dest_qp_min, rule.dest_qp_max, problems);
        uint32_t lo = 0, hi = 0xffff;
        if (read_range(*r, key, "src_ports", 0xffff, lo, hi, problems)) {
            rule.src_port_min = uint16_t(lo);
            rule.src_port_max = uint16_t(hi);
        }
        if (!rule.dscp && rule.sources.empty() && rule.destinations.empty() &&
            !r->contains("dest_qp") && !r->contains("src_ports"))
            problems.add(key,
                         "matches everything: give dscp, sources, destinations, dest_qp or "
                         "src_ports");
        c.classify.rules.push_back(std::move(rule));
    }
}

}  // namespace weft::dataplane

#include "weft/dataplane/firewall.hpp"

#include "weft/dataplane/burst.hpp"
#include "weft/dataplane/config_sections.hpp"

namespace weft::dataplane {

void firewall(Burst& b, const FirewallConfig& c, FirewallCounters& counters) {
    for (PacketState& s : b.frames()) {
        if (s.dropped) continue;
        switch (firewall_verdict(c, s.verdict, s.icrc_ok)) {
            case FirewallVerdict::pass:
                ++counters.passed;
                break;
            case FirewallVerdict::drop_malformed:
                ++counters.dropped_malformed;
                s.dropped = true;
                break;
            case FirewallVerdict::drop_bad_icrc:
                ++counters.dropped_bad_icrc;
                s.dropped = true;
                break;
        }
    }
}

void parse_firewall_section(const toml::node& node, Config& c, config::Problems& problems) {
    const toml::table* t = config::as_table(node, "firewall", problems);
    if (!t) return;
    static constexpr std::string_view kKeys[] = {"verify_icrc", "drop_bad_icrc"};
    config::refuse_unknown_keys(*t, "firewall", kKeys, problems);
    config::read_bool(*t, "firewall", "verify_icrc", c.firewall.verify_icrc, problems);
    config::read_bool(*t, "firewall", "drop_bad_icrc", c.firewall.drop_bad_icrc, problems);
}

}  // namespace weft::dataplane

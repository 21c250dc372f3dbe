#include "weft/dataplane/firewall.hpp"

#include "weft/dataplane/burst.hpp"

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

}  // namespace weft::dataplane

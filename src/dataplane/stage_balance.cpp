// balance.apply (stages.hpp) and the [balance] configuration; balance.decide is a template
// in stages.hpp.
#include <fmt/format.h>
#include <rte_mbuf.h>

#include "weft/dataplane/config_sections.hpp"
#include "weft/dataplane/stages.hpp"
#include "weft/roce/bytes.hpp"
#include "weft/roce/icrc.hpp"
#include "weft/roce/locate.hpp"

namespace weft::dataplane {

void balance_apply(Burst& b, BalanceCounters& counters) {
    for (PacketState& s : b.frames()) {
        if (s.dropped || !s.is_roce() || s.path.source_port == balance::kKeepSourcePort) continue;
        if (s.mbuf->nb_segs != 1) {
            ++counters.multi_segment_kept;  // see stages.hpp
            continue;
        }
        const uint16_t port = uint16_t(s.path.source_port);
        uint8_t* f = rte_pktmbuf_mtod(s.mbuf, uint8_t*);
        if (s.sealed) {
            // the outer header crypt.seal wrote: where its UDP header is, from the bytes
            const roce::Located outer = roce::locate({f, size_t(s.mbuf->data_len)});
            if (!outer.has_ports) continue;
            roce::store_be16(f + outer.l4_offset, port);
            ++counters.sealed_ports_rewritten;
            continue;
        }
        if (port == s.packet.src_port) continue;
        // The new ICRC from the old one in constant time, then the two stores; the view
        // is kept true to the bytes for any stage after this one.
        const uint32_t icrc = roce::icrc_after_src_port_change(s.packet, port);
        roce::store_be16(f + s.packet.l4_offset, port);
        roce::store_le32(f + s.packet.icrc_offset, icrc);
        s.packet.src_port = port;
        ++counters.ports_rewritten;
    }
}

const char* to_string(BalancePolicy p) {
    switch (p) {
        case BalancePolicy::ecmp:
            return "ecmp";
        case BalancePolicy::flowlet:
            return "flowlet";
        case BalancePolicy::congestion:
            return "congestion";
    }
    return "?";
}

bool balance_policy_from(std::string_view name, BalancePolicy& out) {
    for (BalancePolicy p : {BalancePolicy::ecmp, BalancePolicy::flowlet, BalancePolicy::congestion})
        if (name == to_string(p)) {
            out = p;
            return true;
        }
    return false;
}

void parse_balance_section(const toml::node& node, Config& c, config::Problems& problems) {
    const toml::table* t = config::as_table(node, "balance", problems);
    if (!t) return;
    static constexpr std::string_view kKeys[] = {
        "policy",       "flowlet_gap_us",   "source_ports",   "round_us", "congested_rounds",
        "clear_rounds", "signal_permille"};
    config::refuse_unknown_keys(*t, "balance", kKeys, problems);
    std::string policy;
    if (config::read_string(*t, "balance", "policy", policy, problems)) {
        if (!balance_policy_from(policy, c.balance.policy))
            problems.add("balance.policy", "must be \"ecmp\", \"flowlet\" or \"congestion\"");
    }
    // 1 us .. 10 s: below a microsecond every packet would start a flowlet
    config::read_uint(*t, "balance", "flowlet_gap_us", 1u, 10'000'000u, c.balance.flowlet_gap_us,
                      problems);
    // ports 0xC000 .. 0xFFFF: the range RoCE senders use
    config::read_uint(*t, "balance", "source_ports", 0u, 16384u, c.balance.source_ports, problems);
    // a round: 100 us (a few RTTs in a data centre) .. 10 s
    config::read_uint(*t, "balance", "round_us", 100u, 10'000'000u, c.balance.round_us, problems);
    config::read_uint(*t, "balance", "congested_rounds", 1u, 1000u, c.balance.congested_rounds,
                      problems);
    config::read_uint(*t, "balance", "clear_rounds", 1u, 100'000u, c.balance.clear_rounds, problems);
    config::read_uint(*t, "balance", "signal_permille", 1u, 1000u, c.balance.signal_permille,
                      problems);
}

}  // namespace weft::dataplane

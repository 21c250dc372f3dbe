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

void parse_balance_section(const toml::node& node, Config& c, config::Problems& problems) {
    const toml::table* t = config::as_table(node, "balance", problems);
    if (!t) return;
    static constexpr std::string_view kKeys[] = {"policy", "flowlet_gap_us", "source_ports"};
    config::refuse_unknown_keys(*t, "balance", kKeys, problems);
    std::string policy;
    if (config::read_string(*t, "balance", "policy", policy, problems)) {
        if (policy == "ecmp")
            c.balance.policy = BalancePolicy::ecmp;
        else if (policy == "flowlet")
            c.balance.policy = BalancePolicy::flowlet;
        else
            problems.add("balance.policy", "must be \"ecmp\" or \"flowlet\"");
    }
    // 1 us .. 10 s: below a microsecond every packet would start a flowlet
    config::read_uint(*t, "balance", "flowlet_gap_us", 1u, 10'000'000u, c.balance.flowlet_gap_us,
                      problems);
    // ports 0xC000 .. 0xFFFF: the range RoCE senders use
    config::read_uint(*t, "balance", "source_ports", 0u, 16384u, c.balance.source_ports, problems);
}

}  // namespace weft::dataplane

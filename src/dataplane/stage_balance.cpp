// balance.apply (stages.hpp) and the [balance] configuration; balance.decide is a template
// in stages.hpp.
#include <fmt/format.h>
#include <rte_mbuf.h>

#include "weft/balance/reorder_offer.hpp"
#include "weft/classify/rules.hpp"
#include "weft/dataplane/config_sections.hpp"
#include "weft/dataplane/stages.hpp"
#include "weft/roce/bytes.hpp"
#include "weft/roce/icrc.hpp"
#include "weft/roce/locate.hpp"

namespace weft::dataplane {

namespace {

// Writes `dscp` into the IP header at `l3` of `f` (`len` bytes in its first segment),
// keeping the ECN bits; IPv4's header checksum follows incrementally (RFC 1624). The
// ICRC masks the TOS / traffic class, so it needs nothing. False when the header is not
// all there.
bool mark_dscp(uint8_t* f, size_t len, size_t l3, uint8_t dscp) {
    if (l3 + 20 > len) return false;
    uint8_t* ip = f + l3;
    if ((ip[0] >> 4) == 4) {
        const uint16_t old_word = roce::load_be16(ip);
        ip[1] = uint8_t(dscp << 2 | (ip[1] & 3));
        const uint16_t new_word = roce::load_be16(ip);
        uint32_t sum =
            uint32_t(~roce::load_be16(ip + 10) & 0xffff) + (~old_word & 0xffff) + new_word;
        sum = (sum & 0xffff) + (sum >> 16);
        sum = (sum & 0xffff) + (sum >> 16);
        roce::store_be16(ip + 10, uint16_t(~sum));
        return true;
    }
    if ((ip[0] >> 4) == 6) {
        const uint8_t tc = uint8_t(dscp << 2 | ((ip[1] >> 4) & 3));
        ip[0] = uint8_t(0x60 | tc >> 4);
        ip[1] = uint8_t((tc & 0x0f) << 4 | (ip[1] & 0x0f));
        return true;
    }
    return false;
}

}  // namespace

void balance_apply(Burst& b, BalanceCounters& counters) {
    for (PacketState& s : b.frames()) {
        if (s.dropped || !s.is_roce()) continue;
        if (s.mark_dscp != kNoDscp) {
            uint8_t* f = rte_pktmbuf_mtod(s.mbuf, uint8_t*);
            // a sealed frame's outer header is what the switches see
            const size_t l3 = s.sealed ? roce::locate({f, size_t(s.mbuf->data_len)}).l3_offset
                                       : s.packet.l3_offset;
            if (mark_dscp(f, s.mbuf->data_len, l3, s.mark_dscp)) ++counters.dscp_marked;
        }
        if (s.path.source_port == balance::kKeepSourcePort) continue;
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
        case BalancePolicy::spray:
            return "spray";
    }
    return "?";
}

bool balance_policy_from(std::string_view name, BalancePolicy& out) {
    for (BalancePolicy p : {BalancePolicy::ecmp, BalancePolicy::flowlet, BalancePolicy::congestion,
                            BalancePolicy::spray})
        if (name == to_string(p)) {
            out = p;
            return true;
        }
    return false;
}

void parse_balance_section(const toml::node& node, Config& c, config::Problems& problems) {
    const toml::table* t = config::as_table(node, "balance", problems);
    if (!t) return;
    static constexpr std::string_view kKeys[] = {"policy",
                                                 "flowlet_gap_us",
                                                 "source_ports",
                                                 "round_us",
                                                 "congested_rounds",
                                                 "clear_rounds",
                                                 "signal_permille",
                                                 "reorder",
                                                 "reorder_hosts",
                                                 "reorder_depth",
                                                 "reorder_flows",
                                                 "reorder_timeout_us",
                                                 "offer_interval_ms",
                                                 "classes"};
    config::refuse_unknown_keys(*t, "balance", kKeys, problems);
    std::string policy;
    if (config::read_string(*t, "balance", "policy", policy, problems)) {
        if (!balance_policy_from(policy, c.balance.policy))
            problems.add("balance.policy",
                         "must be \"ecmp\", \"flowlet\", \"congestion\" or \"spray\"");
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
    config::read_uint(*t, "balance", "clear_rounds", 1u, 100'000u, c.balance.clear_rounds,
                      problems);
    config::read_uint(*t, "balance", "signal_permille", 1u, 1000u, c.balance.signal_permille,
                      problems);
    config::read_bool(*t, "balance", "reorder", c.balance.reorder, problems);
    read_prefixes(*t, "balance", "reorder_hosts", c.balance.reorder_hosts, problems);
    if (c.balance.reorder_hosts.size() > balance::kOfferMaxPrefixes)
        problems.add("balance.reorder_hosts",
                     fmt::format("at most {} prefixes", balance::kOfferMaxPrefixes));
    if (config::read_uint(*t, "balance", "reorder_depth", 2u, 1024u, c.balance.reorder_depth,
                          problems) &&
        (c.balance.reorder_depth & (c.balance.reorder_depth - 1)))
        problems.add("balance.reorder_depth", "must be a power of two (2, 4, ... 1024)");
    config::read_uint(*t, "balance", "reorder_flows", 1u, 65536u, c.balance.reorder_flows,
                      problems);
    config::read_uint(*t, "balance", "reorder_timeout_us", 10u, 1'000'000u,
                      c.balance.reorder_timeout_us, problems);
    config::read_uint(*t, "balance", "offer_interval_ms", 100u, 60'000u,
                      c.balance.offer_interval_ms, problems);
    if (const toml::node* classes = t->get("classes")) {
        const toml::table* ct = classes->as_table();
        if (!ct) {
            problems.add("balance.classes", "must be a table: [balance.classes.inference]");
            return;
        }
        for (const auto& [name, node] : *ct) {
            const std::string section = fmt::format("balance.classes.{}", name.str());
            const std::optional<classify::TrafficClass> cls =
                classify::traffic_class_named(name.str());
            if (!cls) {
                problems.add(section,
                             "not a traffic class (gradient, inference, control, unknown)");
                continue;
            }
            const toml::table* one = node.as_table();
            if (!one) {
                problems.add(section, "must be a table");
                continue;
            }
            static constexpr std::string_view kClassKeys[] = {"policy", "dscp"};
            config::refuse_unknown_keys(*one, section, kClassKeys, problems);
            BalanceConfig::ClassBalance& cb = c.balance.classes[size_t(*cls)];
            std::string policy;
            if (config::read_string(*one, section, "policy", policy, problems)) {
                if (balance_policy_from(policy, cb.policy))
                    cb.has_policy = true;
                else
                    problems.add(section + ".policy",
                                 "must be \"ecmp\", \"flowlet\", \"congestion\" or \"spray\"");
            }
            uint32_t dscp = 0;
            if (config::read_uint(*one, section, "dscp", 0u, 63u, dscp, problems))
                cb.dscp = int(dscp);
        }
    }
}

}  // namespace weft::dataplane

// The firewall: which frames weftd refuses to forward, with one counter per verdict.
// Malformed RoCEv2 (any parser verdict but ok and not RoCE) never leaves weftd; RoCE whose
// ICRC is wrong is dropped when configured (the receiving RNIC would drop it anyway; weftd
// saves the fabric the bytes and counts it). Later policy drops are added here.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "weft/roce/packet.hpp"
#include "weft/telemetry/counters.hpp"

namespace weft::dataplane {

struct Burst;

struct FirewallConfig {
    bool verify_icrc = true;  // off: RoCE is parsed and tracked, ICRCs are not computed
    bool drop_bad_icrc = false;
};

enum class FirewallVerdict : uint8_t { pass, drop_malformed, drop_bad_icrc };

#define WEFT_FIREWALL_COUNTERS(COUNTER, ARRAY)                                       \
    COUNTER(passed, "frames the firewall let through")                               \
    COUNTER(dropped_malformed,                                                       \
            "malformed RoCEv2 dropped (by verdict in the account stage's verdicts)") \
    COUNTER(dropped_bad_icrc, "RoCEv2 with a wrong ICRC dropped (firewall.drop_bad_icrc)")

struct FirewallCounters {
    WEFT_COUNTER_LIST(FirewallCounters, WEFT_FIREWALL_COUNTERS)
};

// The rule for one frame, from what account found.
inline FirewallVerdict firewall_verdict(const FirewallConfig& c, roce::Verdict v, bool icrc_ok) {
    if (roce::is_malformed(v)) return FirewallVerdict::drop_malformed;
    if (v == roce::Verdict::Ok && !icrc_ok && c.drop_bad_icrc)
        return FirewallVerdict::drop_bad_icrc;
    return FirewallVerdict::pass;
}

// The firewall stage: every frame of the burst not yet dropped is judged and counted.
void firewall(Burst& burst, const FirewallConfig& c, FirewallCounters& counters);

}  // namespace weft::dataplane

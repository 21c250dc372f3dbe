// Capture- or port-level totals that sit beside the flows: what the account step
// (account.hpp) counts for every frame. Hot path: no JSON here (flow/report.hpp renders).
#pragma once

#include <cstdint>
#include <string_view>

#include "weft/roce/packet.hpp"
#include "weft/telemetry/counters.hpp"

namespace weft::flow {

inline std::string_view verdict_label(size_t verdict) {
    return roce::to_string(roce::Verdict(verdict));
}

#define WEFT_FLOW_TOTALS(COUNTER, ARRAY)                                                           \
    COUNTER(frames, "frames seen")                                                                 \
    COUNTER(bytes, "wire bytes of the frames seen")                                                \
    COUNTER(roce_packets, "well-formed RoCEv2 packets")                                            \
    COUNTER(roce_bytes, "wire bytes of well-formed RoCEv2 packets")                                \
    COUNTER(not_roce, "frames that are not RoCEv2 (ARP, TCP, other UDP): not an error")            \
    COUNTER(icrc_checked, "RoCEv2 ICRCs computed")                                                 \
    COUNTER(icrc_errors, "RoCEv2 packets whose ICRC was wrong")                                    \
    COUNTER(truncated_records, "capture records cut short by the snap length or the file end")     \
    ARRAY(verdicts, "frames by parser verdict (ok, not_roce, and why malformed RoCE was refused)", \
          "verdict", ::weft::roce::kVerdictCount, ::weft::flow::verdict_label)

struct Totals {
    WEFT_COUNTER_LIST(Totals, WEFT_FLOW_TOTALS)
    // Frames with a malformed verdict (every verdict but ok and not_roce).
    uint64_t malformed() const {
        uint64_t n = 0;
        for (size_t v = 0; v < verdicts.size(); ++v)
            if (roce::is_malformed(roce::Verdict(v))) n += verdicts[v];
        return n;
    }
};

}  // namespace weft::flow

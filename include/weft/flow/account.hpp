// One frame's way into the counters and the flow table: parse, verify the ICRC, count by
// verdict, touch the flow. The one definition used by the offline analyzer and by every
// weftd worker, so `weftd --dump-flows` and `weftctl analyze` cannot drift apart.
#pragma once

#include <cstdint>
#include <span>

#include "weft/flow/table.hpp"
#include "weft/flow/totals.hpp"
#include "weft/roce/icrc.hpp"
#include "weft/roce/packet.hpp"

namespace weft::flow {

struct FrameOutcome {
    roce::Verdict verdict;
    bool icrc_ok;  // true when not checked
    // The packet's flow (RoCE only): its record index (kNoIndex if none), whether this
    // packet created it, and when it was last seen before (Table::Touched).
    Table::Touched flow{};
};

inline FrameOutcome account_frame(std::span<const uint8_t> frame, uint32_t wire_len,
                                  uint64_t timestamp_ns, bool verify_icrc, Totals& t, Table& table,
                                  roce::Packet& pkt) {
    ++t.frames;
    t.bytes += wire_len;
    roce::Verdict v = roce::parse(frame, pkt);
    ++t.verdicts[size_t(v)];
    bool icrc_ok = true;
    if (v == roce::Verdict::NotRoce) {
        ++t.not_roce;
    } else if (v == roce::Verdict::Ok) {
        ++t.roce_packets;
        t.roce_bytes += wire_len;
        if (verify_icrc) {
            ++t.icrc_checked;
            icrc_ok = roce::icrc_valid(pkt);
            if (!icrc_ok) ++t.icrc_errors;
        }
        return {v, icrc_ok, table.touch(pkt, wire_len, timestamp_ns, icrc_ok)};
    }
    return {v, icrc_ok};
}

}  // namespace weft::flow

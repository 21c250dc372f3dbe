// A worker's counters, one list per stage (telemetry/counters.hpp): the struct each stage
// increments, and — generated from the same lists — the sums across workers, the JSON of
// `weftctl status` / `--dump-flows`, the text on stderr and the Prometheus series. Each
// worker keeps its own and publishes a copy about every millisecond (telemetry.hpp).
#pragma once

#include <array>
#include <cstdint>
#include <string_view>
#include <tuple>

#include "weft/dataplane/firewall.hpp"
#include "weft/flow/table.hpp"
#include "weft/flow/totals.hpp"
#include "weft/telemetry/counters.hpp"

namespace weft::dataplane {

inline constexpr size_t kMaxPorts = 16;

#define WEFT_RX_COUNTERS(COUNTER, ARRAY)                                                      \
    COUNTER(multi_segment, "frames in more than one mbuf segment (parsed across segments)")   \
    COUNTER(dispatched,                                                                       \
            "frames handed to their flow's worker (ports with fewer RX queues than workers)") \
    COUNTER(dropped_dispatch_full, "frames dropped: the owning worker's inbox was full")

#define WEFT_CRYPT_COUNTERS(COUNTER, ARRAY)                                                    \
    COUNTER(tx_packets, "frames sealed with PSP for a peer weftd")                             \
    COUNTER(tx_bytes, "bytes of the frames sealed, before encapsulation")                      \
    COUNTER(tx_error,                                                                          \
            "frames for a peer that could not be sealed (no room for the 40+ bytes, a frame "  \
            "in several segments, an IP header that contradicts itself): dropped, never sent " \
            "in the clear")                                                                    \
    COUNTER(tx_too_big,                                                                        \
            "frames that would exceed the fabric port's MTU once sealed: dropped, never "      \
            "fragmented (give hosts a smaller RoCE MTU)")                                      \
    COUNTER(key_rotations, "times this worker's senders moved to a new key generation")        \
    COUNTER(stale_events,                                                                      \
            "security associations this worker dropped because their master key was replaced " \
            "(went stale) at a rotation")                                                      \
    COUNTER(rx_packets, "PSP frames opened: authenticated and decrypted")                      \
    COUNTER(rx_bytes, "bytes of the frames opened, after decapsulation")                       \
    COUNTER(rx_auth_fail, "PSP frames whose ICV did not verify: dropped")                      \
    COUNTER(rx_bad,                                                                            \
            "PSP frames with lengths, a header or a version that cannot be right: dropped")    \
    COUNTER(rx_error,                                                                          \
            "PSP frames dropped for another reason: authenticated but not a packet Weft can "  \
            "deliver, or scattered over several buffers")                                      \
    COUNTER(rx_replay,                                                                         \
            "PSP frames with an IV already accepted or behind the replay window: "             \
            "dropped")                                                                         \
    COUNTER(rx_unknown_spi,                                                                    \
            "PSP frames from the fabric with no security association here: dropped, never "    \
            "forwarded")                                                                       \
    COUNTER(rx_plaintext_dropped,                                                              \
            "RoCE frames from the fabric in the clear from a host behind a PSP peer: dropped " \
            "(zero trust)")

#define WEFT_BALANCE_COUNTERS(COUNTER, ARRAY)                                                  \
    COUNTER(flowlets,                                                                          \
            "flowlets started (policy flowlet): a QP's first packet, or one after a "          \
            "gap longer than flowlet_gap_us")                                                  \
    COUNTER(path_changes, "flowlets that moved their QP to another path")                      \
    COUNTER(ports_rewritten, "RoCE frames whose UDP source port was rewritten (ICRC fixed)")   \
    COUNTER(sealed_ports_rewritten,                                                            \
            "PSP frames whose outer UDP source port was rewritten after sealing")              \
    COUNTER(multi_segment_kept,                                                                \
            "frames in several mbuf segments left on the RNIC's source port (the uplink "      \
            "still follows the path)")                                                         \
    COUNTER(retransmits_seen,                                                                  \
            "host requests whose PSN went backwards (resent): charged to their path")          \
    COUNTER(naks_charged,                                                                      \
            "NAK sequence errors from the fabric charged to the path their PSN left on")       \
    COUNTER(cnps_charged, "CNPs from the fabric charged to their QP's path (paired by ACKs)")  \
    COUNTER(feedback_unmatched,                                                                \
            "NAKs and CNPs from the fabric whose path is not known (PSN not seen or "          \
            "overwritten, QP not paired yet)")                                                 \
    COUNTER(sprayed, "host requests sprayed (policy spray, towards a reordering weftd)")       \
    COUNTER(dscp_marked, "RoCE frames given their class's DSCP ([balance.classes.NAME] dscp)") \
    COUNTER(offers_sent, "reorder offers this weftd broadcast on its uplinks")                 \
    COUNTER(offers_received, "reorder offers from weftds across the fabric (consumed)")        \
    COUNTER(offers_bad, "malformed weft frames (EtherType 0x88b5) from the fabric: dropped")

#define WEFT_REORDER_COUNTERS(COUNTER, ARRAY)                                                  \
    COUNTER(in_order, "RoCE requests from the fabric in PSN order: passed at once")            \
    COUNTER(starts,                                                                            \
            "new QPs whose first frames were held reorder_timeout_us to learn their first "    \
            "PSN, then released in order")                                                     \
    COUNTER(held, "requests ahead of a PSN gap: held")                                         \
    COUNTER(released_in_order, "held requests released once the gap before them filled")       \
    COUNTER(timeouts, "gaps given up on after reorder_timeout_us (the frames after released)") \
    COUNTER(released_on_timeout, "held requests released by a timeout")                        \
    COUNTER(overflows, "requests too far ahead for the buffer: what was held released first")  \
    COUNTER(released_on_overflow, "held requests released by an overflow")                     \
    COUNTER(behind,                                                                            \
            "requests behind the expected PSN (go-back-N, or a duplicate): passed, the "       \
            "QP's order restarts after them")                                                  \
    COUNTER(released_on_restart, "held requests released by such a restart")                   \
    COUNTER(no_slot, "requests ahead of a gap with every buffer taken: passed unheld")

#define WEFT_TX_COUNTERS(COUNTER, ARRAY)                                               \
    COUNTER(forwarded_roce, "RoCEv2 frames queued for transmission")                   \
    COUNTER(forwarded_other, "other frames queued for transmission, untouched")        \
    COUNTER(dropped_tx_full, "queued frames dropped: the TX queue refused them twice") \
    COUNTER(dropped_no_port, "frames whose path named no port (a policy's mistake): freed")

#define WEFT_PORT_COUNTERS(COUNTER, ARRAY)                 \
    COUNTER(rx_packets, "frames weftd took from the port") \
    COUNTER(tx_packets, "frames weftd sent on the port")

struct RxCounters {
    WEFT_COUNTER_LIST(RxCounters, WEFT_RX_COUNTERS)
};
struct BalanceCounters {
    WEFT_COUNTER_LIST(BalanceCounters, WEFT_BALANCE_COUNTERS)
};
struct ReorderStageCounters {
    WEFT_COUNTER_LIST(ReorderStageCounters, WEFT_REORDER_COUNTERS)
};
struct CryptCounters {
    WEFT_COUNTER_LIST(CryptCounters, WEFT_CRYPT_COUNTERS)
};
struct TxCounters {
    WEFT_COUNTER_LIST(TxCounters, WEFT_TX_COUNTERS)
};
struct PortCounters {
    WEFT_COUNTER_LIST(PortCounters, WEFT_PORT_COUNTERS)
};

struct WorkerStats {
    RxCounters rx;
    flow::Totals account;  // frames, bytes, verdicts, ICRC: as weftctl analyze counts them
    FirewallCounters firewall;
    BalanceCounters balance;
    CryptCounters crypt;
    ReorderStageCounters reorder;
    TxCounters tx;
    std::array<PortCounters, kMaxPorts> ports{};

    WorkerStats& operator+=(const WorkerStats& o);
};

// One stage's counters in a WorkerStats: its name (JSON key, text label), its Prometheus
// prefix, and the member.
template <class Counters>
struct StageCounters {
    std::string_view name;
    std::string_view prometheus_prefix;
    Counters WorkerStats::*member;
    bool passive;  // the stage runs in passive mode too (else its counters stay at zero)
};

// The stages' counters in pipeline order: the one list that sums, JSON, text and
// Prometheus walk (a new stage's counters are one more entry).
inline constexpr auto kStageCounters = std::make_tuple(
    StageCounters<RxCounters>{"rx", "weft_rx", &WorkerStats::rx, true},
    StageCounters<flow::Totals>{"account", "weft", &WorkerStats::account, true},
    StageCounters<FirewallCounters>{"firewall", "weft_firewall", &WorkerStats::firewall, false},
    StageCounters<BalanceCounters>{"balance", "weft_balance", &WorkerStats::balance, false},
    StageCounters<CryptCounters>{"crypt", "weft_crypt", &WorkerStats::crypt, false},
    StageCounters<ReorderStageCounters>{"reorder", "weft_reorder", &WorkerStats::reorder, false},
    StageCounters<TxCounters>{"tx", "weft_tx", &WorkerStats::tx, false});

// f(stage) for each entry of kStageCounters.
template <class F>
void for_each_stage(F&& f) {
    std::apply([&](const auto&... stage) { (f(stage), ...); }, kStageCounters);
}

inline WorkerStats& WorkerStats::operator+=(const WorkerStats& o) {
    for_each_stage([&](const auto& stage) { this->*stage.member += o.*stage.member; });
    for (size_t i = 0; i < ports.size(); ++i) ports[i] += o.ports[i];
    return *this;
}

// What a worker publishes for the control plane (telemetry.hpp): its counters, its
// table's, and the table's size, as of `tsc_ns`.
struct WorkerPublication {
    WorkerStats stats;
    flow::TableCounters table;
    uint64_t flows_live = 0;
    uint64_t extensions_live = 0;
    uint64_t tsc_ns = 0;
};

}  // namespace weft::dataplane

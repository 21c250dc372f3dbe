// A flow as reports see it: addresses resolved, carries folded into 64-bit counts, the
// reverse direction of its queue pair found. Built from a Table off the hot path.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <utility>
#include <vector>

#include "weft/flow/table.hpp"

namespace weft::flow {

// Which flow: one direction of one queue pair.
struct FlowId {
    roce::IpAddress src{};
    roce::IpAddress dst{};
    uint32_t dest_qp = 0;
};

struct FlowSummary {
    roce::IpAddress src{};
    roce::IpAddress dst{};
    uint32_t dest_qp = 0;
    std::vector<uint16_t> src_ports;  // in order of first appearance
    bool src_ports_truncated = false;
    uint64_t packets = 0;
    uint64_t wire_bytes = 0;
    uint64_t payload_bytes = 0;
    uint64_t first_ns = 0;
    uint64_t last_ns = 0;
    std::vector<std::pair<uint8_t, uint64_t>> opcodes;  // sorted by opcode
    bool opcodes_truncated = false;
    uint64_t psn_gaps = 0;
    uint64_t psn_duplicates = 0;
    uint64_t psn_out_of_order = 0;
    uint64_t acks = 0;
    std::array<uint64_t, roce::kAckKindCount> naks{};  // by AckKind; [Ack] stays 0
    uint64_t cnp = 0;
    uint64_t ecn_ce = 0;
    uint64_t icrc_errors = 0;
    uint64_t messages = 0;
    std::array<uint64_t, kSizeBuckets> message_sizes{};
    // PSN state, for pairing: one past the last request PSN / the last acknowledged PSN.
    std::optional<uint32_t> request_psn_next;
    std::optional<uint32_t> acknowledged_psn_next;
    // Filled by pair_flows(): index of the reverse direction, and READs still unanswered.
    std::optional<size_t> reverse;
    std::optional<int64_t> outstanding_reads;

    uint64_t opcode_count(uint8_t op) const;
    uint64_t nak_total() const;
};

FlowSummary summarize(const Table& table, const FlowRecord& record);
// The same from a record, its extension (or null) and its resolved host addresses.
FlowSummary summarize(const FlowRecord& record, const FlowExtension* extension,
                      const roce::IpAddress& src, const roce::IpAddress& dst);
std::vector<FlowSummary> summarize_all(const Table& table);

// Pairs the two directions of RC connections. RC packets carry only the destination QPN,
// so a flow A->B (dest QP b) is matched with a flow B->A (dest QP a) whose ACKs and READ
// responses acknowledge its request PSNs: the reverse flow's last acknowledged PSN lies
// within `window` of the forward flow's next request PSN (PSN spaces start at random 24-bit
// values, so a false match needs two sequences within `window` of each other). Each flow
// is paired at most once, closest PSN distance first. Windows above 2^23 - 1 are clamped.
void pair_flows(std::vector<FlowSummary>& flows, uint32_t window = 1u << 14);

// The same rule on what it reads of each flow: each flow's reverse (an index into
// `flows`), if any. For callers that keep summaries only as long as a report needs them.
struct PairKey {
    roce::IpAddress src{};
    roce::IpAddress dst{};
    std::optional<uint32_t> request_psn_next;
    std::optional<uint32_t> acknowledged_psn_next;
};
std::vector<std::optional<size_t>> pair_keys(const std::vector<PairKey>& flows,
                                             uint32_t window = 1u << 14);
// READ requests of `f` not yet answered by a last/only READ response in `reverse`.
int64_t outstanding_reads(const FlowSummary& f, const FlowSummary& reverse);

}  // namespace weft::flow

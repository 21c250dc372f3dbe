// Per-flow state. A flow is one direction of one queue pair: (source host, destination
// host, destination QPN). The record holds what every packet touches, in 112 bytes; the
// rare state (NAKs, PSN anomalies, CNPs, ECN marks, ICRC errors, a fifth opcode, a third
// source port, counter carries) lives in a FlowExtension taken from a bounded pool the
// first time a flow needs it. Healthy message-train flows never take one.
#pragma once

#include <array>
#include <cstdint>

#include "weft/roce/headers.hpp"

namespace weft::flow {

inline constexpr uint32_t kNoIndex = 0xffffffffu;

// Hosts are interned into ids of at most kHostIdBits bits (HostTable), so a key is one
// 64-bit word: source host, destination host, destination QPN (24 bits).
inline constexpr unsigned kHostIdBits = 20;
inline constexpr uint32_t kMaxHostIds = 1u << kHostIdBits;

struct FlowKey {
    uint64_t bits = 0;

    static FlowKey make(uint32_t src_host, uint32_t dst_host, uint32_t dest_qp) {
        return {uint64_t(src_host) << 44 | uint64_t(dst_host) << 24 | (dest_qp & 0xffffff)};
    }
    uint32_t src_host() const { return uint32_t(bits >> 44); }
    uint32_t dst_host() const { return uint32_t(bits >> 24) & (kMaxHostIds - 1); }
    uint32_t dest_qp() const { return uint32_t(bits) & 0xffffff; }
    friend bool operator==(const FlowKey&, const FlowKey&) = default;
};

// Message sizes in 8 buckets with power-of-four bounds from 256 B.
inline constexpr size_t kSizeBuckets = 8;
inline constexpr std::array<const char*, kSizeBuckets> kSizeBucketNames = {
    "lt_256", "lt_1k", "lt_4k", "lt_16k", "lt_64k", "lt_256k", "lt_1m", "ge_1m"};
inline unsigned size_bucket(uint64_t bytes) {
    if (bytes < 256) return 0;
    unsigned log2 = 63u - unsigned(__builtin_clzll(bytes));
    unsigned b = (log2 - 8) / 2 + 1;
    return b < kSizeBuckets ? b : kSizeBuckets - 1;
}

inline constexpr unsigned kInlineOpcodes = 4;
inline constexpr unsigned kSpillOpcodes = 12;
inline constexpr unsigned kExtraSports = 6;

// Bits of FlowRecord::state.
enum FlowState : uint16_t {
    kReqPsnValid = 1u << 0,     // req_psn_next holds a PSN
    kRespPsnValid = 1u << 1,    // resp_psn_next holds a PSN
    kInMessage = 1u << 2,       // a request message's First was seen and its Last not yet
    kInReadResponse = 1u << 3,  // a READ response's First was seen and its Last not yet
    kReadSizeInExt = 1u << 4,   // that READ response's bytes add up in the extension
    kLive = 1u << 15,           // the record holds a flow (not on the free list)
};

struct FlowRecord {
    FlowKey key;
    uint64_t packets;
    uint64_t wire_bytes;     // frame bytes as on the wire
    uint64_t payload_bytes;  // application bytes (pad excluded)
    uint64_t first_ns;
    uint64_t last_ns;
    uint32_t req_psn_next;       // next expected request PSN
    uint32_t resp_psn_next;      // one past the last PSN acknowledged or READ-responded
    uint32_t acks;               // AETH syndrome ACK on Acknowledge packets; carried likewise
    uint32_t msg_bytes;          // bytes of the message in progress (see FlowState)
    uint32_t ext;                // index into the extension pool, kNoIndex if none; free-list link
    uint16_t sport[2];           // first two distinct UDP source ports (0 = none yet)
    uint8_t op[kInlineOpcodes];  // opcodes counted inline; op_count[i] == 0 marks a free slot
    uint32_t op_count[kInlineOpcodes];  // a carry in the extension is worth 0xffffffff
    // Messages completed, by size: low 16 bits, carries in the extension. The message count
    // is their sum (no counter of its own: 4 bytes of every record saved).
    uint16_t size_hist[kSizeBuckets];
    uint16_t read_psn_slack;  // forward PSN jump a READ request allows (saturating)
    uint16_t state;           // FlowState bits
};
static_assert(sizeof(FlowRecord) == 112,
              "two cache lines with room; ~126 bytes a flow with slots, pool and hosts");

struct FlowExtension {
    std::array<uint32_t, roce::kAckKindCount> aeth{};  // index by AckKind; [Ack] unused
    uint32_t icrc_errors = 0;
    uint32_t psn_gaps = 0;
    uint32_t psn_duplicates = 0;
    uint32_t psn_out_of_order = 0;
    uint32_t gap_lo = 0, gap_hi = 0;  // last hole in the request PSN sequence [lo, hi)
    uint32_t cnp = 0;
    uint32_t ecn_ce = 0;
    uint32_t ack_carries = 0;
    // A flow can carry its sender's requests and, interleaved, its READ responses (the
    // sender is requester and responder on one RC connection): the READ response being
    // assembled then adds up here, the request in FlowRecord::msg_bytes.
    uint32_t read_msg_bytes = 0;
    std::array<uint32_t, kInlineOpcodes> op_carries{};
    std::array<uint32_t, kSizeBuckets> size_carries{};  // each is 2^16 messages
    std::array<uint8_t, kSpillOpcodes> spill_op{};
    std::array<uint64_t, kSpillOpcodes> spill_count{};
    std::array<uint16_t, kExtraSports> extra_sports{};
    uint8_t extra_sport_count = 0;
    bool sports_overflow = false;   // more distinct source ports than we keep
    bool opcodes_overflow = false;  // more distinct opcodes than we keep (counted in total)
    uint32_t next_free = kNoIndex;
};

}  // namespace weft::flow

// The flow table: per-flow counting of message trains, PSN anomalies, ACK/NAK classes,
// CNPs, ECN marks and ICRC errors; the bounded resources (flows, hosts, extensions) and
// their refusals; idle eviction with backward-shift deletion; and the pairing of the two
// directions of an RC connection.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <random>
#include <set>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "test_packets.hpp"
#include "weft/capture/pcap_file.hpp"
#include "weft/flow/side_array.hpp"
#include "weft/flow/summary.hpp"
#include "weft/flow/table.hpp"

namespace weft::flow {
namespace {

using roce::AckKind;
using roce::FrameSpec;
using test::flow_packet;
using test::touch;
namespace op = roce::opcode;

constexpr const char* A = "10.0.0.1";
constexpr const char* B = "10.0.0.2";
constexpr const char* C = "10.0.0.3";

TableConfig config(uint32_t max_flows = 1024) {
    TableConfig c;
    c.max_flows = max_flows;
    c.max_hosts = 64;
    return c;
}

FlowSummary summary(const Table& t, uint32_t index) {
    EXPECT_NE(index, kNoIndex);
    return summarize(t, t.record(index));
}

uint32_t find(const Table& t, const char* src, const char* dst, uint32_t qp) {
    return t.find(test::ip(src), test::ip(dst), qp);
}

using OpcodeCounts = std::vector<std::pair<uint8_t, uint64_t>>;

// ---- size buckets -------------------------------------------------------------------------

TEST(SizeBucket, PowerOfFourBoundsFrom256) {
    const std::pair<uint64_t, unsigned> cases[] = {
        {0, 0},      {1, 0},      {255, 0},     {256, 1},     {1023, 1},       {1024, 2},
        {4095, 2},   {4096, 3},   {16383, 3},   {16384, 4},   {65535, 4},      {65536, 5},
        {262143, 5}, {262144, 6}, {1048575, 6}, {1048576, 7}, {1ull << 32, 7}, {~0ull, 7},
    };
    for (auto [bytes, bucket] : cases) EXPECT_EQ(size_bucket(bytes), bucket) << bytes;
    EXPECT_STREQ(kSizeBucketNames[0], "lt_256");
    EXPECT_STREQ(kSizeBucketNames[7], "ge_1m");
}

// ---- message trains ---------------------------------------------------------------------------

TEST(FlowTable, WriteMessageTrainCountsOneMessageAndNoAnomalies) {
    Table t(config());
    std::vector<FrameSpec> train;
    FrameSpec first = flow_packet(A, B, 0x100, op::kRcWriteFirst, 1000, 1024);
    first.reth.dma_length = 5 * 1024;
    train.push_back(first);
    for (uint32_t i = 1; i <= 3; ++i)
        train.push_back(flow_packet(A, B, 0x100, op::kRcWriteMiddle, 1000 + i, 1024));
    train.push_back(flow_packet(A, B, 0x100, op::kRcWriteLast, 1004, 1024));
    uint64_t wire = 0, now = 100;
    uint32_t index = kNoIndex;
    for (const FrameSpec& s : train) {
        wire += test::build(s).size();
        const uint32_t i = touch(t, s, now += 10);
        if (index == kNoIndex) index = i;
        EXPECT_EQ(i, index);
    }
    EXPECT_EQ(t.size(), 1u);
    EXPECT_EQ(t.extensions_in_use(), 0u) << "a healthy train needs no extension";
    const FlowSummary s = summary(t, index);
    EXPECT_EQ(s.src, test::ip(A));
    EXPECT_EQ(s.dst, test::ip(B));
    EXPECT_EQ(s.dest_qp, 0x100u);
    EXPECT_EQ(s.packets, 5u);
    EXPECT_EQ(s.wire_bytes, wire);
    EXPECT_EQ(s.payload_bytes, 5u * 1024);
    EXPECT_EQ(s.first_ns, 110u);
    EXPECT_EQ(s.last_ns, 150u);
    EXPECT_EQ(s.messages, 1u);
    for (unsigned b = 0; b < kSizeBuckets; ++b)
        EXPECT_EQ(s.message_sizes[b], b == 3 ? 1u : 0u) << kSizeBucketNames[b];  // 5 KiB
    EXPECT_EQ(
        s.opcodes,
        (OpcodeCounts{{op::kRcWriteFirst, 1}, {op::kRcWriteMiddle, 3}, {op::kRcWriteLast, 1}}));
    EXPECT_EQ(s.opcode_count(op::kRcWriteMiddle), 3u);
    EXPECT_EQ(s.opcode_count(op::kRcSendOnly), 0u);
    EXPECT_EQ(s.psn_gaps, 0u);
    EXPECT_EQ(s.psn_duplicates, 0u);
    EXPECT_EQ(s.psn_out_of_order, 0u);
    EXPECT_EQ(s.src_ports, (std::vector<uint16_t>{49152}));
    EXPECT_EQ(s.request_psn_next, 1005u);
    EXPECT_FALSE(s.acknowledged_psn_next);
    EXPECT_EQ(s.acks, 0u);
    EXPECT_EQ(s.nak_total(), 0u);
}

TEST(FlowTable, SendOnlyAndReadRequestsAreOneMessageEach) {
    Table t(config());
    touch(t, flow_packet(A, B, 1, op::kRcSendOnly, 10, 100), 1);
    FrameSpec read = flow_packet(A, B, 1, op::kRcReadRequest, 11);
    read.reth.dma_length = 2 * 1024 * 1024;
    const uint32_t i = touch(t, read, 2);
    touch(t, flow_packet(A, B, 1, op::kRcFetchAdd, 12 + 8191), 3);
    const FlowSummary s = summary(t, i);
    EXPECT_EQ(s.messages, 3u);
    EXPECT_EQ(s.message_sizes[0], 2u);  // the SEND (100 B) and the FETCH ADD (8 B)
    EXPECT_EQ(s.message_sizes[7], 1u);  // the 2 MiB READ
    EXPECT_EQ(s.psn_gaps, 0u) << "a 2 MiB READ spans 8192 PSNs";
}

// ---- PSN tracking -------------------------------------------------------------------------------

TEST(FlowTable, PsnGapThenTheLatePacketIsOutOfOrder) {
    Table t(config());
    uint32_t i = kNoIndex;
    for (uint32_t psn : {100, 101, 103})
        i = touch(t, flow_packet(A, B, 7, op::kRcSendOnly, psn, 8), psn);
    FlowSummary s = summary(t, i);
    EXPECT_EQ(s.psn_gaps, 1u);
    EXPECT_EQ(s.psn_out_of_order, 0u);
    EXPECT_EQ(s.request_psn_next, 104u);

    touch(t, flow_packet(A, B, 7, op::kRcSendOnly, 102, 8), 200);
    s = summary(t, i);
    EXPECT_EQ(s.psn_gaps, 1u);
    EXPECT_EQ(s.psn_out_of_order, 1u);
    EXPECT_EQ(s.psn_duplicates, 0u);
    EXPECT_EQ(s.messages, 4u) << "a late packet is still a message";
    EXPECT_EQ(s.request_psn_next, 104u) << "a late packet does not move the high-water PSN";

    // The hole is filled: the same PSN again is a duplicate.
    touch(t, flow_packet(A, B, 7, op::kRcSendOnly, 102, 8), 300);
    s = summary(t, i);
    EXPECT_EQ(s.psn_out_of_order, 1u);
    EXPECT_EQ(s.psn_duplicates, 1u);
    EXPECT_EQ(s.messages, 4u);
}

TEST(FlowTable, LatePacketsOfAWiderHoleInAnyOrder) {
    Table t(config());
    uint32_t i = touch(t, flow_packet(A, B, 7, op::kRcSendOnly, 10, 8), 1);
    touch(t, flow_packet(A, B, 7, op::kRcSendOnly, 15, 8), 2);  // 11..14 missing
    for (uint32_t psn : {13, 11, 14, 12})
        touch(t, flow_packet(A, B, 7, op::kRcSendOnly, psn, 8), 3);
    const FlowSummary s = summary(t, i);
    EXPECT_EQ(s.psn_gaps, 1u);
    EXPECT_EQ(s.psn_out_of_order, 4u);
    EXPECT_EQ(s.psn_duplicates, 0u);
    EXPECT_EQ(s.messages, 6u);
}

TEST(FlowTable, RepeatedPsnIsADuplicateAndNotASecondMessage) {
    Table t(config());
    uint32_t i = kNoIndex;
    for (uint32_t psn : {5, 6, 6}) i = touch(t, flow_packet(A, B, 7, op::kRcSendOnly, psn, 8), psn);
    FlowSummary s = summary(t, i);
    EXPECT_EQ(s.packets, 3u);
    EXPECT_EQ(s.psn_duplicates, 1u);
    EXPECT_EQ(s.psn_gaps, 0u);
    EXPECT_EQ(s.messages, 2u);

    // A go-back-N retransmission of a two-packet WRITE completes it once.
    Table u(config());
    const std::pair<uint8_t, uint32_t> packets[] = {{op::kRcWriteFirst, 20},
                                                    {op::kRcWriteLast, 21},
                                                    {op::kRcWriteFirst, 20},
                                                    {op::kRcWriteLast, 21}};
    for (auto [code, psn] : packets) i = touch(u, flow_packet(A, B, 8, code, psn, 512), psn);
    s = summary(u, i);
    EXPECT_EQ(s.psn_duplicates, 2u);
    EXPECT_EQ(s.messages, 1u);
    EXPECT_EQ(s.message_sizes[2], 1u);  // 1 KiB
}

TEST(FlowTable, PsnWrapsAt24Bits) {
    Table t(config());
    uint32_t i = kNoIndex;
    for (uint32_t psn : {0xfffffeu, 0xffffffu, 0u, 1u})
        i = touch(t, flow_packet(A, B, 7, op::kRcSendOnly, psn, 8), 1);
    FlowSummary s = summary(t, i);
    EXPECT_EQ(s.psn_gaps, 0u);
    EXPECT_EQ(s.psn_duplicates, 0u);
    EXPECT_EQ(s.psn_out_of_order, 0u);
    EXPECT_EQ(s.request_psn_next, 2u);
    EXPECT_EQ(t.extensions_in_use(), 0u);

    // A hole across the wrap, and its late packet.
    Table u(config());
    i = touch(u, flow_packet(A, B, 7, op::kRcSendOnly, 0xfffffe, 8), 1);
    touch(u, flow_packet(A, B, 7, op::kRcSendOnly, 1, 8), 2);
    touch(u, flow_packet(A, B, 7, op::kRcSendOnly, 0xffffff, 8), 3);
    touch(u, flow_packet(A, B, 7, op::kRcSendOnly, 0, 8), 4);
    s = summary(u, i);
    EXPECT_EQ(s.psn_gaps, 1u);
    EXPECT_EQ(s.psn_out_of_order, 2u);
    EXPECT_EQ(s.psn_duplicates, 0u);
}

// PSNs a READ request of `dma_length` consumes: one per response packet at the smallest
// path MTU (256 B), so the next request may come up to ceil(len/256) PSNs later.
struct ReadCase {
    uint32_t dma_length;
    uint32_t next_offset;  // next request's PSN minus the READ's
    uint64_t gaps;
};

TEST(FlowTable, ReadRequestPsnSpanIsNotAGap) {
    const ReadCase cases[] = {
        {8192, 1, 0},         {8192, 8, 0}, {8192, 32, 0}, {8192, 33, 1},
        {8192, 40, 1},        {0, 1, 0},    {0, 2, 1},     {256, 1, 0},
        {256, 2, 1},          {257, 2, 0},  {257, 3, 1},   {1u << 24, 65536, 0},
        {1u << 24, 65537, 1},
    };
    for (const ReadCase& c : cases) {
        SCOPED_TRACE(testing::Message()
                     << "READ of " << c.dma_length << " bytes, next request +" << c.next_offset);
        Table t(config());
        const uint32_t p = 0x1000;
        touch(t, flow_packet(A, B, 7, op::kRcSendOnly, p - 1, 8), 1);
        FrameSpec read = flow_packet(A, B, 7, op::kRcReadRequest, p);
        read.reth.dma_length = c.dma_length;
        const uint32_t i = touch(t, read, 2);
        touch(t, flow_packet(A, B, 7, op::kRcSendOnly, (p + c.next_offset) & 0xffffff, 8), 3);
        const FlowSummary s = summary(t, i);
        EXPECT_EQ(s.psn_gaps, c.gaps);
        EXPECT_EQ(s.psn_duplicates, 0u);
    }
}

TEST(FlowTable, ReadSlackAppliesOnlyToTheNextRequest) {
    Table t(config());
    FrameSpec read = flow_packet(A, B, 7, op::kRcReadRequest, 500);
    read.reth.dma_length = 8192;  // PSNs 500..531
    const uint32_t i = touch(t, read, 1);
    touch(t, flow_packet(A, B, 7, op::kRcSendOnly, 532, 8), 2);  // in order after the READ
    touch(t, flow_packet(A, B, 7, op::kRcSendOnly, 534, 8), 3);  // 533 missing
    const FlowSummary s = summary(t, i);
    EXPECT_EQ(s.psn_gaps, 1u);
}

TEST(FlowTable, UnconnectedTransportsAreNotSequenceTracked) {
    Table t(config());
    uint32_t i = kNoIndex;
    for (uint32_t psn : {10, 500, 3, 3})
        i = touch(t, flow_packet(A, B, 7, op::kUdSendOnly, psn, 8), 1);
    const FlowSummary s = summary(t, i);
    EXPECT_EQ(s.psn_gaps + s.psn_duplicates + s.psn_out_of_order, 0u);
    EXPECT_EQ(s.messages, 4u);
    EXPECT_FALSE(s.request_psn_next);
}

// ---- responses
// ------------------------------------------------------------------------------------

TEST(FlowTable, AcksAndNaksAreCountedBySyndrome) {
    Table t(config());
    const std::pair<uint8_t, AckKind> syndromes[] = {
        {0x00, AckKind::Ack},
        {0x1f, AckKind::Ack},
        {0x05, AckKind::Ack},
        {0x20, AckKind::RnrNak},
        {0x3f, AckKind::RnrNak},
        {0x60, AckKind::NakPsnSequenceError},
        {0x61, AckKind::NakInvalidRequest},
        {0x62, AckKind::NakRemoteAccessError},
        {0x63, AckKind::NakRemoteOperationalError},
        {0x64, AckKind::NakInvalidRdRequest},
        {0x40, AckKind::Reserved},
    };
    uint32_t i = kNoIndex, psn = 300;
    std::array<uint64_t, roce::kAckKindCount> by_kind{};
    for (auto [syndrome, kind] : syndromes) {
        FrameSpec ack = flow_packet(B, A, 0x200, op::kRcAcknowledge, psn++);
        ack.aeth.syndrome = syndrome;
        i = touch(t, ack, psn);
        ++by_kind[size_t(kind)];
    }
    const FlowSummary s = summary(t, i);
    for (size_t k = 1; k < roce::kAckKindCount; ++k)
        EXPECT_EQ(s.naks[k], by_kind[k]) << roce::to_string(AckKind(k));
    EXPECT_EQ(s.acks, 3u);
    EXPECT_EQ(s.naks[size_t(AckKind::Ack)], 0u);
    EXPECT_EQ(s.naks[size_t(AckKind::RnrNak)], 2u);
    EXPECT_EQ(s.naks[size_t(AckKind::NakPsnSequenceError)], 1u);
    EXPECT_EQ(s.naks[size_t(AckKind::NakInvalidRequest)], 1u);
    EXPECT_EQ(s.naks[size_t(AckKind::NakRemoteAccessError)], 1u);
    EXPECT_EQ(s.naks[size_t(AckKind::NakRemoteOperationalError)], 1u);
    EXPECT_EQ(s.naks[size_t(AckKind::NakInvalidRdRequest)], 1u);
    EXPECT_EQ(s.naks[size_t(AckKind::Reserved)], 1u);
    EXPECT_EQ(s.nak_total(), 8u);
    EXPECT_EQ(s.messages, 0u);
    EXPECT_EQ(s.acknowledged_psn_next, psn);
    EXPECT_FALSE(s.request_psn_next);
    EXPECT_EQ(s.psn_gaps + s.psn_duplicates + s.psn_out_of_order, 0u);
    EXPECT_EQ(s.opcodes, (OpcodeCounts{{op::kRcAcknowledge, 11}}));
}

TEST(FlowTable, CoalescedAcksOnlyMoveForward) {
    Table t(config());
    const uint32_t i = touch(t, flow_packet(B, A, 0x200, op::kRcAcknowledge, 50), 1);
    touch(t, flow_packet(B, A, 0x200, op::kRcAcknowledge, 40), 2);  // stale
    EXPECT_EQ(summary(t, i).acknowledged_psn_next, 51u);
    touch(t, flow_packet(B, A, 0x200, op::kRcAtomicAcknowledge, 60), 3);
    EXPECT_EQ(summary(t, i).acknowledged_psn_next, 61u);
    EXPECT_EQ(summary(t, i).acks, 2u);
}

TEST(FlowTable, ReadResponsesAreMessagesWithTheirOwnSequence) {
    Table t(config());
    uint32_t i = touch(t, flow_packet(B, A, 0x300, op::kRcReadResponseFirst, 500, 1024), 1);
    touch(t, flow_packet(B, A, 0x300, op::kRcReadResponseMiddle, 501, 1024), 2);
    touch(t, flow_packet(B, A, 0x300, op::kRcReadResponseLast, 502, 100), 3);
    touch(t, flow_packet(B, A, 0x300, op::kRcReadResponseOnly, 503, 64), 4);
    FlowSummary s = summary(t, i);
    EXPECT_EQ(s.messages, 2u);
    EXPECT_EQ(s.message_sizes[2], 1u);  // 2148 B
    EXPECT_EQ(s.message_sizes[0], 1u);  // 64 B
    EXPECT_EQ(s.acknowledged_psn_next, 504u);
    EXPECT_EQ(s.psn_gaps + s.psn_duplicates, 0u);

    touch(t, flow_packet(B, A, 0x300, op::kRcReadResponseFirst, 600, 1000), 5);
    touch(t, flow_packet(B, A, 0x300, op::kRcReadResponseMiddle, 601, 1000), 6);
    touch(t, flow_packet(B, A, 0x300, op::kRcReadResponseMiddle, 603, 1000), 7);  // 602 lost
    touch(t, flow_packet(B, A, 0x300, op::kRcReadResponseMiddle, 603, 1000), 8);  // again
    touch(t, flow_packet(B, A, 0x300, op::kRcReadResponseLast, 604, 1000), 9);
    s = summary(t, i);
    EXPECT_EQ(s.psn_gaps, 1u);
    EXPECT_EQ(s.psn_duplicates, 1u);
    EXPECT_EQ(s.messages, 3u);
    // The duplicate's bytes are not part of the message: 4000 B (< 4 KiB), not 5000.
    EXPECT_EQ(s.message_sizes[2], 2u);
    EXPECT_EQ(s.message_sizes[3], 0u);
}

// ---- rare events
// ---------------------------------------------------------------------------------

TEST(FlowTable, CnpsAreCounted) {
    Table t(config());
    uint32_t i = kNoIndex;
    for (int k = 0; k < 3; ++k) i = touch(t, flow_packet(B, A, 0x400, op::kCnp, 0), k);
    const FlowSummary s = summary(t, i);
    EXPECT_EQ(s.cnp, 3u);
    EXPECT_EQ(s.packets, 3u);
    EXPECT_EQ(s.messages, 0u);
    EXPECT_EQ(s.opcodes, (OpcodeCounts{{op::kCnp, 3}}));
    EXPECT_FALSE(s.request_psn_next);
}

TEST(FlowTable, EcnCongestionExperiencedIsCounted) {
    Table t(config());
    uint32_t i = kNoIndex, psn = 10;
    for (uint8_t ecn : {2, 3, 0, 3, 1}) {
        FrameSpec s = flow_packet(A, B, 7, op::kRcSendOnly, psn++, 8);
        s.ecn = ecn;
        i = touch(t, s, 1);
    }
    EXPECT_EQ(summary(t, i).ecn_ce, 2u);
}

TEST(FlowTable, IcrcErrorsDoNotMoveSequenceOrMessages) {
    Table t(config());
    const uint32_t i = touch(t, flow_packet(A, B, 7, op::kRcSendOnly, 10, 8), 1);
    touch(t, flow_packet(A, B, 7, op::kRcSendOnly, 11, 8), 2, /*icrc_ok=*/false);
    touch(t, flow_packet(A, B, 7, op::kRcSendOnly, 11, 8), 3);           // the retransmission
    touch(t, flow_packet(A, B, 7, op::kRcSendOnly, 5000, 8), 4, false);  // corrupt PSN
    touch(t, flow_packet(A, B, 7, op::kRcWriteFirst, 12, 256), 5);
    touch(t, flow_packet(A, B, 7, op::kRcWriteLast, 13, 256), 6, false);  // corrupt LAST
    const FlowSummary s = summary(t, i);
    EXPECT_EQ(s.packets, 6u);
    EXPECT_EQ(s.icrc_errors, 3u);
    EXPECT_EQ(s.messages, 2u);
    EXPECT_EQ(s.psn_gaps, 0u);
    EXPECT_EQ(s.psn_duplicates, 0u);
    EXPECT_EQ(s.request_psn_next, 13u);
    EXPECT_EQ(s.last_ns, 6u);

    // A corrupt ACK is not an ACK.
    const uint32_t j = touch(t, flow_packet(B, A, 9, op::kRcAcknowledge, 10), 7, false);
    EXPECT_EQ(summary(t, j).acks, 0u);
    EXPECT_FALSE(summary(t, j).acknowledged_psn_next);
}

TEST(FlowTable, MoreThanFourOpcodesSpillAndAllCountsAreReported) {
    Table t(config());
    // 20 distinct RC opcodes 0x00..0x13, opcode k sent k+1 times.
    OpcodeCounts expected;
    uint32_t i = kNoIndex;
    uint64_t total = 0;
    for (uint8_t code = 0; code < 20; ++code) {
        const uint32_t payload = roce::opcode_info(code).payload ? 4 : 0;
        for (int n = 0; n <= code; ++n, ++total)
            i = touch(t, flow_packet(A, B, 7, code, 1000, payload), total);
        expected.emplace_back(code, code + 1);
    }
    const FlowSummary s = summary(t, i);
    EXPECT_EQ(s.packets, total);
    // 4 inline + 12 in the extension; the 17th..20th distinct opcodes are not kept.
    ASSERT_EQ(s.opcodes.size(), kInlineOpcodes + kSpillOpcodes);
    EXPECT_EQ(s.opcodes, OpcodeCounts(expected.begin(), expected.begin() + 16));
    EXPECT_TRUE(s.opcodes_truncated);
    EXPECT_EQ(t.counters().opcode_detail_overflow, 17u + 18 + 19 + 20);

    // Eight opcodes: all kept, nothing truncated.
    Table u(config());
    for (uint8_t code = 0; code < 8; ++code)
        for (int n = 0; n <= code; ++n) i = touch(u, flow_packet(A, B, 7, code, 1, 4), 1);
    const FlowSummary v = summary(u, i);
    EXPECT_EQ(v.opcodes, OpcodeCounts(expected.begin(), expected.begin() + 8));
    EXPECT_FALSE(v.opcodes_truncated);
    EXPECT_EQ(u.counters().opcode_detail_overflow, 0u);
}

TEST(FlowTable, SourcePortsInOrderOfFirstAppearance) {
    Table t(config());
    uint32_t i = kNoIndex, psn = 1;
    for (uint16_t port : {1000, 2000, 3000, 2000, 1000, 4000, 3000}) {
        FrameSpec s = flow_packet(A, B, 7, op::kRcSendOnly, psn++, 8);
        s.src_port = port;
        i = touch(t, s, psn);
    }
    FlowSummary s = summary(t, i);
    EXPECT_EQ(s.src_ports, (std::vector<uint16_t>{1000, 2000, 3000, 4000}));
    EXPECT_FALSE(s.src_ports_truncated);

    // 2 inline + 6 in the extension are kept; a ninth distinct port sets the flag.
    Table u(config());
    std::vector<uint16_t> ports;
    for (uint16_t k = 0; k < 10; ++k) {
        FrameSpec f = flow_packet(A, B, 7, op::kRcSendOnly, psn++, 8);
        f.src_port = uint16_t(50000 + k);
        if (k < 8) ports.push_back(f.src_port);
        i = touch(u, f, psn);
    }
    s = summary(u, i);
    EXPECT_EQ(s.src_ports, ports);
    EXPECT_TRUE(s.src_ports_truncated);
}

TEST(FlowTable, MessageSizeHistogramCarriesPast16Bits) {
    // The inline histogram keeps 16 bits per bucket; the extension holds the carries.
    Table t(config());
    const test::Bytes f = test::build(flow_packet(A, B, 7, op::kUdSendOnly, 1, 8));
    roce::Packet p;
    ASSERT_EQ(roce::parse(f, p), roce::Verdict::Ok);
    const uint32_t n = 65536 + 3;
    uint32_t i = kNoIndex;
    for (uint32_t k = 0; k < n; ++k) i = t.touch(p, uint32_t(f.size()), k).index;
    const FlowSummary s = summary(t, i);
    EXPECT_EQ(s.packets, n);
    EXPECT_EQ(s.messages, n);
    EXPECT_EQ(s.message_sizes[0], n);
    EXPECT_EQ(s.opcode_count(op::kUdSendOnly), n);
    EXPECT_EQ(s.wire_bytes, uint64_t(n) * f.size());
}

// Regression: one RC connection's B -> A packets carry both B's own requests and B's READ
// responses to A. A READ response train interleaved with a WRITE train from the same side
// once shared one message-in-progress byte count and corrupted both sizes. Expected: WRITE
// 3 x 256 B = 768 B (lt_1k) and READ response 2 x 4096 B = 8 KiB (lt_16k).
TEST(FlowTable, InterleavedReadResponsesDoNotMixWithRequestMessages) {
    Table t(config());
    uint32_t i = touch(t, flow_packet(B, A, 0xa, op::kRcWriteFirst, 500, 256), 1);
    touch(t, flow_packet(B, A, 0xa, op::kRcReadResponseFirst, 9000, 4096), 2);
    touch(t, flow_packet(B, A, 0xa, op::kRcWriteMiddle, 501, 256), 3);
    touch(t, flow_packet(B, A, 0xa, op::kRcWriteLast, 502, 256), 4);
    touch(t, flow_packet(B, A, 0xa, op::kRcReadResponseLast, 9001, 4096), 5);
    const FlowSummary s = summary(t, i);
    EXPECT_EQ(s.messages, 2u);
    EXPECT_EQ(s.message_sizes[1], 1u) << "the 768-byte WRITE";
    EXPECT_EQ(s.message_sizes[3], 1u) << "the 8 KiB READ response";
    EXPECT_EQ(s.psn_gaps + s.psn_duplicates + s.psn_out_of_order, 0u);
}

TEST(HostTable, InternsDenselyAndRefusesWhenFull) {
    HostTable h(3);
    EXPECT_EQ(h.capacity(), 3u);
    EXPECT_EQ(h.intern(test::ip(A)), 0u);
    EXPECT_EQ(h.intern(test::ip("fd00::1")), 1u);
    EXPECT_EQ(h.intern(test::ip(A)), 0u);
    EXPECT_EQ(h.intern(test::ip(B)), 2u);
    EXPECT_EQ(h.intern(test::ip(C)), kNoIndex);
    EXPECT_EQ(h.size(), 3u);
    EXPECT_EQ(h.find(test::ip("fd00::1")), 1u);
    EXPECT_EQ(h.find(test::ip(C)), kNoIndex);
    EXPECT_EQ(h.address(2), test::ip(B));
    EXPECT_GT(h.memory_bytes(), 0u);

    HostTable many(1000, 42);
    for (uint32_t k = 0; k < 1000; ++k)
        ASSERT_EQ(many.intern(roce::IpAddress::from_v4(0x0a000000u + k * 7919)), k);
    for (uint32_t k = 0; k < 1000; ++k)
        ASSERT_EQ(many.find(roce::IpAddress::from_v4(0x0a000000u + k * 7919)), k);
}

// ---- bounded resources ---------------------------------------------------------------------

TEST(FlowTable, RejectsImpossibleSizes) {
    TableConfig c = config();
    c.max_flows = 0;
    EXPECT_THROW(Table{c}, std::invalid_argument);
    c.max_flows = Table::kMaxFlowsLimit + 1;
    EXPECT_THROW(Table{c}, std::invalid_argument);
}

TEST(FlowTable, FullTableRefusesNewFlowsAndCountsThem) {
    Table t(config(4));
    for (uint32_t qp = 1; qp <= 4; ++qp)
        EXPECT_NE(touch(t, flow_packet(A, B, qp, op::kRcSendOnly, 1, 8), 1), kNoIndex);
    EXPECT_EQ(touch(t, flow_packet(A, B, 5, op::kRcSendOnly, 1, 8), 2), kNoIndex);
    EXPECT_EQ(touch(t, flow_packet(A, B, 5, op::kRcSendOnly, 2, 8), 3), kNoIndex);
    EXPECT_EQ(touch(t, flow_packet(B, A, 1, op::kRcAcknowledge, 1), 3), kNoIndex);
    EXPECT_EQ(t.counters().flows_refused_table_full, 3u);
    // Existing flows still count.
    const uint32_t i = touch(t, flow_packet(A, B, 1, op::kRcSendOnly, 2, 8), 4);
    ASSERT_NE(i, kNoIndex);
    EXPECT_EQ(t.record(i).packets, 2u);
    EXPECT_EQ(t.size(), 4u);
    EXPECT_EQ(t.counters().flows_created, 4u);
    EXPECT_EQ(t.counters().packets, 8u);
    EXPECT_EQ(find(t, A, B, 5), kNoIndex);
}

TEST(FlowTable, FullHostTableRefusesNewHosts) {
    TableConfig c = config();
    c.max_hosts = 2;
    Table t(c);
    EXPECT_NE(touch(t, flow_packet(A, B, 1, op::kRcSendOnly, 1, 8), 1), kNoIndex);
    EXPECT_EQ(touch(t, flow_packet(A, C, 1, op::kRcSendOnly, 1, 8), 2), kNoIndex);
    EXPECT_EQ(touch(t, flow_packet(C, A, 1, op::kRcSendOnly, 1, 8), 3), kNoIndex);
    EXPECT_NE(touch(t, flow_packet(B, A, 1, op::kRcAcknowledge, 1), 4), kNoIndex);
    EXPECT_EQ(t.counters().hosts_refused_table_full, 2u);
    EXPECT_EQ(t.size(), 2u);
    EXPECT_EQ(t.hosts().size(), 2u);
    EXPECT_EQ(find(t, A, C, 1), kNoIndex);
}

TEST(FlowTable, EmptyExtensionPoolLosesOnlyTheRareState) {
    TableConfig c = config();
    c.max_extensions = 1;
    Table t(c);
    FrameSpec ce = flow_packet(A, B, 1, op::kRcSendOnly, 1, 8);
    ce.ecn = 3;
    const uint32_t first = touch(t, ce, 1);
    ce.bth.dest_qp = 2;
    const uint32_t second = touch(t, ce, 2);
    EXPECT_EQ(t.extensions_in_use(), 1u);
    EXPECT_EQ(summary(t, first).ecn_ce, 1u);
    EXPECT_EQ(summary(t, second).ecn_ce, 0u);
    EXPECT_EQ(summary(t, second).packets, 1u);
    EXPECT_EQ(t.counters().extension_refused, 1u);
}

TEST(FlowTable, FindByAddressesAndKey) {
    Table t(config());
    const uint32_t i = touch(t, flow_packet(A, B, 0x11, op::kRcSendOnly, 1, 8), 1);
    EXPECT_EQ(find(t, A, B, 0x11), i);
    EXPECT_EQ(find(t, A, B, 0x1000011), i) << "the QPN is 24 bits";
    EXPECT_EQ(find(t, B, A, 0x11), kNoIndex);
    EXPECT_EQ(find(t, A, B, 0x12), kNoIndex);
    EXPECT_EQ(find(t, A, C, 0x11), kNoIndex);
    EXPECT_EQ(t.find(t.record(i).key), i);
    EXPECT_GT(t.memory_bytes(), 0u);
}

// ---- eviction ---------------------------------------------------------------------------------

TEST(FlowTable, EvictIdleRemovesOnlyIdleFlows) {
    TableConfig c = config();
    c.idle_timeout_ns = 1000;
    Table t(c);
    touch(t, flow_packet(A, B, 1, op::kRcSendOnly, 1, 8), 0);
    touch(t, flow_packet(A, B, 2, op::kRcSendOnly, 1, 8), 0);
    touch(t, flow_packet(A, B, 3, op::kRcSendOnly, 1, 8), 5000);
    touch(t, flow_packet(A, B, 2, op::kRcSendOnly, 2, 8), 4500);
    EXPECT_EQ(t.evict_idle(5200, 100), 1u);
    EXPECT_EQ(t.counters().flows_evicted_idle, 1u);
    EXPECT_EQ(t.size(), 2u);
    EXPECT_EQ(find(t, A, B, 1), kNoIndex);
    EXPECT_NE(find(t, A, B, 2), kNoIndex);
    EXPECT_NE(find(t, A, B, 3), kNoIndex);
    size_t live = 0;
    t.for_each([&](uint32_t, const FlowRecord& r) {
        ++live;
        EXPECT_NE(r.key.dest_qp(), 1u);
    });
    EXPECT_EQ(live, 2u);

    // Without a timeout nothing ever expires.
    Table u(config());
    touch(u, flow_packet(A, B, 1, op::kRcSendOnly, 1, 8), 0);
    EXPECT_EQ(u.evict_idle(~0ull, 100), 0u);
    EXPECT_EQ(u.size(), 1u);
}

TEST(FlowTable, EvictIdleScansIncrementally) {
    TableConfig c = config();
    c.idle_timeout_ns = 10;
    Table t(c);
    for (uint32_t qp = 1; qp <= 6; ++qp) touch(t, flow_packet(A, B, qp, op::kRcSendOnly, 1, 8), 0);
    size_t removed = 0;
    for (int call = 0; call < 3; ++call) {
        const size_t n = t.evict_idle(100, 2);
        EXPECT_LE(n, 2u);
        removed += n;
    }
    EXPECT_EQ(removed, 6u) << "three calls of two records each cover all six";
    EXPECT_EQ(t.size(), 0u);
}

// Many flows in a small slot array (so probe sequences collide and wrap around), a random
// subset evicted, the survivors must all still be found: this exercises backward-shift
// deletion, where a wrong move makes a survivor unreachable.
TEST(FlowTable, EvictionKeepsEveryRemainingFlowReachable) {
    std::mt19937_64 rng(99);
    for (int trial = 0; trial < 300; ++trial) {
        TableConfig c;
        c.max_flows = 32;  // 64 slots: half full when the table is
        c.max_hosts = 8;
        c.idle_timeout_ns = 100;
        c.seed = rng();
        Table t(c);
        std::set<uint32_t> qps;
        while (qps.size() < 32) qps.insert(uint32_t(rng() & 0xffffff));
        std::vector<uint32_t> keep, drop;
        for (uint32_t qp : qps) (rng() % 3 ? drop : keep).push_back(qp);
        for (uint32_t qp : qps)
            ASSERT_NE(touch(t, flow_packet(A, B, qp, op::kCnp, 0), 0), kNoIndex);
        for (uint32_t qp : keep) touch(t, flow_packet(A, B, qp, op::kCnp, 0), 1000);
        ASSERT_EQ(t.size(), 32u);
        ASSERT_EQ(t.evict_idle(1000, 32), drop.size());
        ASSERT_EQ(t.size(), keep.size());
        for (uint32_t qp : keep) {
            const uint32_t i = find(t, A, B, qp);
            ASSERT_NE(i, kNoIndex) << "trial " << trial << ": survivor " << qp << " lost";
            EXPECT_EQ(t.record(i).key.dest_qp(), qp);
            EXPECT_EQ(t.record(i).packets, 2u);
        }
        for (uint32_t qp : drop) ASSERT_EQ(find(t, A, B, qp), kNoIndex) << qp;

        // Refill with new flows into the freed records; every flow is still found exactly
        // once (touching a survivor again must not create a second record for it).
        std::vector<uint32_t> fresh;
        while (fresh.size() < drop.size()) {
            const uint32_t qp = uint32_t(rng() & 0xffffff);
            if (!qps.count(qp)) fresh.push_back(qp), qps.insert(qp);
        }
        for (uint32_t qp : fresh)
            ASSERT_NE(touch(t, flow_packet(A, B, qp, op::kCnp, 0), 2000), kNoIndex);
        const uint64_t created = t.counters().flows_created;
        for (uint32_t qp : keep) touch(t, flow_packet(A, B, qp, op::kCnp, 0), 3000);
        EXPECT_EQ(t.counters().flows_created, created);
        EXPECT_EQ(t.counters().flows_refused_table_full, 0u);
        EXPECT_EQ(t.size(), 32u);
        for (uint32_t qp : keep) EXPECT_EQ(t.record(find(t, A, B, qp)).packets, 3u) << qp;
        for (uint32_t qp : fresh) EXPECT_EQ(t.record(find(t, A, B, qp)).packets, 1u) << qp;
        if (HasFailure()) return;
    }
}

TEST(FlowTable, RecordsAndExtensionsAreReusedAfterEviction) {
    TableConfig c = config(4);
    c.idle_timeout_ns = 100;
    Table t(c);
    std::vector<uint32_t> old;
    for (uint32_t qp = 1; qp <= 4; ++qp) {
        FrameSpec s = flow_packet(A, B, qp, op::kRcSendOnly, 1, 8);
        s.ecn = 3;  // takes an extension
        old.push_back(touch(t, s, qp <= 2 ? 0 : 1000));
    }
    EXPECT_EQ(t.extensions_in_use(), 4u);
    EXPECT_EQ(t.evict_idle(1000, 4), 2u);
    EXPECT_EQ(t.extensions_in_use(), 2u);
    std::set<uint32_t> reused;
    for (uint32_t qp = 10; qp <= 11; ++qp) {
        const uint32_t i = touch(t, flow_packet(B, A, qp, op::kRcAcknowledge, 7), 2000);
        ASSERT_NE(i, kNoIndex);
        reused.insert(i);
        const FlowSummary s = summary(t, i);
        EXPECT_EQ(s.src, test::ip(B)) << "a fresh record, not the evicted flow's";
        EXPECT_EQ(s.packets, 1u);
        EXPECT_EQ(s.ecn_ce, 0u);
        EXPECT_EQ(s.opcodes, (OpcodeCounts{{op::kRcAcknowledge, 1}}));
        EXPECT_EQ(s.first_ns, 2000u);
        EXPECT_EQ(t.extension(t.record(i)), nullptr);
    }
    EXPECT_EQ(reused, (std::set<uint32_t>{old[0], old[1]}));
    EXPECT_EQ(t.counters().flows_refused_table_full, 0u);
    EXPECT_EQ(touch(t, flow_packet(B, A, 12, op::kRcAcknowledge, 7), 2000), kNoIndex);

    // The freed extensions serve the new flows.
    FrameSpec ce = flow_packet(B, A, 10, op::kRcAcknowledge, 8);
    ce.ecn = 3;
    touch(t, ce, 2001);
    EXPECT_EQ(t.extensions_in_use(), 3u);
    EXPECT_EQ(t.counters().extension_refused, 0u);
}

// ---- pairing the two directions of a connection -----------------------------------------------

size_t index_of(const std::vector<FlowSummary>& flows, const char* src, const char* dst,
                uint32_t qp) {
    for (size_t i = 0; i < flows.size(); ++i)
        if (flows[i].src == test::ip(src) && flows[i].dst == test::ip(dst) &&
            flows[i].dest_qp == qp)
            return i;
    ADD_FAILURE() << "no flow " << src << " -> " << dst << " qp " << qp;
    return 0;
}

TEST(PairFlows, RequesterAndResponderArePairedAndAFarFlowIsNot) {
    Table t(config());
    for (uint32_t psn = 1000; psn < 1010; ++psn)
        touch(t, flow_packet(A, B, 0xb, op::kRcSendOnly, psn, 64), psn);
    touch(t, flow_packet(B, A, 0xa, op::kRcAcknowledge, 1004), 2000);
    touch(t, flow_packet(B, A, 0xa, op::kRcAcknowledge, 1009), 2001);
    touch(t, flow_packet(B, A, 0xc, op::kRcAcknowledge, 9000000), 2002);  // another QP
    const std::vector<FlowSummary> flows = summarize_all(t);
    ASSERT_EQ(flows.size(), 3u);
    const size_t req = index_of(flows, A, B, 0xb), rsp = index_of(flows, B, A, 0xa),
                 far = index_of(flows, B, A, 0xc);
    EXPECT_EQ(flows[req].reverse, rsp);
    EXPECT_EQ(flows[rsp].reverse, req);
    EXPECT_FALSE(flows[far].reverse);
    EXPECT_FALSE(flows[far].outstanding_reads);
    EXPECT_EQ(flows[req].outstanding_reads, 0);
}

TEST(PairFlows, OutstandingReadsAreRequestsMinusLastAndOnlyResponses) {
    Table t(config());
    for (uint32_t psn : {2000, 2004, 2008}) {
        FrameSpec read = flow_packet(A, B, 0xb, op::kRcReadRequest, psn);
        read.reth.dma_length = 1024;  // 4 response packets
        touch(t, read, psn);
    }
    touch(t, flow_packet(B, A, 0xa, op::kRcReadResponseFirst, 2000, 256), 3000);
    touch(t, flow_packet(B, A, 0xa, op::kRcReadResponseMiddle, 2001, 256), 3001);
    touch(t, flow_packet(B, A, 0xa, op::kRcReadResponseMiddle, 2002, 256), 3002);
    touch(t, flow_packet(B, A, 0xa, op::kRcReadResponseLast, 2003, 256), 3003);
    touch(t, flow_packet(B, A, 0xa, op::kRcReadResponseOnly, 2004, 256), 3004);
    const std::vector<FlowSummary> flows = summarize_all(t);
    const size_t req = index_of(flows, A, B, 0xb), rsp = index_of(flows, B, A, 0xa);
    ASSERT_EQ(flows[req].reverse, rsp);
    EXPECT_EQ(flows[req].outstanding_reads, 1) << "3 READs, 2 answered";
    EXPECT_EQ(flows[rsp].outstanding_reads, 0);
    EXPECT_EQ(flows[req].psn_gaps, 0u);
}

FlowSummary hand_flow(const char* src, const char* dst, uint32_t qp,
                      std::optional<uint32_t> request_next, std::optional<uint32_t> acked_next) {
    FlowSummary f;
    f.src = test::ip(src);
    f.dst = test::ip(dst);
    f.dest_qp = qp;
    f.request_psn_next = request_next;
    f.acknowledged_psn_next = acked_next;
    return f;
}

TEST(PairFlows, WindowIsInclusiveAndWrapsAt24Bits) {
    std::vector<FlowSummary> flows = {hand_flow(A, B, 1, 5, std::nullopt),
                                      hand_flow(B, A, 2, std::nullopt, 0xfffffb)};  // 10 behind
    pair_flows(flows, 10);
    EXPECT_EQ(flows[0].reverse, 1u);
    EXPECT_EQ(flows[1].reverse, 0u);

    flows = {hand_flow(A, B, 1, 5, std::nullopt), hand_flow(B, A, 2, std::nullopt, 0xfffffa)};
    pair_flows(flows, 10);  // 11 behind
    EXPECT_FALSE(flows[0].reverse);
    EXPECT_FALSE(flows[1].reverse);

    flows = {hand_flow(A, B, 1, 0xfffffa, std::nullopt), hand_flow(B, A, 2, std::nullopt, 4)};
    pair_flows(flows, 10);  // 10 ahead, across the wrap
    EXPECT_EQ(flows[0].reverse, 1u);
}

TEST(PairFlows, ClosestCandidateWinsAndEachFlowPairsOnce) {
    std::vector<FlowSummary> flows = {
        hand_flow(A, B, 1, 1000, std::nullopt), hand_flow(A, B, 2, 1003, std::nullopt),
        hand_flow(B, A, 3, std::nullopt, 1002),  // 1 from flow 1, 2 from flow 0
        hand_flow(B, A, 4, std::nullopt, 990),   // 10 from flow 0
    };
    pair_flows(flows, 100);
    EXPECT_EQ(flows[1].reverse, 2u);
    EXPECT_EQ(flows[2].reverse, 1u);
    EXPECT_EQ(flows[0].reverse, 3u);
    EXPECT_EQ(flows[3].reverse, 0u);
}

// Regression: pair_flows() searches [next - window, next + window] modulo 2^24; windows
// of 2^23 or more once wrapped onto themselves and missed exact matches. They are now
// clamped to 2^23 - 1, the largest distance in a 24-bit PSN space.
TEST(PairFlows, WindowsOfHalfThePsnSpaceOrMoreStillFindCloseFlows) {
    for (uint32_t window : {1u << 23, (1u << 24) - 1, 0xffffffffu}) {
        std::vector<FlowSummary> flows = {hand_flow(A, B, 1, 1000, std::nullopt),
                                          hand_flow(B, A, 2, std::nullopt, 1000)};
        pair_flows(flows, window);
        EXPECT_EQ(flows[0].reverse, 1u) << "window " << window;
        flows = {hand_flow(A, B, 1, 1000, std::nullopt), hand_flow(B, A, 2, std::nullopt, 990)};
        pair_flows(flows, window);
        EXPECT_EQ(flows[0].reverse, 1u) << "window " << window;
    }
}

TEST(PairFlows, LargestMeaningfulWindowFindsAnyDistance) {
    std::vector<FlowSummary> flows = {hand_flow(A, B, 1, 1000, std::nullopt),
                                      hand_flow(B, A, 2, std::nullopt, 1000 + (1u << 22))};
    pair_flows(flows, (1u << 23) - 1);
    EXPECT_EQ(flows[0].reverse, 1u);
}

TEST(PairFlows, NeedsARequesterAndTwoDistinctHosts) {
    std::vector<FlowSummary> flows = {hand_flow(A, B, 1, std::nullopt, 100),
                                      hand_flow(B, A, 2, std::nullopt, 100)};
    pair_flows(flows);
    EXPECT_FALSE(flows[0].reverse);
    EXPECT_FALSE(flows[1].reverse);

    flows = {hand_flow(A, A, 1, 100, std::nullopt), hand_flow(A, A, 2, std::nullopt, 100)};
    pair_flows(flows);
    EXPECT_FALSE(flows[0].reverse);
}

// ---- the real capture ---------------------------------------------------------------------

// rxe traffic between 10.99.0.1 and 10.99.0.2: bidirectional SENDs on QP 17, WRITEs from
// .2 on QP 18, READs from .2 on QP 19 (both ends number their QPs 17, 18, 19). On QP 17
// each side retransmitted one whole 4-packet SEND once (go-back-N: the same 4 PSNs twice,
// frames 174-177 from .2), so those flows show 4 duplicates and one SEND LAST that is not
// a new message.
TEST(FlowCapture, SoftRoceSampleGivesSixCleanPairedFlows) {
    const std::string path = std::string(WEFT_SAMPLE_CAPTURE);
    ASSERT_TRUE(std::filesystem::exists(path)) << path << " (test/fixtures, in the tree)";
    Table t(config());
    capture::PcapReader reader(path);
    capture::Record rec;
    roce::Packet p;
    while (reader.next(rec))
        if (roce::parse(rec.data, p) == roce::Verdict::Ok)
            t.touch(p, rec.wire_length, rec.timestamp_ns, roce::icrc_valid(p));
    EXPECT_EQ(t.counters().packets, 576u);
    const std::vector<FlowSummary> flows = summarize_all(t);
    ASSERT_EQ(flows.size(), 6u);
    const char* one = "10.99.0.1";
    const char* two = "10.99.0.2";
    for (uint32_t qp : {17u, 18u, 19u}) {
        const size_t fwd = index_of(flows, two, one, qp), rev = index_of(flows, one, two, qp);
        EXPECT_EQ(flows[fwd].reverse, rev) << "QP " << qp;
        EXPECT_EQ(flows[rev].reverse, fwd) << "QP " << qp;
    }
    uint64_t packets = 0;
    for (const FlowSummary& f : flows) {
        SCOPED_TRACE(testing::Message()
                     << f.src.to_string() << " -> " << f.dst.to_string() << " QP " << f.dest_qp);
        packets += f.packets;
        EXPECT_EQ(f.psn_gaps, 0u);
        const uint64_t retransmitted = f.dest_qp == 17 ? 1 : 0;
        EXPECT_EQ(f.psn_duplicates, 4 * retransmitted);
        EXPECT_EQ(f.psn_out_of_order, 0u);
        EXPECT_EQ(f.icrc_errors, 0u);
        EXPECT_EQ(f.nak_total(), 0u);
        EXPECT_EQ(f.acks, f.opcode_count(op::kRcAcknowledge));
        // One message per SEND LAST, WRITE LAST, READ request and READ response LAST, less
        // the retransmitted SEND.
        EXPECT_EQ(f.messages, f.opcode_count(op::kRcSendLast) + f.opcode_count(op::kRcWriteLast) +
                                  f.opcode_count(op::kRcReadRequest) +
                                  f.opcode_count(op::kRcReadResponseLast) - retransmitted);
        EXPECT_EQ(f.outstanding_reads, 0);
    }
    EXPECT_EQ(packets, 576u);
    const FlowSummary& writes = flows[index_of(flows, two, one, 18)];
    EXPECT_EQ(writes.messages, 20u);
    EXPECT_EQ(flows[index_of(flows, one, two, 18)].acks, 20u);
    EXPECT_EQ(flows[index_of(flows, two, one, 19)].opcode_count(op::kRcReadRequest), 20u);
    const FlowSummary& sends = flows[index_of(flows, two, one, 17)];
    EXPECT_EQ(sends.opcode_count(op::kRcSendLast), 21u);
    EXPECT_EQ(sends.messages, 20u);
}

// A stage's per-flow state beside the table: an index reused by a new flow (after idle
// eviction) gives that flow a fresh entry, never the evicted flow's.
TEST(SideArray, AReusedFlowIndexStartsFromAFreshEntry) {
    TableConfig c = config();
    c.max_flows = 4;
    c.idle_timeout_ns = 100;
    Table t(c);
    struct Path {
        uint16_t uplink;
        uint64_t flowlet_start_ns;
    };
    SideArray<Path> paths(c.max_flows);
    roce::Packet p;
    const test::Bytes f = test::build(flow_packet(A, B, 7, op::kRcSendOnly, 1, 8));
    ASSERT_EQ(roce::parse(f, p), roce::Verdict::Ok);
    Table::Touched first = t.touch(p, uint32_t(f.size()), 10);
    ASSERT_TRUE(first.created);
    paths.at(first.index, first.created) = {3, 10};
    Table::Touched again = t.touch(p, uint32_t(f.size()), 20);
    EXPECT_FALSE(again.created);
    EXPECT_EQ(again.prev_last_ns, 10u);
    EXPECT_EQ(paths.at(again.index, again.created).uplink, 3);
    ASSERT_EQ(t.evict_idle(1000, 16), 1u);
    const test::Bytes g = test::build(flow_packet(A, B, 8, op::kRcSendOnly, 1, 8));
    roce::Packet q;
    ASSERT_EQ(roce::parse(g, q), roce::Verdict::Ok);
    Table::Touched other = t.touch(q, uint32_t(g.size()), 1001);
    ASSERT_TRUE(other.created);
    EXPECT_EQ(other.index, first.index) << "the freed record is reused";
    EXPECT_EQ(paths.at(other.index, other.created).uplink, 0) << "not the evicted flow's path";
}

}  // namespace
}  // namespace weft::flow

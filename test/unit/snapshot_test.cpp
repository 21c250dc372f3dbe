// Live flow snapshots: the bounded-step copier gives exactly the table's flows (as
// summarize_all does), whatever the step size, counts what does not fit, and keeps each
// copy meaningful after the table moves on; Published<T> round-trips a struct.
#include <gtest/gtest.h>

#include <memory>
#include <vector>

#include "test_packets.hpp"
#include "weft/dataplane/telemetry.hpp"
#include "weft/flow/snapshot.hpp"
#include "weft/flow/summary.hpp"

namespace weft::flow {
namespace {

using test::flow_packet;
using test::touch;
namespace op = roce::opcode;

std::unique_ptr<Table> filled(uint32_t flows) {
    TableConfig c;
    c.max_flows = 4096;
    c.max_hosts = 64;
    c.idle_timeout_ns = 1000;
    auto tp = std::make_unique<Table>(c);
    Table& t = *tp;
    for (uint32_t qp = 1; qp <= flows; ++qp) {
        touch(t, flow_packet("10.0.0.1", "10.0.0.2", qp, op::kRcSendOnly, 1, 64), qp);
        touch(t, flow_packet("10.0.0.2", "10.0.0.1", qp + 5000, op::kRcAcknowledge, 1, 0), qp);
        // a NAK gives some flows an extension record
        if (qp % 7 == 0) {
            roce::FrameSpec nak =
                flow_packet("10.0.0.2", "10.0.0.1", qp + 5000, op::kRcAcknowledge, 2, 0);
            nak.aeth.syndrome = roce::Aeth::syndrome_for(roce::AckKind::NakPsnSequenceError);
            touch(t, nak, qp);
        }
    }
    return tp;
}

std::vector<FlowSummary> copy_all(const Table& t, size_t capacity, uint32_t step, size_t& missed,
                                  int& steps) {
    std::vector<FlowCopy> buf(capacity);
    TableCopier c;
    c.start(buf);
    steps = 1;
    while (!c.step(t, step)) ++steps;
    missed = c.missed();
    buf.resize(c.copied());
    return summarize_copies(buf);
}

TEST(TableCopier, CopiesExactlyWhatSummarizeAllSees) {
    auto tp = filled(300);
    const Table& t = *tp;
    std::vector<FlowSummary> want = summarize_all(t);
    for (uint32_t step : {1u, 7u, 256u, 100000u}) {
        size_t missed = 0;
        int steps = 0;
        std::vector<FlowSummary> got = copy_all(t, 1024, step, missed, steps);
        pair_flows(got);
        ASSERT_EQ(got.size(), want.size());
        EXPECT_EQ(missed, 0u);
        EXPECT_EQ(steps, int((t.record_span() + step - 1) / step))
            << "each step visits at most `step` records";
        for (size_t i = 0; i < got.size(); ++i) {
            EXPECT_EQ(got[i].src, want[i].src);
            EXPECT_EQ(got[i].dest_qp, want[i].dest_qp);
            EXPECT_EQ(got[i].packets, want[i].packets);
            EXPECT_EQ(got[i].opcodes, want[i].opcodes);
            EXPECT_EQ(got[i].naks, want[i].naks);
            EXPECT_EQ(got[i].reverse, want[i].reverse);
        }
    }
}

TEST(TableCopier, CountsTheFlowsThatDoNotFit) {
    auto tp = filled(50);  // 100 flows
    const Table& t = *tp;
    size_t missed = 0;
    int steps = 0;
    std::vector<FlowSummary> got = copy_all(t, 30, 16, missed, steps);
    EXPECT_EQ(got.size(), 30u);
    EXPECT_EQ(missed, 70u);
}

TEST(TableCopier, CopiesStayValidAfterTheTableMovesOn) {
    auto tp = filled(20);
    Table& t = *tp;
    std::vector<FlowCopy> buf(64);
    TableCopier c;
    c.start(buf);
    while (!c.step(t, 5)) {
    }
    buf.resize(c.copied());
    // every flow expires, and new ones reuse the records and extensions
    t.evict_idle(1'000'000, 1u << 20);
    ASSERT_EQ(t.size(), 0u);
    touch(t, flow_packet("10.9.9.9", "10.8.8.8", 77, op::kRcSendOnly, 1, 64), 2'000'000);
    std::vector<FlowSummary> got = summarize_copies(buf);
    ASSERT_EQ(got.size(), 40u);
    size_t naks = 0;
    for (const FlowSummary& f : got) {
        EXPECT_TRUE(f.src.to_string() == "10.0.0.1" || f.src.to_string() == "10.0.0.2");
        naks += f.nak_total();
    }
    EXPECT_EQ(naks, 2u) << "qp 7 and 14 each had one NAK, kept in the copy's extension";
}

TEST(Published, RoundTripsAStruct) {
    struct Counters {
        uint64_t a, b;
        std::array<uint64_t, 5> c;
    };
    dataplane::Published<Counters> p;
    Counters zero = p.load();
    EXPECT_EQ(zero.a, 0u);
    p.store(Counters{1, 2, {3, 4, 5, 6, 7}});
    Counters got = p.load();
    EXPECT_EQ(got.a, 1u);
    EXPECT_EQ(got.b, 2u);
    EXPECT_EQ(got.c[4], 7u);
}

}  // namespace
}  // namespace weft::flow

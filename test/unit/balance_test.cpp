// The balancing policies on their own (DPDK-free): the path set's layout, and flowlet
// switching's one promise, that a QP never changes path inside a flowlet.
#include <gtest/gtest.h>

#include <map>
#include <random>
#include <set>

#include "weft/balance/congestion.hpp"
#include "weft/balance/flowlet.hpp"
#include "weft/balance/paths.hpp"

namespace {

using namespace weft;
using balance::FlowletCounters;
using balance::FlowletPolicy;
using balance::FlowletState;
using balance::PathSet;

roce::Packet qp(uint32_t dest_qp, uint8_t host = 1) {
    roce::Packet p;
    p.src = *roce::IpAddress::parse("10.0.0." + std::to_string(host));
    p.dst = *roce::IpAddress::parse("10.0.1.1");
    p.src_port = 0xC000 | dest_qp;
    p.dst_port = 4791;
    p.bth.dest_qp = dest_qp;
    return p;
}

TEST(PathSet, UplinksAlternateFirstThenSourcePorts) {
    const PathSet paths(2, 3, 0xC100);
    ASSERT_EQ(paths.size(), 6u);
    std::set<std::pair<uint16_t, uint32_t>> seen;
    for (uint32_t i = 0; i < 6; ++i) {
        const balance::PathChoice c = paths.path(i);
        EXPECT_EQ(c.uplink, i % 2);
        EXPECT_EQ(c.source_port, 0xC100u + i / 2);
        seen.insert({c.uplink, c.source_port});
    }
    EXPECT_EQ(seen.size(), 6u);                                       // every path distinct
    EXPECT_EQ(paths.path(6).source_port, paths.path(0).source_port);  // indices wrap
}

TEST(PathSet, NoSourcePortsMeansOnePathPerUplinkKeepingTheRnicsPort) {
    const PathSet paths(3, 0);
    ASSERT_EQ(paths.size(), 3u);
    for (uint32_t i = 0; i < 3; ++i) {
        EXPECT_EQ(paths.path(i).uplink, i);
        EXPECT_EQ(paths.path(i).source_port, balance::kKeepSourcePort);
    }
}

TEST(Flowlet, AQpNeverChangesPathInsideAFlowletAndMayBetweenThem) {
    const uint64_t gap = 50'000;  // 50 us
    const FlowletPolicy policy(PathSet(2, 4), gap);
    std::mt19937_64 rng(7);
    std::uniform_int_distribution<uint64_t> close(1, gap), far(gap + 1, 20 * gap);
    std::map<uint32_t, FlowletState> state;
    std::map<uint32_t, uint64_t> last;
    FlowletCounters counters;
    uint64_t now = 1'000'000, starts = 0, changes_seen = 0;
    for (int i = 0; i < 200'000; ++i) {
        const uint32_t q = uint32_t(rng() % 8);
        const bool quiet = rng() % 50 == 0;
        now += quiet ? far(rng) : close(rng) / 8;
        const uint64_t prev = last[q];
        FlowletState& st = state[q];
        const uint32_t before = st.path, flowlets_before = st.flowlets;
        const balance::PathChoice c = policy.choose(qp(q), st, prev, now, counters);
        const bool new_flowlet = prev == 0 || now - prev > gap;
        if (new_flowlet) {
            ++starts;
            EXPECT_EQ(st.flowlets, flowlets_before + 1);
            if (flowlets_before && st.path != before) ++changes_seen;
        } else {
            ASSERT_EQ(st.path, before) << "a path changed inside a flowlet";
            ASSERT_EQ(st.flowlets, flowlets_before);
        }
        EXPECT_EQ(c.uplink, policy.paths().path(st.path).uplink);
        last[q] = now;
    }
    EXPECT_EQ(counters.flowlets, starts);
    EXPECT_EQ(counters.path_changes, changes_seen);
    EXPECT_GT(changes_seen, 100u);  // quiet gaps do move QPs
}

TEST(Flowlet, FlowletsSpreadOverEveryPath) {
    const FlowletPolicy policy(PathSet(2, 4), 1000);
    std::map<uint32_t, int> per_path;
    FlowletCounters counters;
    for (uint32_t q = 0; q < 4000; ++q) {
        FlowletState st;
        policy.choose(qp(q, uint8_t(1 + q % 7)), st, 0, 1, counters);
        ++per_path[st.path];
    }
    ASSERT_EQ(per_path.size(), 8u);
    for (auto& [path, n] : per_path) EXPECT_GT(n, 4000 / 8 / 2) << "path " << path;
}

TEST(Flowlet, AClockThatGoesBackIsNoGap) {
    const FlowletPolicy policy(PathSet(2, 4), 1000);
    FlowletState st;
    FlowletCounters counters;
    policy.choose(qp(1), st, 0, 10'000, counters);
    const uint32_t path = st.path;
    policy.choose(qp(1), st, 10'000, 5'000, counters);  // earlier than the last packet
    EXPECT_EQ(st.path, path);
    EXPECT_EQ(counters.flowlets, 1u);
}

}  // namespace

// ---- path signals and the congestion policy ----

using balance::CongestionPolicy;
using balance::CongestionSettings;
using balance::PathMonitor;
using balance::Signal;

CongestionSettings rounds_of(uint64_t round_ns, uint32_t congested, uint32_t clear) {
    CongestionSettings s;
    s.round_ns = round_ns;
    s.congested_rounds = congested;
    s.clear_rounds = clear;
    s.signal_permille = 10;
    return s;
}

// One round of traffic: `packets` on each path, `signals` NAKs on path `bad`.
void round_with(PathMonitor& m, uint64_t& now, uint32_t bad, uint64_t signals) {
    for (uint32_t p = 0; p < m.paths().size(); ++p) m.sent(0, p, 100, 100 * 1000);
    for (uint64_t i = 0; i < signals; ++i) m.signal(0, bad, Signal::nak);
    now += 1'000'000;
    ASSERT_TRUE(m.tick(now));
}

TEST(PathMonitor, CongestedOnlyAfterNRoundsInARowAndClearOnlyAfterMCleanOnes) {
    PathMonitor m(PathSet(2, 0), 1, rounds_of(1'000'000, 3, 4));
    uint64_t now = 1'000'000;
    ASSERT_TRUE(m.tick(now));  // the first round opens
    // one signal in 100 packets reaches 10 per mille; two congested rounds are not three
    round_with(m, now, 1, 1);
    round_with(m, now, 1, 1);
    EXPECT_FALSE(m.congested(1));
    round_with(m, now, 1, 0);  // a clean round breaks the streak
    round_with(m, now, 1, 1);
    round_with(m, now, 1, 1);
    EXPECT_FALSE(m.congested(1));
    round_with(m, now, 1, 1);
    EXPECT_TRUE(m.congested(1));
    EXPECT_FALSE(m.congested(0));
    // hysteresis: three clean rounds are not four
    for (int i = 0; i < 3; ++i) round_with(m, now, 1, 0);
    EXPECT_TRUE(m.congested(1));
    round_with(m, now, 1, 0);
    EXPECT_FALSE(m.congested(1));
    const auto r = m.readings();
    EXPECT_EQ(r[1].signals[size_t(Signal::nak)], 5u);
    EXPECT_EQ(r[1].times_congested, 1u);
    EXPECT_EQ(r[0].packets, 1000u);
    EXPECT_EQ(r[0].bytes, 1'000'000u);
}

TEST(PathMonitor, BelowTheThresholdARoundIsClean) {
    PathMonitor m(PathSet(2, 0), 1, rounds_of(1'000'000, 1, 1));
    uint64_t now = 1'000'000;
    ASSERT_TRUE(m.tick(now));
    for (uint32_t p = 0; p < 2; ++p) m.sent(0, p, 1000, 1000 * 100);
    for (int i = 0; i < 9; ++i) m.signal(0, 1, Signal::retransmit);  // 9 per mille < 10
    now += 1'000'000;
    ASSERT_TRUE(m.tick(now));
    EXPECT_FALSE(m.congested(1));
}

TEST(PathMonitor, ARoundClosesOncePerDeadlineAndSumsEveryWorker) {
    PathMonitor m(PathSet(1, 2), 3, rounds_of(1'000'000, 1, 1));
    EXPECT_TRUE(m.tick(5));
    EXPECT_FALSE(m.tick(6));  // not due
    for (uint32_t w = 0; w < 3; ++w) m.sent(w, 1, 1, 10);
    m.signal(2, 1, Signal::cnp);
    EXPECT_TRUE(m.tick(5 + 1'000'000));
    EXPECT_TRUE(m.congested(1));
    EXPECT_EQ(m.readings()[1].packets, 3u);
    EXPECT_EQ(m.rounds(), 2u);
}

TEST(PsnOwners, FindsThePathAPsnLeftOnAndNothingForOthers) {
    balance::PsnOwners owners(8);
    const auto a = *roce::IpAddress::parse("10.0.0.1"), b = *roce::IpAddress::parse("10.0.0.2");
    owners.record(a, b, 100, 3);
    uint32_t path = 99;
    EXPECT_TRUE(owners.find(a, b, 100, path));
    EXPECT_EQ(path, 3u);
    EXPECT_FALSE(owners.find(b, a, 100, path));  // the other direction
    EXPECT_FALSE(owners.find(a, b, 101, path));  // a PSN never sent
    owners.record(a, b, 0x1000100, 5);           // PSNs are 24 bits
    EXPECT_TRUE(owners.find(a, b, 0x100, path));
    EXPECT_EQ(path, 5u);
}

TEST(Congestion, AQpLeavesACongestedPathOnlyAtAGapAndNeverForACongestedOne) {
    PathMonitor m(PathSet(2, 0), 1, rounds_of(1'000'000, 1, 100));
    const uint64_t gap = 50'000;
    const CongestionPolicy policy(PathSet(2, 0), gap, &m, 0);
    uint64_t now = 1'000'000;
    ASSERT_TRUE(m.tick(now));
    // QPs start on some path; find one on each
    std::map<uint32_t, FlowletState> state;
    FlowletCounters counters;
    for (uint32_t q = 1; q <= 16; ++q) policy.choose(qp(q), state[q], 0, now, counters);
    std::set<uint32_t> used;
    for (auto& [q, s] : state) {
        used.insert(s.path);
        EXPECT_EQ(s.reason, balance::PathReason::least_loaded);
    }
    EXPECT_EQ(used.size(), 2u);  // two choices spread them
    // path 1 becomes congested
    for (int i = 0; i < 10; ++i) m.signal(0, 1, Signal::nak);
    now += 1'000'000;
    ASSERT_TRUE(m.tick(now));
    ASSERT_TRUE(m.congested(1));
    for (auto& [q, s] : state) {
        const uint32_t before = s.path;
        // inside the flowlet: no move, congested or not
        policy.choose(qp(q), s, now, now + gap / 2, counters);
        EXPECT_EQ(s.path, before);
        // after a gap: off the congested path, never onto it
        policy.choose(qp(q), s, now + gap / 2, now + 2 * gap, counters);
        EXPECT_EQ(s.path, 0u);
        if (before == 1) EXPECT_EQ(s.reason, balance::PathReason::moved);
    }
    const auto r = m.readings();
    EXPECT_GT(r[1].moved_out, 0u);
    EXPECT_EQ(r[0].moved_in, r[1].moved_out);
    EXPECT_EQ(counters.path_changes, r[1].moved_out);
}

TEST(Congestion, WithEveryPathCongestedAQpStays) {
    PathMonitor m(PathSet(2, 0), 1, rounds_of(1'000'000, 1, 100));
    const CongestionPolicy policy(PathSet(2, 0), 1000, &m, 0);
    uint64_t now = 1'000'000;
    ASSERT_TRUE(m.tick(now));
    FlowletState s;
    FlowletCounters counters;
    policy.choose(qp(7), s, 0, now, counters);
    const uint32_t start = s.path;
    for (uint32_t p = 0; p < 2; ++p) m.signal(0, p, Signal::retransmit);
    now += 1'000'000;
    ASSERT_TRUE(m.tick(now));
    policy.choose(qp(7), s, now, now + 10'000, counters);
    EXPECT_EQ(s.path, start);
    EXPECT_EQ(s.reason, balance::PathReason::stayed);
    EXPECT_EQ(counters.path_changes, 0u);
}

TEST(Congestion, APathWhoseCongestionJustClearedIsNotTakenForIdle) {
    // a slow path carries few packets: by packets alone it would look the least loaded
    PathMonitor m(PathSet(2, 0), 1, rounds_of(1'000'000, 1, 2));
    const CongestionPolicy policy(PathSet(2, 0), 1000, &m, 0);
    uint64_t now = 1'000'000;
    ASSERT_TRUE(m.tick(now));
    m.sent(0, 0, 1000, 1'000'000);  // path 0 busy and clean
    m.sent(0, 1, 10, 10'000);       // path 1 slow, losing
    for (int i = 0; i < 5; ++i) m.signal(0, 1, Signal::nak);
    now += 1'000'000;
    ASSERT_TRUE(m.tick(now));
    ASSERT_TRUE(m.congested(1));
    for (int r = 0; r < 2; ++r) {  // two clean rounds: cleared
        m.sent(0, 0, 1000, 1'000'000);
        now += 1'000'000;
        ASSERT_TRUE(m.tick(now));
    }
    ASSERT_FALSE(m.congested(1));
    ASSERT_GT(m.load(0), m.load(1));
    FlowletCounters counters;
    for (uint32_t q = 1; q <= 32; ++q) {
        FlowletState s;
        policy.choose(qp(q), s, 0, now, counters);
        EXPECT_EQ(s.path, 0u) << "QP " << q << " started on the path that was just congested";
    }
}

// The balancing policies on their own (DPDK-free): the path set's layout, and flowlet
// switching's one promise, that a QP never changes path inside a flowlet.
#include <gtest/gtest.h>

#include <map>
#include <random>
#include <set>

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

// The reorder buffer on its own (DPDK-free): PSN order out whatever the order in, within
// its depth; gaps released after the timeout; overflow; 24-bit wrap; the pool's bound.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <vector>

#include "weft/balance/reorder.hpp"

namespace {

using weft::balance::Reorderer;
using weft::balance::ReorderSettings;

// Frames are their PSN (as a pointer), so what comes out can be checked.
void* frame(uint32_t psn) {
    return reinterpret_cast<void*>(uintptr_t(psn) + 1);
}
uint32_t psn_of(void* f) {
    return uint32_t(reinterpret_cast<uintptr_t>(f) - 1);
}

struct Out {
    std::vector<uint32_t> psns;
    void operator()(void* f) { psns.push_back(psn_of(f)); }
};

// A QP's first frame is held until the timeout (its first PSN unknown till then): push it
// at 0 and let the start end, so the tests below begin with a QP in its stride.
void start(Reorderer& r, uint32_t flow, uint32_t psn, Out& out) {
    r.push(flow, true, psn, frame(psn), 0, out);
    r.expire(r.settings().timeout_ns + 1, out);
}

ReorderSettings settings(uint32_t depth, uint32_t flows, uint64_t timeout_ns) {
    ReorderSettings s;
    s.depth = depth;
    s.flows = flows;
    s.timeout_ns = timeout_ns;
    return s;
}

TEST(Reorder, ShuffledWithinTheDepthComesOutInPsnOrderAcrossThe24BitWrap) {
    Reorderer r(settings(64, 4, 1'000'000), 16);
    Out out;
    const uint32_t first = 0xffffff - 500;  // wraps after 500 frames
    start(r, 3, first, out);
    std::mt19937 rng(5);
    std::vector<uint32_t> psns;
    for (uint32_t i = 1; i <= 4000; ++i) psns.push_back((first + i) & 0xffffff);
    // shuffle within windows of 32: every frame is less than the depth ahead of the gap
    for (size_t i = 0; i < psns.size(); i += 32)
        std::shuffle(psns.begin() + long(i), psns.begin() + long(std::min(i + 32, psns.size())),
                     rng);
    for (uint32_t p : psns) r.push(3, false, p, frame(p), 10, out);
    ASSERT_EQ(out.psns.size(), 4001u);
    for (size_t i = 0; i < out.psns.size(); ++i)
        ASSERT_EQ(out.psns[i], (first + i) & 0xffffff) << i;
    EXPECT_EQ(r.frames_held(), 0u);
    EXPECT_EQ(r.flows_holding(), 0u);  // the slot went back to the pool
    EXPECT_GT(r.counters().held, 0u);
    EXPECT_EQ(r.counters().held, r.counters().released_in_order);
    EXPECT_EQ(r.counters().timeouts, 0u);
    EXPECT_EQ(r.counters().starts, 1u);
}

TEST(Reorder, ANewQpsFirstFramesAreHeldUntilItsFirstPsnIsKnown) {
    Reorderer r(settings(16, 4, 1000), 16);
    Out out;
    // sprayed: the second frame of a new QP overtakes the first
    r.push(5, true, 701, frame(701), 0, out);
    r.push(5, false, 700, frame(700), 10, out);
    r.push(5, false, 702, frame(702), 20, out);
    EXPECT_TRUE(out.psns.empty());
    r.expire(1001, out);
    EXPECT_EQ(out.psns, std::vector<uint32_t>({700, 701, 702}));
    EXPECT_EQ(r.counters().starts, 1u);
    r.push(5, false, 703, frame(703), 1100, out);  // in its stride now: passes at once
    EXPECT_EQ(out.psns.back(), 703u);
}

TEST(Reorder, AStartEndsEarlyWhenAFrameIsBeyondTheBuffer) {
    Reorderer r(settings(8, 4, 1'000'000), 16);
    Out out;
    r.push(6, true, 10, frame(10), 0, out);
    r.push(6, false, 11, frame(11), 0, out);
    r.push(6, false, 13, frame(13), 0, out);
    r.push(6, false, 19, frame(19), 0, out);               // 9 above the lowest, depth 8
    EXPECT_EQ(out.psns, std::vector<uint32_t>({10, 11}));  // 13 waits for 12; 19 is within 8 of 12
    r.push(6, false, 12, frame(12), 0, out);
    EXPECT_EQ(out.psns, std::vector<uint32_t>({10, 11, 12, 13}));
}

TEST(Reorder, AGapThatDoesNotFillIsReleasedAsIsAfterTheTimeout) {
    Reorderer r(settings(16, 4, 1000), 16);
    Out out;
    start(r, 1, 100, out);
    r.push(1, false, 102, frame(102), 5010, out);  // 101 lost
    r.push(1, false, 103, frame(103), 5020, out);
    EXPECT_EQ(out.psns, std::vector<uint32_t>({100}));
    EXPECT_EQ(r.frames_held(), 2u);
    r.expire(5900, out);  // not yet
    EXPECT_EQ(out.psns.size(), 1u);
    r.expire(6011, out);
    EXPECT_EQ(out.psns, std::vector<uint32_t>({100, 102, 103}));
    EXPECT_EQ(r.counters().timeouts, 1u);
    EXPECT_EQ(r.counters().released_on_timeout, 2u);
    // the QP now expects 104; the RNIC NAKed 101 and the sender goes back to it: 101 passes
    // and the order restarts after it, so the resent 102 and 103, sprayed out of order,
    // are put back in order
    r.push(1, false, 101, frame(101), 7000, out);
    r.push(1, false, 103, frame(103), 7000, out);
    r.push(1, false, 102, frame(102), 7000, out);
    r.push(1, false, 104, frame(104), 7000, out);
    EXPECT_EQ(out.psns, std::vector<uint32_t>({100, 102, 103, 101, 102, 103, 104}));
    EXPECT_EQ(r.counters().behind, 1u);
    EXPECT_EQ(r.counters().released_in_order, 2u);  // 100 at its start, then 103
}

TEST(Reorder, AFrameTooFarAheadReleasesEverythingHeldFirst) {
    Reorderer r(settings(8, 4, 1'000'000), 16);
    Out out;
    start(r, 2, 10, out);
    r.push(2, false, 13, frame(13), 0, out);
    r.push(2, false, 12, frame(12), 0, out);
    r.push(2, false, 30, frame(30), 0, out);  // 19 ahead of 11, depth 8
    EXPECT_EQ(out.psns, std::vector<uint32_t>({10, 12, 13, 30}));
    EXPECT_EQ(r.counters().overflows, 1u);
    EXPECT_EQ(r.counters().released_on_overflow, 2u);
    r.push(2, false, 31, frame(31), 0, out);
    EXPECT_EQ(out.psns.back(), 31u);
    EXPECT_EQ(r.frames_held(), 0u);
}

TEST(Reorder, WhenEveryBufferIsTakenFramesPassUnheldAndAreCounted) {
    Reorderer r(settings(8, 1, 1'000'000), 16);
    Out out;
    start(r, 1, 0, out);
    r.push(2, true, 50, frame(50), 0, out);  // its start takes the only buffer
    r.push(1, false, 2, frame(2), 0, out);   // ahead of a gap, none left: passes
    EXPECT_EQ(r.counters().no_slot, 1u);
    r.push(1, false, 1, frame(1), 0, out);
    EXPECT_EQ(out.psns, std::vector<uint32_t>({0, 2, 1}));
}

TEST(Reorder, ANewFlowInAReusedIndexStartsAfresh) {
    Reorderer r(settings(8, 2, 1'000), 4);
    Out out;
    start(r, 0, 100, out);
    start(r, 0, 7, out);  // index 0 now holds another QP: a start of its own
    r.push(0, false, 8, frame(8), 5000, out);
    EXPECT_EQ(out.psns, std::vector<uint32_t>({100, 7, 8}));
    EXPECT_EQ(r.counters().starts, 2u);
}

TEST(Reorder, ReleaseAllEmptiesEveryBuffer) {
    Reorderer r(settings(8, 4, 1'000'000), 16);
    Out out;
    for (uint32_t f = 0; f < 3; ++f) start(r, f, 0, out);
    for (uint32_t f = 0; f < 3; ++f) r.push(f, false, 2, frame(2), 0, out);
    EXPECT_EQ(r.frames_held(), 3u);
    r.release_all(out);
    EXPECT_EQ(r.frames_held(), 0u);
    EXPECT_EQ(out.psns.size(), 6u);
}

}  // namespace

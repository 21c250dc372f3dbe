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
void* frame(uint32_t psn) { return reinterpret_cast<void*>(uintptr_t(psn) + 1); }
uint32_t psn_of(void* f) { return uint32_t(reinterpret_cast<uintptr_t>(f) - 1); }

struct Out {
    std::vector<uint32_t> psns;
    void operator()(void* f) { psns.push_back(psn_of(f)); }
};

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
    r.push(3, true, first, frame(first), 0, out);
    std::mt19937 rng(5);
    std::vector<uint32_t> psns;
    for (uint32_t i = 1; i <= 4000; ++i) psns.push_back((first + i) & 0xffffff);
    // shuffle within windows of 32: every frame is less than the depth ahead of the gap
    for (size_t i = 0; i < psns.size(); i += 32)
        std::shuffle(psns.begin() + long(i), psns.begin() + long(std::min(i + 32, psns.size())), rng);
    for (uint32_t p : psns) r.push(3, false, p, frame(p), 10, out);
    ASSERT_EQ(out.psns.size(), 4001u);
    for (size_t i = 0; i < out.psns.size(); ++i) ASSERT_EQ(out.psns[i], (first + i) & 0xffffff) << i;
    EXPECT_EQ(r.frames_held(), 0u);
    EXPECT_EQ(r.flows_holding(), 0u);  // the slot went back to the pool
    EXPECT_GT(r.counters().held, 0u);
    EXPECT_EQ(r.counters().held, r.counters().released_in_order);
    EXPECT_EQ(r.counters().timeouts, 0u);
}

TEST(Reorder, AGapThatDoesNotFillIsReleasedAsIsAfterTheTimeout) {
    Reorderer r(settings(16, 4, 1000), 16);
    Out out;
    r.push(1, true, 100, frame(100), 0, out);
    r.push(1, false, 102, frame(102), 10, out);  // 101 lost
    r.push(1, false, 103, frame(103), 20, out);
    EXPECT_EQ(out.psns, std::vector<uint32_t>({100}));
    EXPECT_EQ(r.frames_held(), 2u);
    r.expire(900, out);  // not yet
    EXPECT_EQ(out.psns.size(), 1u);
    r.expire(1011, out);
    EXPECT_EQ(out.psns, std::vector<uint32_t>({100, 102, 103}));
    EXPECT_EQ(r.counters().timeouts, 1u);
    EXPECT_EQ(r.counters().released_on_timeout, 2u);
    // the QP now expects 104; the resent 101 is behind and passes at once
    r.push(1, false, 101, frame(101), 2000, out);
    r.push(1, false, 104, frame(104), 2000, out);
    EXPECT_EQ(out.psns, std::vector<uint32_t>({100, 102, 103, 101, 104}));
    EXPECT_EQ(r.counters().behind, 1u);
}

TEST(Reorder, AFrameTooFarAheadReleasesEverythingHeldFirst) {
    Reorderer r(settings(8, 4, 1'000'000), 16);
    Out out;
    r.push(2, true, 10, frame(10), 0, out);
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
    r.push(1, true, 0, frame(0), 0, out);
    r.push(2, true, 50, frame(50), 0, out);
    r.push(1, false, 2, frame(2), 0, out);   // takes the only buffer
    r.push(2, false, 52, frame(52), 0, out); // none left
    EXPECT_EQ(r.counters().no_slot, 1u);
    EXPECT_EQ(out.psns, std::vector<uint32_t>({0, 50, 52}));
    r.push(1, false, 1, frame(1), 0, out);
    EXPECT_EQ(out.psns, std::vector<uint32_t>({0, 50, 52, 1, 2}));
}

TEST(Reorder, ANewFlowInAReusedIndexStartsAfresh) {
    Reorderer r(settings(8, 2, 1'000'000), 4);
    Out out;
    r.push(0, true, 100, frame(100), 0, out);
    r.push(0, true, 7, frame(7), 0, out);  // index 0 now holds another QP
    r.push(0, false, 8, frame(8), 0, out);
    EXPECT_EQ(out.psns, std::vector<uint32_t>({100, 7, 8}));
    EXPECT_EQ(r.counters().held, 0u);
}

TEST(Reorder, ReleaseAllEmptiesEveryBuffer) {
    Reorderer r(settings(8, 4, 1'000'000), 16);
    Out out;
    for (uint32_t f = 0; f < 3; ++f) {
        r.push(f, true, 0, frame(0), 0, out);
        r.push(f, false, 2, frame(2), 0, out);
    }
    EXPECT_EQ(r.frames_held(), 3u);
    r.release_all(out);
    EXPECT_EQ(r.frames_held(), 0u);
    EXPECT_EQ(out.psns.size(), 6u);
}

}  // namespace

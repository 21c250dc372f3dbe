// weftd's software dispatch hash: a RoCE flow (src, dst, destination QP) has one owner
// whatever its UDP source port or VLAN tag position; other flows spread by 5-tuple;
// truncated and non-IP frames go to worker 0 without reading past their end.
#include <gtest/gtest.h>

#include <set>
#include <vector>

#include "test_packets.hpp"
#include "weft/dataplane/dispatch.hpp"
#include "weft/roce/builder.hpp"

namespace weft::dataplane {
namespace {

namespace op = roce::opcode;

std::vector<uint8_t> frame_of(const roce::FrameSpec& s) {
    return test::build(s);
}

TEST(DispatchHash, OneOwnerPerRoceFlow) {
    roce::FrameSpec a = test::flow_packet("10.0.0.1", "10.0.0.2", 0x1234, op::kRcSendOnly, 7, 64);
    roce::FrameSpec b = a;
    b.src_port = uint16_t(a.src_port + 1);
    b.bth.psn = 99;
    EXPECT_EQ(dispatch_hash(frame_of(a)), dispatch_hash(frame_of(b)))
        << "the UDP source port and PSN do not move a flow";
    roce::FrameSpec c = a;
    c.bth.dest_qp = 0x1235;
    EXPECT_NE(dispatch_hash(frame_of(a)), dispatch_hash(frame_of(c)));
    roce::FrameSpec d = a;
    std::swap(d.src, d.dst);
    EXPECT_NE(dispatch_hash(frame_of(a)), dispatch_hash(frame_of(d)))
        << "the two directions are two flows";
}

TEST(DispatchHash, SpreadsFlowsOverWorkers) {
    std::set<uint64_t> owners;
    for (uint32_t qp = 1; qp <= 64; ++qp) {
        auto f = frame_of(test::flow_packet("10.0.0.1", "10.0.0.2", qp, op::kRcSendOnly, 1, 0));
        owners.insert(dispatch_hash(f) % 4);
    }
    EXPECT_EQ(owners.size(), 4u) << "64 sequential QPs reach all 4 workers";
}

TEST(DispatchHash, TruncatedAndNonIpFramesGoToWorkerZero) {
    auto f = frame_of(test::flow_packet("10.0.0.1", "10.0.0.2", 5, op::kRcSendOnly, 1, 0));
    for (size_t len = 0; len < 14; ++len)
        EXPECT_EQ(dispatch_hash(std::span<const uint8_t>(f.data(), len)), 0u);
    std::vector<uint8_t> arp(60, 0);
    arp[12] = 0x08;
    arp[13] = 0x06;
    EXPECT_EQ(dispatch_hash(arp), 0u);
    // every prefix is safe to hash (ASan checks the reads)
    for (size_t len = 0; len <= f.size(); ++len)
        (void)dispatch_hash(std::span<const uint8_t>(f.data(), len));
}

}  // namespace
}  // namespace weft::dataplane

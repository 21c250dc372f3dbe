// weft-probe's detectors on synthetic events: each threshold, its window, one alert per
// key per window, the baseline and the job allowlist.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cstring>

#include "test_packets.hpp"
#include "weft/probe/detectors.hpp"

namespace weft::probe {
namespace {

constexpr uint64_t kMs = 1'000'000;

weft_probe_event event(uint32_t type, const char* src, const char* dst, uint64_t t,
                       uint32_t qp = 0) {
    weft_probe_event e{};
    e.type = type;
    e.ts_ns = t;
    e.ifindex = 3;
    std::memcpy(e.src, test::ip(src).bytes.data(), 16);
    std::memcpy(e.dst, test::ip(dst).bytes.data(), 16);
    e.dest_qp = qp;
    return e;
}

TEST(Detectors, QpnScanAtTheThresholdOncePerWindow) {
    DetectorConfig c;
    c.qpn_scan_distinct_qps = 8;
    Detectors d(c, 0);
    std::vector<Alert> out;
    for (uint32_t qp = 1; qp <= 7; ++qp)
        d.on_event(event(WP_EV_NEW_QP, "10.0.0.9", "10.0.0.1", qp * kMs, qp), out);
    EXPECT_TRUE(out.empty()) << "7 QPs: below the threshold";
    for (uint32_t qp = 8; qp <= 30; ++qp)
        d.on_event(event(WP_EV_NEW_QP, "10.0.0.9", "10.0.0.1", qp * kMs, qp), out);
    ASSERT_EQ(out.size(), 1u) << "one alert for the window, however long the scan";
    EXPECT_EQ(out[0].detector, "qpn-scan");
    EXPECT_EQ(out[0].src, test::ip("10.0.0.9"));
    EXPECT_EQ(out[0].qps.size(), 8u);
    // a new window, a new alert
    for (uint32_t qp = 100; qp < 108; ++qp)
        d.on_event(event(WP_EV_NEW_QP, "10.0.0.9", "10.0.0.1", 2000 * kMs + qp, qp), out);
    EXPECT_EQ(out.size(), 2u);
    // QPs spread over windows never alert
    Detectors slow(c, 0);
    std::vector<Alert> none;
    for (uint32_t qp = 1; qp <= 40; ++qp)
        slow.on_event(event(WP_EV_NEW_QP, "10.0.0.8", "10.0.0.1", qp * 300 * kMs, qp), none);
    EXPECT_TRUE(none.empty());
}

TEST(Detectors, RkeyGuessingNamesTheRequesterNakStormCountsAll) {
    DetectorConfig c;
    c.rkey_guessing_naks = 3;
    c.nak_storm_naks = 5;
    Detectors d(c, 0);
    std::vector<Alert> out;
    for (int i = 0; i < 5; ++i) {
        // the NAK travels from the victim (responder) to the guesser (requester)
        // (a QP in error after each guess: every guess its own QP, its first NAK)
        auto e = event(WP_EV_NAK, "10.0.0.1", "10.0.0.66", uint64_t(i) * kMs, 0x40 + i);
        e.syndrome = 0x62;  // remote access error
        e.reason = uint8_t(roce::AckKind::NakRemoteAccessError);
        e.count = 1;
        d.on_event(e, out);
    }
    ASSERT_EQ(out.size(), 2u);
    EXPECT_EQ(out[0].detector, "rkey-guessing");
    EXPECT_EQ(out[0].src, test::ip("10.0.0.66")) << "the requester is the suspect";
    EXPECT_EQ(out[1].detector, "nak-storm");
}

// The kernel marks a QP's NAK bursts (1st, 2nd, 4th, ... NAK of a kind) with running
// totals; the map reads fill in the rest. Every NAK is counted once, whichever arrives first.
TEST(Detectors, NakBurstMarksAndMapReadsCountEachNakOnce) {
    DetectorConfig c;
    c.nak_storm_naks = 40;
    Detectors d(c, 0);
    std::vector<Alert> out;
    auto mark = [&](uint64_t count, uint64_t t) {
        auto e = event(WP_EV_NAK, "10.0.0.1", "10.0.0.2", t, 0x40);
        e.syndrome = 0x60;  // PSN sequence error
        e.reason = uint8_t(roce::AckKind::NakPsnSequenceError);
        e.count = count;
        d.on_event(e, out);
    };
    auto read = [&](uint64_t naks, uint64_t t) {
        QpCounters q;
        q.src = test::ip("10.0.0.1");
        q.dst = test::ip("10.0.0.2");
        q.dest_qp = 0x40;
        q.ifindex = 3;
        q.stats.ack_kind[uint8_t(roce::AckKind::NakPsnSequenceError)] = naks;
        d.on_poll(t, {q}, out);
    };
    for (uint64_t n : {1, 2, 4, 8, 16, 32}) mark(n, n * kMs);
    EXPECT_TRUE(out.empty()) << "32 NAKs: below 40";
    read(39, 40 * kMs);
    EXPECT_TRUE(out.empty()) << "39 NAKs, the marks' 32 not counted twice";
    mark(32, 41 * kMs);  // a late mark, already counted by the read
    read(39, 42 * kMs);
    EXPECT_TRUE(out.empty());
    read(40, 43 * kMs);
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0].detector, "nak-storm");
    EXPECT_EQ(out[0].evidence["naks"], 40);
    EXPECT_EQ(out[0].evidence["last_kind"], "psn_sequence_error") << out[0].evidence.dump();
}

TEST(Detectors, FanOutByBaselineAndByAllowlist) {
    DetectorConfig c;
    c.fan_out_new_peers = 4;
    c.baseline_ns = 100 * kMs;
    Detectors d(c, 0);
    std::vector<Alert> out;
    // the baseline: peers of the job, learnt
    for (int i = 1; i <= 10; ++i)
        d.on_event(event(WP_EV_NEW_PEER, "10.0.0.1", fmt::format("10.0.1.{}", i).c_str(),
                         uint64_t(i) * kMs),
                   out);
    EXPECT_TRUE(out.empty()) << "nothing alerts while the baseline is learnt";
    for (int i = 1; i <= 3; ++i)
        d.on_event(event(WP_EV_NEW_PEER, "10.0.0.1", fmt::format("10.0.2.{}", i).c_str(),
                         200 * kMs + uint64_t(i)),
                   out);
    EXPECT_TRUE(out.empty()) << "3 new peers: below 4";
    d.on_event(event(WP_EV_NEW_PEER, "10.0.0.1", "10.0.2.4", 300 * kMs), out);
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0].detector, "fan-out");

    DetectorConfig j;
    j.job_allowlist = {test::ip("10.0.0.1"), test::ip("10.0.0.2")};
    Detectors job(j, 0);
    std::vector<Alert> o2;
    job.on_event(event(WP_EV_NEW_PEER, "10.0.0.1", "10.0.0.2", 1), o2);
    EXPECT_TRUE(o2.empty());
    job.on_event(event(WP_EV_NEW_PEER, "10.0.0.1", "10.9.9.9", 2), o2);
    job.on_event(event(WP_EV_NEW_PEER, "10.0.0.1", "10.9.9.9", 3), o2);
    ASSERT_EQ(o2.size(), 1u) << "one alert per outsider pair";
    EXPECT_EQ(o2[0].evidence["reason"], "peer outside the job allowlist");
}

TEST(Detectors, BulkReadAndCnpStormFromMapPolls) {
    DetectorConfig c;
    c.bulk_read_bytes = 1000;
    c.cnp_storm_cnps = 50;
    c.baseline_ns = 10 * kMs;
    Detectors d(c, 0);
    std::vector<Alert> out;
    QpCounters known, stranger;
    known.src = test::ip("10.0.0.1");
    known.dst = test::ip("10.0.0.2");
    known.ifindex = 3;
    stranger.src = test::ip("10.0.0.66");
    stranger.dst = test::ip("10.0.0.2");
    stranger.ifindex = 3;
    known.stats.read_request_bytes = 500;
    d.on_poll(5 * kMs, {known}, out);  // in the baseline: this pair reads, legitimately
    known.stats.read_request_bytes = 100000;
    stranger.stats.read_request_bytes = 600;
    d.on_poll(20 * kMs, {known, stranger}, out);
    EXPECT_TRUE(out.empty()) << "the baseline pair reads freely; the stranger is below 1000";
    stranger.stats.read_request_bytes = 1600;
    stranger.stats.op_class[WP_OP_CNP] = 60;
    d.on_poll(30 * kMs, {known, stranger}, out);
    ASSERT_EQ(out.size(), 2u);
    EXPECT_EQ(out[0].detector, "cnp-storm");
    EXPECT_EQ(out[1].detector, "bulk-read");
    EXPECT_EQ(out[1].src, test::ip("10.0.0.66"));
    EXPECT_EQ(out[1].ifindex, 3u);
}

TEST(Detectors, MalformedAndPsnInjectionAtTheFirstPacket) {
    Detectors d(DetectorConfig{}, 0);
    std::vector<Alert> out;
    auto m = event(WP_EV_MALFORMED, "10.0.0.5", "10.0.0.1", 1);
    m.reason = WP_MALFORMED_OPCODE;
    m.opcode = 0xff;
    d.on_event(m, out);
    auto p = event(WP_EV_PSN_JUMP, "10.0.0.5", "10.0.0.1", 2, 0x77);
    p.syndrome = 1;
    d.on_event(p, out);
    ASSERT_EQ(out.size(), 2u);
    EXPECT_EQ(out[0].detector, "malformed-roce");
    EXPECT_EQ(out[0].evidence["reason"], "malformed_opcode");
    EXPECT_EQ(out[0].evidence["opcode"], "0xff");
    EXPECT_EQ(out[1].detector, "psn-injection");
    nlohmann::json j = alert_to_json(out[1], "h1", "eth0", 1'700'000'000'000'000'000);
    EXPECT_EQ(j["detector"], "psn-injection");
    EXPECT_EQ(j["interface"], "eth0");
    EXPECT_EQ(j["src"], "10.0.0.5");
    EXPECT_EQ(j["time"], "2023-11-14T22:13:20.000000002Z");
}

}  // namespace
}  // namespace weft::probe

// weft-probe's TC programs under BPF_PROG_TEST_RUN, in the spirit of Katran's tester:
// frames in (built by the project's frame writer, or real SoftRoCE captures), map
// contents, events and verdicts out. Needs root (CAP_BPF + CAP_NET_ADMIN).
#include <bpf/bpf.h>
#include <gtest/gtest.h>
#include <linux/pkt_cls.h>

#include <map>
#include <tuple>
#include <vector>

#include "../unit/test_packets.hpp"
#include "weft/analyze/analyzer.hpp"
#include "weft/capture/pcap_file.hpp"
#include "weft/probe/probe.hpp"

namespace weft::probe {
namespace {

using test::Bytes;
namespace op = roce::opcode;

// Runs one frame through the ingress (or egress) program; returns its verdict.
int run(const Probe& p, const Bytes& frame, bool ingress = true) {
    LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = frame.data(),
                .data_size_in = uint32_t(frame.size()), .repeat = 1);
    int fd = ingress ? p.ingress_fd() : p.egress_fd();
    EXPECT_EQ(bpf_prog_test_run_opts(fd, &opts), 0) << "BPF_PROG_TEST_RUN failed";
    return int(opts.retval);
}

std::vector<weft_probe_event> events(Probe& p) {
    std::vector<weft_probe_event> out;
    p.poll_events([&](const weft_probe_event& e) { out.push_back(e); }, 0);
    return out;
}

// Not from a temporary: the pointer would dangle (ASan caught one).
const QpCounters* find_qp(std::vector<QpCounters>&&, const char*, const char*, uint32_t) = delete;
const QpCounters* find_qp(const std::vector<QpCounters>& qps, const char* src, const char* dst,
                          uint32_t qp) {
    for (const auto& q : qps)
        if (q.src == test::ip(src) && q.dst == test::ip(dst) && q.dest_qp == qp) return &q;
    return nullptr;
}

TEST(ProbeBpf, CountsAWellFormedSendAndAnnouncesItsQpAndPeers) {
    Probe p;
    Bytes f = test::build(test::flow_packet("10.0.0.1", "10.0.0.2", 0x42, op::kRcSendOnly, 7, 256));
    EXPECT_EQ(run(p, f), TC_ACT_OK) << "observe only: the packet always continues";
    EXPECT_EQ(run(p, f), TC_ACT_OK);
    Counters c = p.counters();
    EXPECT_EQ(c[WP_PACKETS], 2u);
    EXPECT_EQ(c[WP_ROCE], 2u);
    EXPECT_EQ(c[WP_MALFORMED], 0u);
    auto qps = p.qps();
    ASSERT_EQ(qps.size(), 1u);
    const QpCounters* q = find_qp(qps, "10.0.0.1", "10.0.0.2", 0x42);
    ASSERT_NE(q, nullptr);
    EXPECT_EQ(q->stats.packets, 2u);
    EXPECT_EQ(q->stats.bytes, 2 * f.size());
    EXPECT_EQ(q->stats.op_class[WP_OP_SEND], 2u);
    EXPECT_EQ(q->stats.payload_bytes, 2 * 256u);
    EXPECT_EQ(q->stats.last_psn, 7u);
    auto peers = p.peers();
    ASSERT_EQ(peers.size(), 1u);
    EXPECT_EQ(peers[0].roce_packets, 2u);
    EXPECT_EQ(peers[0].roce_bytes, 2 * f.size());
    auto ev = events(p);
    ASSERT_EQ(ev.size(), 2u) << "one new QP, one new peer pair; nothing for the repeat";
    EXPECT_EQ(ev[0].type, WP_EV_NEW_QP);
    EXPECT_EQ(ev[0].dest_qp, 0x42u);
    EXPECT_EQ(ev[1].type, WP_EV_NEW_PEER);
}

TEST(ProbeBpf, RefusesMalformedRoceByReason) {
    Probe p;
    Bytes good = test::build(test::spec_for(op::kRcSendOnly, 64));
    const size_t l3 = 14, udp = l3 + 20;
    struct Case {
        const char* what;
        Bytes frame;
        weft_probe_counter reason;
    };
    std::vector<Case> cases;
    Bytes opcode = good;
    opcode[udp + 8] = 0xff;  // the opcode that makes rxe read out of bounds
    cases.push_back({"opcode 0xff", opcode, WP_MALFORMED_OPCODE});
    Bytes version = good;
    version[udp + 8 + 1] |= 0x01;  // BTH TVer 1
    cases.push_back({"BTH version 1", version, WP_MALFORMED_VERSION});
    Bytes udp_len = good;
    roce::store_be16(udp_len.data() + udp + 4, uint16_t(good.size() - udp + 100));
    cases.push_back({"UDP length beyond the IP payload", udp_len, WP_MALFORMED_UDP_LENGTH});
    Bytes ip_len = good;
    roce::store_be16(ip_len.data() + l3 + 2, uint16_t(good.size() - l3 + 40));
    cases.push_back({"IP total length beyond the frame", ip_len, WP_MALFORMED_IP_LENGTH});
    Bytes short_for_opcode = test::build(test::spec_for(op::kRcReadRequest));
    // cut the READ request's RETH in half, with lengths that agree with the cut
    short_for_opcode = test::resize_before_icrc(short_for_opcode, -10);
    cases.push_back({"READ request without its whole RETH", short_for_opcode, WP_MALFORMED_LENGTH});
    for (const Case& c : cases) EXPECT_EQ(run(p, c.frame), TC_ACT_OK) << c.what;
    Counters n = p.counters();
    EXPECT_EQ(n[WP_MALFORMED], cases.size());
    EXPECT_EQ(n[WP_ROCE], 0u);
    for (const Case& c : cases) EXPECT_EQ(n[c.reason], 1u) << c.what;
    EXPECT_TRUE(p.qps().empty()) << "a refused packet creates no QP flow";
    auto ev = events(p);
    ASSERT_EQ(ev.size(), cases.size());
    for (size_t i = 0; i < cases.size(); ++i) {
        EXPECT_EQ(ev[i].type, WP_EV_MALFORMED);
        EXPECT_EQ(ev[i].reason, cases[i].reason) << cases[i].what;
    }
    EXPECT_EQ(ev[0].opcode, 0xff);
}

TEST(ProbeBpf, NaksByKindWithAnEvent) {
    Probe p;
    const std::pair<roce::AckKind, size_t> kinds[] = {{roce::AckKind::Ack, 0},
                                                      {roce::AckKind::NakPsnSequenceError, 2},
                                                      {roce::AckKind::NakRemoteAccessError, 4},
                                                      {roce::AckKind::RnrNak, 1}};
    for (auto [kind, index] : kinds) {
        roce::FrameSpec s = test::flow_packet("10.0.0.2", "10.0.0.1", 0x99, op::kRcAcknowledge, 5);
        s.aeth.syndrome = roce::Aeth::syndrome_for(kind);
        run(p, test::build(s));
    }
    auto all_qps = p.qps();
    const QpCounters* q = find_qp(all_qps, "10.0.0.2", "10.0.0.1", 0x99);
    ASSERT_NE(q, nullptr);
    EXPECT_EQ(q->stats.op_class[WP_OP_ACK], 4u);
    for (auto [kind, index] : kinds) EXPECT_EQ(q->stats.ack_kind[index], 1u) << index;
    size_t naks = 0;
    for (const auto& e : events(p))
        if (e.type == WP_EV_NAK) {
            ++naks;
            EXPECT_NE(e.syndrome >> 5, 0) << "an ACK is not a NAK event";
            EXPECT_EQ(e.count, 1u) << "the QP's first NAK of its kind";
            EXPECT_EQ(roce::Aeth::syndrome_for(roce::AckKind(e.reason)) >> 5, e.syndrome >> 5);
        }
    EXPECT_EQ(naks, 3u);
}

TEST(ProbeBpf, ANakBurstIsAFewMarkedEventsEveryNakCounted) {
    Probe p;
    roce::FrameSpec s = test::flow_packet("10.0.0.2", "10.0.0.1", 0x77, op::kRcAcknowledge, 5);
    s.aeth.syndrome = roce::Aeth::syndrome_for(roce::AckKind::NakPsnSequenceError);
    Bytes nak = test::build(s);
    for (int i = 0; i < 200; ++i) run(p, nak);
    std::vector<uint64_t> counts;
    for (const auto& e : events(p))
        if (e.type == WP_EV_NAK) {
            EXPECT_EQ(e.reason, uint8_t(roce::AckKind::NakPsnSequenceError));
            counts.push_back(e.count);
        }
    EXPECT_EQ(counts, (std::vector<uint64_t>{1, 2, 4, 8, 16, 32, 64, 128, 192}));
    auto qps = p.qps();
    const QpCounters* q = find_qp(qps, "10.0.0.2", "10.0.0.1", 0x77);
    ASSERT_NE(q, nullptr);
    EXPECT_EQ(q->stats.ack_kind[size_t(roce::AckKind::NakPsnSequenceError)], 200u);
}

TEST(ProbeBpf, ReadRequestBytesEcnIpv6AndVlans) {
    Probe p;
    roce::FrameSpec read = test::spec_for(op::kRcReadRequest, 0, test::Family::V6, 2);
    read.reth.dma_length = 1 << 20;
    read.ecn = 3;  // CE
    run(p, test::build(read), false);
    auto qps = p.qps();
    ASSERT_EQ(qps.size(), 1u);
    EXPECT_EQ(qps[0].src, test::ip("fd00::1"));
    EXPECT_EQ(qps[0].stats.read_request_bytes, 1u << 20);
    EXPECT_EQ(qps[0].stats.op_class[WP_OP_READ_REQUEST], 1u);
    EXPECT_EQ(qps[0].stats.ecn_ce, 1u);
    EXPECT_EQ(qps[0].stats.ingress, 0u) << "seen by the egress program";
    size_t volume = 0;
    for (const auto& e : events(p))
        if (e.type == WP_EV_VOLUME) {
            ++volume;
            EXPECT_EQ(e.syndrome, 1) << "a READ volume mark";
        }
    EXPECT_EQ(volume, 1u) << "1 MiB of READ requests crosses one MiB mark";
}

TEST(ProbeBpf, TcpAndUdpPeersForFanOut) {
    Probe p;
    // a TCP SYN and a UDP datagram: the frame writer's UDP frame with another port
    roce::FrameSpec u = test::spec_for(op::kRcSendOnly, 32);
    u.dst_port = 53;
    Bytes udp = test::build(u);
    Bytes tcp = udp;
    const size_t l3 = 14, l4 = l3 + 20;
    tcp[l3 + 9] = 6;        // protocol TCP
    tcp[l4 + 12] = 5 << 4;  // data offset: 20 bytes
    tcp[l4 + 13] = 0x02;    // SYN
    test::refresh_ipv4_checksum(tcp, l3);
    run(p, udp);
    run(p, tcp);
    Counters c = p.counters();
    EXPECT_EQ(c[WP_UDP], 1u);
    EXPECT_EQ(c[WP_TCP], 1u);
    EXPECT_EQ(c[WP_ROCE], 0u);
    auto peers = p.peers();
    ASSERT_EQ(peers.size(), 1u);
    EXPECT_EQ(peers[0].stats.udp_packets, 1u);
    EXPECT_EQ(peers[0].stats.tcp_packets, 1u);
    EXPECT_EQ(peers[0].stats.tcp_syns, 1u);
}

TEST(ProbeBpf, PsnFarOutsideTheSequenceIsFlaggedRetransmissionIsNot) {
    Probe p;
    auto send = [&](uint32_t psn) {
        run(p,
            test::build(test::flow_packet("10.0.0.1", "10.0.0.2", 0x77, op::kRcSendOnly, psn, 8)));
    };
    for (uint32_t psn = 1000; psn < 1010; ++psn) send(psn);
    send(995);  // go-back-N replays a few PSNs: legitimate
    send(996);
    send(1000 + (1u << 23));  // an injected packet half the PSN space away
    send(997);                // the real sequence carries on
    Counters c = p.counters();
    EXPECT_EQ(c[WP_PSN_OUT_OF_WINDOW], 1u);
    auto all_qps = p.qps();
    const QpCounters* q = find_qp(all_qps, "10.0.0.1", "10.0.0.2", 0x77);
    ASSERT_NE(q, nullptr);
    EXPECT_EQ(q->stats.psn_out_of_window, 1u);
    EXPECT_EQ(q->stats.next_request_psn, 998u) << "the injected PSN did not move the sequence";
    size_t jumps = 0;
    for (const auto& e : events(p))
        if (e.type == WP_EV_PSN_JUMP) {
            ++jumps;
            EXPECT_EQ(e.psn, 1000u + (1u << 23));
        }
    EXPECT_EQ(jumps, 1u);
}

TEST(ProbeBpf, TruncatedBthAndCnpsWithTheirVolumeMark) {
    Probe p;
    // a UDP 4791 datagram too short for BTH + ICRC
    roce::FrameSpec s = test::spec_for(op::kRcSendOnly, 0);
    Bytes f = test::build(s);
    const size_t l3 = 14, udp = l3 + 20;
    Bytes cut(f.begin(), f.begin() + long(udp + 8 + 10));
    test::set_ip_udp_lengths(cut, l3, cut.size());
    run(p, cut);
    EXPECT_EQ(p.counters()[WP_MALFORMED_TRUNCATED], 1u);
    // 64 CNPs on one QP: counted as a class, and one volume mark at the 64th
    for (int i = 0; i < 64; ++i)
        run(p, test::build(test::flow_packet("10.0.0.2", "10.0.0.1", 0x33, op::kCnp, 0)));
    auto qps = p.qps();
    const QpCounters* q = find_qp(qps, "10.0.0.2", "10.0.0.1", 0x33);
    ASSERT_NE(q, nullptr);
    EXPECT_EQ(q->stats.op_class[WP_OP_CNP], 64u);
    size_t marks = 0;
    for (const auto& e : events(p))
        if (e.type == WP_EV_VOLUME) {
            ++marks;
            EXPECT_EQ(e.syndrome, 2) << "a CNP mark";
        }
    EXPECT_EQ(marks, 1u);
}

TEST(ProbeBpf, AFullQpTableIsCountedNotSilentAndFlowsNeverSplit) {
    Probe p;
    // one SEND each into more distinct IPv6 QP flows than the IPv6 table has slots, then a
    // second packet into every one: a flow either has a slot holding both of its packets
    // or is counted (twice) as refused; none is split, lost or doubled
    const uint32_t flows = WEFT_PROBE_QP_SLOTS6 + 500;
    roce::FrameSpec f = test::spec_for(op::kRcSendOnly, 8);
    f.src = *roce::IpAddress::parse("fd00::1");
    f.dst = *roce::IpAddress::parse("fd00::2");
    for (int round = 0; round < 2; ++round)
        for (uint32_t qp = 1; qp <= flows; ++qp) {
            f.bth.dest_qp = qp;
            run(p, test::build(f));
        }
    Counters c = p.counters();
    EXPECT_EQ(c[WP_ROCE], 2u * flows);
    auto qps = p.qps();
    std::map<uint32_t, uint64_t> packets;
    for (const auto& q : qps) {
        EXPECT_EQ(q.src, f.src);
        packets[q.dest_qp] += q.stats.packets;
        EXPECT_EQ(q.stats.packets, 2u) << "QP " << q.dest_qp;
    }
    EXPECT_EQ(packets.size(), qps.size()) << "one slot per flow";
    EXPECT_LE(qps.size(), size_t(WEFT_PROBE_QP_SLOTS6));
    EXPECT_GE(qps.size(), size_t(WEFT_PROBE_QP_SLOTS6) * 8 / 10)
        << "open addressing over 8 slots fills most of the table before refusing";
    EXPECT_EQ(c[WP_QP_MAP_FULL], 2u * (flows - qps.size()));
}

TEST(ProbeBpf, AFullPeerMapIsCountedNotSilent) {
    Probe p;
    // UDP datagrams between WEFT_PROBE_MAX_PEERS + 5 distinct pairs
    roce::FrameSpec u = test::spec_for(op::kRcSendOnly, 8);
    u.dst_port = 53;
    for (uint32_t i = 0; i < WEFT_PROBE_MAX_PEERS + 5; ++i) {
        u.src = roce::IpAddress::from_v4(0x0a000000u + 1 + i);
        run(p, test::build(u));
    }
    Counters c = p.counters();
    EXPECT_EQ(c[WP_UDP], WEFT_PROBE_MAX_PEERS + 5u);
    EXPECT_EQ(c[WP_PEER_MAP_FULL], 5u);
    EXPECT_EQ(p.peers().size(), size_t(WEFT_PROBE_MAX_PEERS));
    size_t announced = 0;
    while (p.poll_events([&](const weft_probe_event& e) { announced += e.type == WP_EV_NEW_PEER; },
                         0) > 0) {
    }
    EXPECT_EQ(announced + c[WP_RINGBUF_DROPS], size_t(WEFT_PROBE_MAX_PEERS))
        << "every new pair announced, or its event counted as dropped";
}

// Real SoftRoCE traffic: the kernel programs must see exactly the analyzer's flows.
TEST(ProbeBpf, RealSoftRoceCapturesAgreeWithTheAnalyzer) {
    for (const char* fixture : {"softroce-small", "softroce-loss"}) {
        std::string path =
            std::string(WEFT_SOURCE_ROOT) + "/test/fixtures/" + fixture + "/capture.pcap";
        Probe p;
        capture::PcapReader reader(path);
        capture::Record rec;
        size_t frames = 0;
        while (reader.next(rec)) {
            Bytes f(rec.data.begin(), rec.data.end());
            run(p, f);
            ++frames;
        }
        analyze::Options opt;
        analyze::Result want = analyze::analyze_file(path, opt);
        Counters c = p.counters();
        EXPECT_EQ(c[WP_PACKETS], frames) << fixture;
        EXPECT_EQ(c[WP_ROCE], want.totals.roce_packets) << fixture;
        EXPECT_EQ(c[WP_MALFORMED], want.totals.malformed()) << fixture;
        std::map<std::tuple<roce::IpAddress, roce::IpAddress, uint32_t>, uint64_t> got, expected;
        for (const auto& q : p.qps()) got[{q.src, q.dst, q.dest_qp}] = q.stats.packets;
        for (const auto& f : want.flows.all()) expected[{f.src, f.dst, f.dest_qp}] = f.packets;
        EXPECT_EQ(got, expected) << fixture << ": per-QP packets differ from weftctl analyze";
        uint64_t naks = 0, want_naks = 0;
        for (const auto& q : p.qps())
            for (size_t k = 1; k < WP_ACK_KIND_COUNT; ++k) naks += q.stats.ack_kind[k];
        for (const auto& f : want.flows.all()) want_naks += f.nak_total();
        EXPECT_EQ(naks, want_naks) << fixture;
        EXPECT_EQ(c[WP_PSN_OUT_OF_WINDOW], 0u)
            << fixture << ": real go-back-N retransmissions are not PSN anomalies";
    }
}

}  // namespace
}  // namespace weft::probe

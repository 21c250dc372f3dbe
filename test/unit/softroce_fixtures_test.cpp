// The committed SoftRoCE fixtures (test/fixtures/softroce-*): real captures taken on the
// harness's bridge while two rxe guests ran ibv_rc_pingpong, ib_write_bw, ib_read_bw and
// weft-verbs gradient + inference, with each guest's rxe counters read at the end. The
// oracle is rxe itself: per direction, the packets analyze finds equal the sender's
// sent_pkts, and those minus the frames the bridge dropped equal the receiver's rcvd_pkts.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <sstream>

#include "weft/analyze/analyzer.hpp"
#include "weft/roce/opcode.hpp"

namespace weft {
namespace {

namespace fs = std::filesystem;

fs::path fixture(const std::string& name) {
    return fs::path(WEFT_SOURCE_ROOT) / "test" / "fixtures" / name;
}

std::map<std::string, uint64_t> rxe_counters(const fs::path& file) {
    std::map<std::string, uint64_t> out;
    std::ifstream in(file);
    std::string k;
    uint64_t v;
    while (in >> k >> v) out[k] = v;
    return out;
}

uint64_t dropped_by_bridge(const fs::path& dir) {
    std::ifstream in(dir / "loss.txt");
    if (!in) return 0;
    std::stringstream s;
    s << in.rdbuf();
    std::smatch m;
    std::string text = s.str();
    if (!std::regex_search(text, m, std::regex("counter packets ([0-9]+)"))) return ~0ull;
    return std::stoull(m[1]);
}

struct FixtureView {
    analyze::Result result;
    std::map<std::string, uint64_t> g1, g2;
    uint64_t dropped = 0;
    uint64_t from(const char* ip) const {
        uint64_t n = 0;
        for (const auto& f : result.flows.all())
            if (f.src.to_string() == ip) n += f.packets;
        return n;
    }
    uint64_t opcode(uint8_t op) const {
        uint64_t n = 0;
        for (const auto& f : result.flows.all()) n += f.opcode_count(op);
        return n;
    }
};

FixtureView load(const std::string& name) {
    fs::path dir = fixture(name);
    FixtureView v;
    v.result = analyze::analyze_file((dir / "capture.pcap").string(), analyze::Options{});
    v.g1 = rxe_counters(dir / "g1-hw_counters.txt");
    v.g2 = rxe_counters(dir / "g2-hw_counters.txt");
    v.dropped = dropped_by_bridge(dir);
    return v;
}

void expect_agrees_with_rxe(const FixtureView& v) {
    const flow::Totals& t = v.result.totals;
    EXPECT_EQ(t.roce_packets, t.frames);
    EXPECT_EQ(t.malformed(), 0u);
    EXPECT_EQ(t.icrc_checked, t.roce_packets);
    EXPECT_EQ(t.icrc_errors, 0u);
    const char *g1 = "10.99.0.1", *g2 = "10.99.0.2";
    EXPECT_EQ(v.from(g1), v.g1.at("sent_pkts"));
    EXPECT_EQ(v.from(g2), v.g2.at("sent_pkts"));
    EXPECT_EQ(v.from(g1), v.g2.at("rcvd_pkts"));              // nothing dropped towards g2
    EXPECT_EQ(v.from(g2) - v.dropped, v.g1.at("rcvd_pkts"));  // the bridge's drops towards g1
    for (const auto& f : v.result.flows.all())
        EXPECT_TRUE(f.reverse) << f.src.to_string() << " QP " << f.dest_qp;
    // every kind of traffic the run made
    using namespace roce::opcode;
    for (uint8_t op : {kRcSendFirst, kRcSendLast, kRcSendOnly, kRcWriteFirst, kRcWriteMiddle,
                       kRcWriteLast, kRcWriteLastImm, kRcReadRequest, kRcReadResponseFirst,
                       kRcReadResponseLast, kRcAcknowledge})
        EXPECT_GT(v.opcode(op), 0u) << "opcode " << int(op);
}

TEST(SoftRoceFixtures, LosslessRunAgreesWithRxeCounters) {
    FixtureView v = load("softroce-small");
    EXPECT_EQ(v.dropped, 0u);
    expect_agrees_with_rxe(v);
}

TEST(SoftRoceFixtures, LossyRunShowsNaksAndRetransmissions) {
    FixtureView v = load("softroce-loss");
    EXPECT_GT(v.dropped, 0u);
    expect_agrees_with_rxe(v);
    uint64_t sequence_naks = 0, duplicates = 0;
    for (const auto& f : v.result.flows.all()) {
        sequence_naks += f.naks[size_t(roce::AckKind::NakPsnSequenceError)];
        duplicates += f.psn_duplicates;
    }
    // g1 saw gaps where the bridge dropped frames, NAKed them, and g2 went back N
    EXPECT_GT(sequence_naks, 0u);
    EXPECT_GT(duplicates, 0u);
}

}  // namespace
}  // namespace weft

// The flow report: the "weft.flows/1" JSON document's keys and values, flow selection
// (filters, sort keys, top-N) and the human-readable table.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "test_packets.hpp"
#include "weft/flow/report.hpp"
#include "weft/flow/summary.hpp"
#include "weft/flow/table.hpp"

namespace weft::flow {
namespace {

using nlohmann::json;
using roce::FrameSpec;
using test::flow_packet;
using test::touch;
namespace op = roce::opcode;

constexpr const char* A = "10.0.0.1";
constexpr const char* B = "10.0.0.2";
constexpr const char* C = "10.0.0.3";
constexpr const char* V6a = "fd00::3";
constexpr const char* V6b = "fd00::4";

// docs/SCHEMA.md: within weft.flows/1 fields may be added but never renamed or removed,
// so objects are checked to contain the documented keys (fixed sets are compared whole).
testing::AssertionResult has_keys(const json& object, const std::set<std::string>& keys) {
    if (!object.is_object()) return testing::AssertionFailure() << "not an object: " << object;
    for (const std::string& k : keys)
        if (!object.contains(k))
            return testing::AssertionFailure() << "no \"" << k << "\" in " << object;
    return testing::AssertionSuccess();
}

std::set<std::string> keys_of(const json& object) {
    std::set<std::string> out;
    for (auto it = object.begin(); it != object.end(); ++it) out.insert(it.key());
    return out;
}

// Four flows:
//   f1  A -> B  qp 0x0b  a 5-packet RDMA WRITE of 5 KiB (the largest)
//   f2  B -> A  qp 0x0a  one ACK of f1's PSNs (so f1 and f2 pair)
//   f3  fd00::3 -> fd00::4  qp 0x77  an RNR NAK and a PSN sequence error NAK
//   f4  A -> C  qp 0x44  two SENDs with a PSN gap between them
class Report : public testing::Test {
  protected:
    void SetUp() override {
        FrameSpec first = flow_packet(A, B, 0x0b, op::kRcWriteFirst, 1000, 1024);
        first.reth.dma_length = 5120;
        touch(table, first, 100);
        for (uint32_t psn = 1001; psn <= 1003; ++psn)
            touch(table, flow_packet(A, B, 0x0b, op::kRcWriteMiddle, psn, 1024), 100 + psn);
        touch(table, flow_packet(A, B, 0x0b, op::kRcWriteLast, 1004, 1024), 2000);
        touch(table, flow_packet(B, A, 0x0a, op::kRcAcknowledge, 1004), 2100);
        FrameSpec rnr = flow_packet(V6a, V6b, 0x77, op::kRcAcknowledge, 50);
        rnr.aeth.syndrome = 0x2e;
        touch(table, rnr, 3000);
        FrameSpec seq = flow_packet(V6a, V6b, 0x77, op::kRcAcknowledge, 51);
        seq.aeth.syndrome = 0x60;
        touch(table, seq, 3001);
        touch(table, flow_packet(A, C, 0x44, op::kRcSendOnly, 1, 8), 4000);
        touch(table, flow_packet(A, C, 0x44, op::kRcSendOnly, 3, 8), 4001);
        flows = summarize_all(table);
        ASSERT_EQ(flows.size(), 4u);
        f1 = index(A, B, 0x0b);
        f2 = index(B, A, 0x0a);
        f3 = index(V6a, V6b, 0x77);
        f4 = index(A, C, 0x44);

        totals.frames = 20;
        totals.bytes = 12345;
        totals.roce_packets = 10;
        totals.roce_bytes = 6789;
        totals.not_roce = 5;
        totals.icrc_checked = 10;
        totals.icrc_errors = 1;
        totals.truncated_records = 2;
        totals.verdicts[size_t(roce::Verdict::Ok)] = 10;
        totals.verdicts[size_t(roce::Verdict::NotRoce)] = 5;
        totals.verdicts[size_t(roce::Verdict::UdpBadLength)] = 2;
        totals.verdicts[size_t(roce::Verdict::OpcodeReserved)] = 3;
    }

    size_t index(const char* src, const char* dst, uint32_t qp) const {
        for (size_t i = 0; i < flows.size(); ++i)
            if (flows[i].src == test::ip(src) && flows[i].dst == test::ip(dst) &&
                flows[i].dest_qp == qp)
                return i;
        ADD_FAILURE() << "no flow " << src << " -> " << dst;
        return 0;
    }

    std::vector<size_t> all() const { return select_flows(flows, FlowFilter{}); }

    Table table{TableConfig{.max_flows = 64}};
    std::vector<FlowSummary> flows;
    size_t f1 = 0, f2 = 0, f3 = 0, f4 = 0;
    Totals totals;
};

TEST_F(Report, DocumentTopLevel) {
    const json doc = flows_document(flows, all(), totals, table.counters());
    EXPECT_TRUE(
        has_keys(doc, (std::set<std::string>{"schema", "totals", "malformed", "table", "flows"})));
    EXPECT_EQ(doc["schema"], "weft.flows/1");
    EXPECT_EQ(std::string(kSchemaName), "weft.flows/1");

    const json& t = doc["totals"];
    EXPECT_TRUE(
        has_keys(t, (std::set<std::string>{"frames", "bytes", "roce_packets", "roce_bytes",
                                           "not_roce", "malformed", "icrc_checked", "icrc_errors",
                                           "truncated_records", "flows", "flows_shown"})));
    EXPECT_EQ(t["frames"], 20);
    EXPECT_EQ(t["bytes"], 12345);
    EXPECT_EQ(t["roce_packets"], 10);
    EXPECT_EQ(t["roce_bytes"], 6789);
    EXPECT_EQ(t["not_roce"], 5);
    EXPECT_EQ(t["malformed"], 5);
    EXPECT_EQ(t["icrc_checked"], 10);
    EXPECT_EQ(t["icrc_errors"], 1);
    EXPECT_EQ(t["truncated_records"], 2);
    EXPECT_EQ(t["flows"], 4);
    EXPECT_EQ(t["flows_shown"], 4);

    EXPECT_TRUE(has_keys(
        doc["table"], (std::set<std::string>{"packets", "flows_created", "flows_evicted_idle",
                                             "flows_refused_table_full", "hosts_refused_table_full",
                                             "extension_refused", "opcode_detail_overflow"})));
    EXPECT_EQ(doc["table"]["packets"], 10);
    EXPECT_EQ(doc["table"]["flows_created"], 4);
    ASSERT_TRUE(doc["flows"].is_array());
    EXPECT_EQ(doc["flows"].size(), 4u);
}

TEST_F(Report, MalformedHasOneKeyPerMalformedVerdict) {
    const json doc = flows_document(flows, all(), totals, table.counters());
    const json& m = doc["malformed"];
    EXPECT_EQ(keys_of(m), (std::set<std::string>{
                              "eth_truncated", "vlan_truncated", "vlan_too_deep", "ipv4_truncated",
                              "ipv4_bad_header", "ipv4_bad_total_length", "ipv4_fragment",
                              "ipv6_truncated", "ipv6_bad_header", "ipv6_bad_payload_length",
                              "udp_truncated", "udp_bad_length", "bth_truncated", "bth_bad_version",
                              "opcode_reserved", "ext_header_truncated", "payload_inconsistent"}));
    EXPECT_EQ(m["udp_bad_length"], 2);
    EXPECT_EQ(m["opcode_reserved"], 3);
    EXPECT_EQ(m["eth_truncated"], 0);
    EXPECT_EQ(totals.malformed(), 5u);
}

TEST_F(Report, EveryFlowHasTheDocumentedKeys) {
    const json doc = flows_document(flows, all(), totals, table.counters());
    const std::set<std::string> documented = {"src",
                                              "dst",
                                              "dqpn",
                                              "sports",
                                              "sports_truncated",
                                              "packets",
                                              "bytes",
                                              "payload_bytes",
                                              "first_ns",
                                              "last_ns",
                                              "opcodes",
                                              "opcodes_truncated",
                                              "psn",
                                              "acks",
                                              "naks",
                                              "cnp",
                                              "ecn_ce",
                                              "icrc_errors",
                                              "messages",
                                              "message_sizes",
                                              "reverse",
                                              "outstanding_reads"};
    for (const json& f : doc["flows"]) {
        EXPECT_TRUE(has_keys(f, documented));
        EXPECT_TRUE(f["src"].is_string());
        EXPECT_TRUE(f["dst"].is_string());
        EXPECT_TRUE(f["dqpn"].is_number_unsigned());
        EXPECT_TRUE(f["sports"].is_array());
        EXPECT_TRUE(f["opcodes"].is_object());
        EXPECT_TRUE(has_keys(f["psn"], {"gaps", "duplicates", "out_of_order"}));
        EXPECT_EQ(keys_of(f["message_sizes"]),
                  (std::set<std::string>{"lt_256", "lt_1k", "lt_4k", "lt_16k", "lt_64k", "lt_256k",
                                         "lt_1m", "ge_1m"}));
        EXPECT_TRUE(f["reverse"].is_null() || f["reverse"].is_object());
        EXPECT_TRUE(f["outstanding_reads"].is_null() || f["outstanding_reads"].is_number());
    }
}

TEST_F(Report, FlowValues) {
    const json w = flow_to_json(flows[f1], flows);
    EXPECT_EQ(w["src"], "10.0.0.1");
    EXPECT_EQ(w["dst"], "10.0.0.2");
    EXPECT_EQ(w["dqpn"], 0x0b);
    EXPECT_EQ(w["sports"], json::array({49152}));
    EXPECT_EQ(w["sports_truncated"], false);
    EXPECT_EQ(w["packets"], 5);
    EXPECT_EQ(w["bytes"], flows[f1].wire_bytes);
    EXPECT_EQ(w["payload_bytes"], 5120);
    EXPECT_EQ(w["first_ns"], 100);
    EXPECT_EQ(w["last_ns"], 2000);
    EXPECT_EQ(
        w["opcodes"],
        (json{{"RC_RDMA_WRITE_FIRST", 1}, {"RC_RDMA_WRITE_MIDDLE", 3}, {"RC_RDMA_WRITE_LAST", 1}}));
    EXPECT_EQ(w["psn"], (json{{"gaps", 0}, {"duplicates", 0}, {"out_of_order", 0}}));
    EXPECT_EQ(w["acks"], 0);
    EXPECT_EQ(w["naks"], json::object());
    EXPECT_EQ(w["messages"], 1);
    EXPECT_EQ(w["message_sizes"]["lt_16k"], 1);
    EXPECT_EQ(w["message_sizes"]["lt_4k"], 0);
    EXPECT_EQ(w["reverse"], (json{{"src", "10.0.0.2"}, {"dst", "10.0.0.1"}, {"dqpn", 0x0a}}));
    EXPECT_EQ(w["outstanding_reads"], 0);

    const json ack = flow_to_json(flows[f2], flows);
    EXPECT_EQ(ack["acks"], 1);
    EXPECT_EQ(ack["reverse"]["dqpn"], 0x0b);

    const json nak = flow_to_json(flows[f3], flows);
    EXPECT_EQ(nak["src"], "fd00::3");
    EXPECT_EQ(nak["dst"], "fd00::4");
    EXPECT_EQ(nak["naks"], (json{{"rnr_nak", 1}, {"psn_sequence_error", 1}}));
    EXPECT_EQ(nak["acks"], 0);
    EXPECT_TRUE(nak["reverse"].is_null());
    EXPECT_TRUE(nak["outstanding_reads"].is_null());

    const json gap = flow_to_json(flows[f4], flows);
    EXPECT_EQ(gap["psn"]["gaps"], 1);
    EXPECT_EQ(gap["messages"], 2);
    EXPECT_EQ(gap["message_sizes"]["lt_256"], 2);
}

TEST_F(Report, UnknownOpcodesAreNamedInHex) {
    FlowSummary f = flows[f1];
    f.opcodes = {{0x04, 2}, {0xfe, 1}};
    const json j = flow_to_json(f, flows);
    EXPECT_EQ(j["opcodes"], (json{{"RC_SEND_ONLY", 2}, {"0xfe", 1}}));
}

TEST_F(Report, SelectFiltersByHostAndQpn) {
    FlowFilter by_a;
    by_a.hosts = {test::ip(A)};
    std::vector<size_t> got = select_flows(flows, by_a);
    EXPECT_EQ(std::set<size_t>(got.begin(), got.end()), (std::set<size_t>{f1, f2, f4}));

    FlowFilter by_c;
    by_c.hosts = {test::ip(C)};
    EXPECT_EQ(select_flows(flows, by_c), std::vector<size_t>{f4});

    FlowFilter by_v6;
    by_v6.hosts = {test::ip(V6b), test::ip("10.9.9.9")};
    EXPECT_EQ(select_flows(flows, by_v6), std::vector<size_t>{f3});

    FlowFilter by_qp;
    by_qp.dest_qp = 0x0a;
    EXPECT_EQ(select_flows(flows, by_qp), std::vector<size_t>{f2});

    FlowFilter both;
    both.hosts = {test::ip(A)};
    both.dest_qp = 0x77;
    EXPECT_TRUE(select_flows(flows, both).empty());

    FlowFilter nobody;
    nobody.hosts = {test::ip("192.0.2.1")};
    EXPECT_TRUE(select_flows(flows, nobody).empty());
}

TEST_F(Report, SelectSortsLargestFirstWithDeterministicTies) {
    ASSERT_GT(flows[f3].wire_bytes, flows[f4].wire_bytes);  // 2 x 82 B vs 2 x 66 B
    ASSERT_GT(flows[f4].wire_bytes, flows[f2].wire_bytes);
    FlowFilter f;
    EXPECT_EQ(select_flows(flows, f), (std::vector<size_t>{f1, f3, f4, f2}));
    f.sort = FlowFilter::SortKey::Packets;  // 5, 2, 2, 1: the tie by (src, dst, qp)
    EXPECT_EQ(select_flows(flows, f), (std::vector<size_t>{f1, f4, f3, f2}));
    f.sort = FlowFilter::SortKey::Messages;  // 2, 1, 0, 0
    EXPECT_EQ(select_flows(flows, f), (std::vector<size_t>{f4, f1, f2, f3}));
    f.sort = FlowFilter::SortKey::Naks;  // 2, then three zeros by key
    EXPECT_EQ(select_flows(flows, f), (std::vector<size_t>{f3, f1, f4, f2}));
    f.sort = FlowFilter::SortKey::Gaps;
    EXPECT_EQ(select_flows(flows, f), (std::vector<size_t>{f4, f1, f2, f3}));
    f.top = 2;
    EXPECT_EQ(select_flows(flows, f), (std::vector<size_t>{f4, f1}));
    f.top = 10;
    EXPECT_EQ(select_flows(flows, f).size(), 4u);
}

TEST_F(Report, SelectedFlowsOnlyAreInTheDocument) {
    FlowFilter top1;
    top1.top = 1;
    const json doc = flows_document(flows, select_flows(flows, top1), totals, table.counters());
    ASSERT_EQ(doc["flows"].size(), 1u);
    EXPECT_EQ(doc["flows"][0]["dqpn"], 0x0b);
    EXPECT_EQ(doc["totals"]["flows"], 4);
    EXPECT_EQ(doc["totals"]["flows_shown"], 1);
}

TEST_F(Report, HumanReportNamesTheFlows) {
    const std::string text = format_report(flows, all(), totals, table.counters());
    for (const char* needle : {"10.0.0.1", "10.0.0.2", "10.0.0.3", "fd00::3", "fd00::4", "SRC",
                               "DQPN", "RC_RDMA_WRITE_MIDDLE:3", "RC_ACKNOWLEDGE:1", "0xb",
                               "udp_bad_length 2", "opcode_reserved 3", "truncated records 2"})
        EXPECT_NE(text.find(needle), std::string::npos) << needle << " not in\n" << text;
    EXPECT_EQ(text.find("flows shown"), std::string::npos);
    EXPECT_EQ(text.find("table full"), std::string::npos);

    FlowFilter only_v6;
    only_v6.hosts = {test::ip(V6a)};
    const std::string one = format_report(flows, select_flows(flows, only_v6), totals, {});
    EXPECT_NE(one.find("(1 of 4 flows shown)"), std::string::npos) << one;
    EXPECT_EQ(one.find("10.0.0.2"), std::string::npos) << one;

    TableCounters full;
    full.flows_refused_table_full = 7;
    const std::string none = format_report(flows, {}, Totals{}, full);
    EXPECT_NE(none.find("no QP flows match"), std::string::npos) << none;
    EXPECT_NE(none.find("flows refused 7"), std::string::npos) << none;
    EXPECT_EQ(none.find("malformed by verdict"), std::string::npos) << none;
}

TEST(FormatBytes, BinaryUnits) {
    EXPECT_EQ(format_bytes(0), "0 B");
    EXPECT_EQ(format_bytes(1023), "1023 B");
    EXPECT_EQ(format_bytes(1024), "1.0 KiB");
    EXPECT_EQ(format_bytes(1536), "1.5 KiB");
    EXPECT_EQ(format_bytes(1ull << 20), "1.0 MiB");
    EXPECT_EQ(format_bytes(5ull << 30), "5.0 GiB");
    EXPECT_EQ(format_bytes(1ull << 40), "1.0 TiB");
    EXPECT_EQ(format_bytes(1ull << 50), "1024.0 TiB");
}

}  // namespace
}  // namespace weft::flow

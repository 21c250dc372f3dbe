// The flow report: the "weft.flows/1" JSON document's keys and values, the streamed
// document against the tree's text, flow selection (filters, sort keys, top-N) and the
// human-readable table.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "test_packets.hpp"
#include "weft/analyze/analyzer.hpp"
#include "weft/capture/pcap_file.hpp"
#include "weft/flow/report.hpp"
#include "weft/flow/summary.hpp"
#include "weft/flow/table.hpp"
#include "weft/gen/scenario.hpp"
#include "weft/io/output.hpp"

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
    const std::string text = format_report(flows, all(), totals, table.counters(),
                                           TableStyle{.width = 80, .wide = true});
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
    EXPECT_NE(none.find("packets of untracked flows 7"), std::string::npos) << none;
    EXPECT_EQ(none.find("malformed by verdict"), std::string::npos) << none;
}

// ---- the streamed document ------------------------------------------------------------------
// write_flows_document must give the text dump(2) gives for the tree, byte for byte.

struct Streamed {
    std::string text;
    size_t pieces = 0;
    size_t largest = 0;
};

Streamed stream(const FlowSource& flows, const std::vector<size_t>& selected, const Totals& totals,
                const TableCounters& counters, const json& extra = json::object()) {
    Streamed out;
    write_flows_document(
        [&](std::string_view piece) {
            out.text.append(piece);
            ++out.pieces;
            out.largest = std::max(out.largest, piece.size());
        },
        flows, selected, totals, counters, extra);
    return out;
}
Streamed stream(const std::vector<FlowSummary>& flows, const std::vector<size_t>& selected,
                const Totals& totals, const TableCounters& counters,
                const json& extra = json::object()) {
    return stream(flow_source(flows), selected, totals, counters, extra);
}

std::string tree_text(const std::vector<FlowSummary>& flows, const std::vector<size_t>& selected,
                      const Totals& totals, const TableCounters& counters,
                      const json& extra = json::object()) {
    json doc = flows_document(flows, selected, totals, counters);
    for (auto& [k, v] : extra.items()) doc[k] = v;
    return doc.dump(2) + "\n";
}

// Byte-equal, and equal once parsed (so a failure says which value differs). `source`:
// where the streamed document's flows come from (default: `flows` themselves).
void expect_same_document(const std::vector<FlowSummary>& flows,
                          const std::vector<size_t>& selected, const Totals& totals,
                          const TableCounters& counters, const json& extra = json::object(),
                          const FlowSource* source = nullptr) {
    const std::string want = tree_text(flows, selected, totals, counters, extra);
    const std::string got =
        stream(source ? *source : flow_source(flows), selected, totals, counters, extra).text;
    EXPECT_EQ(json::parse(got), json::parse(want));
    if (got != want) {
        size_t at = 0;
        while (at < got.size() && at < want.size() && got[at] == want[at]) ++at;
        ADD_FAILURE() << "texts differ at byte " << at
                      << ":\n  streamed: " << got.substr(at > 80 ? at - 80 : 0, 160)
                      << "\n  tree:     " << want.substr(at > 80 ? at - 80 : 0, 160);
    }
}

TEST_F(Report, StreamedDocumentIsTheTreesTextByteForByte) {
    const json source = {
        {"file", "grad.pcap"}, {"seconds", 0.0123}, {"truncation", ""}, {"corruption", ""}};
    expect_same_document(flows, all(), totals, table.counters(), {{"source", source}});
    expect_same_document(flows, all(), totals, table.counters());
    FlowFilter top1;
    top1.top = 1;
    expect_same_document(flows, select_flows(flows, top1), totals, table.counters());
    expect_same_document(flows, {}, totals, table.counters());  // "flows": []
    expect_same_document({}, {}, Totals{}, TableCounters{});
    // Keys that sort around "flows", and strings nlohmann has to escape.
    const json odd = {{"a", json::array()},
                      {"flowz", {{"x", 1.5}}},
                      {"source", {{"file", "dir/\"quoted\" \\ new\nline caf\u00e9.pcap"}}}};
    expect_same_document(flows, all(), totals, table.counters(), odd);
}

// Values the fixture's flows do not reach: opcodes whose names sort otherwise than their
// codes (and one with no name), no source port, flags set, negative outstanding reads,
// counts beyond 32 bits, every NAK kind.
TEST(StreamedDocument, UnusualFlowValues) {
    std::vector<FlowSummary> flows(3);
    FlowSummary& a = flows[0];
    a.src = test::ip("10.255.0.1");
    a.dst = test::ip("fd00::abcd:1");
    a.dest_qp = 0xffffff;
    a.opcodes = {{0x00, 3}, {0x06, 1ull << 40}, {0x11, 7}, {0x81, 2}, {0xff, 9}};
    a.opcodes_truncated = true;
    a.src_ports_truncated = true;
    for (size_t k = 1; k < roce::kAckKindCount; ++k) a.naks[k] = k * 1000;
    a.message_sizes = {1, 2, 3, 4, 5, 6, 7, ~0ull};
    a.packets = ~0ull;
    a.reverse = 1;
    a.outstanding_reads = -42;
    FlowSummary& b = flows[1];
    b.src = test::ip("fd00::abcd:1");
    b.dst = test::ip("10.255.0.1");
    b.src_ports = {4791, 49152, 65535};
    b.reverse = 0;
    b.outstanding_reads = 0;
    flows[2].src = test::ip("0.0.0.0");
    flows[2].dst = test::ip("255.255.255.255");
    expect_same_document(flows, {0, 1, 2}, Totals{}, TableCounters{});
    expect_same_document(flows, {2, 0}, Totals{}, TableCounters{});
}

TEST(StreamedDocument, ExtraMustNotReplaceTheFlows) {
    EXPECT_THROW(stream(std::vector<FlowSummary>{}, {}, Totals{}, TableCounters{}, {{"flows", 1}}),
                 std::invalid_argument);
}

// The same document as the tree for real captures: the committed SoftRoCE fixtures and every
// weft-gen scenario, read by analyze_file as `weftctl analyze --json` reads them.
class GenSink : public gen::FrameSink {
  public:
    explicit GenSink(capture::PcapWriter& w) : w_(w) {}
    void put(std::span<const uint8_t> f, uint64_t ts) override { w_.write(f, ts); }

  private:
    capture::PcapWriter& w_;
};

// analyze_file's flows, summarised on demand while the document is streamed (TableFlows),
// against the tree of every summary made at once (summarize_all: the reference), for every
// sort and a filtered view: same flows, same order, same pairs, same text.
void expect_same_document_for(const std::string& path) {
    SCOPED_TRACE(path);
    analyze::Result r = analyze::analyze_file(path, analyze::Options{});
    const std::vector<FlowSummary> all = summarize_all(*r.flow_table);
    ASSERT_EQ(r.flows.size(), all.size());
    const FlowSource lazy = flow_source(r.flows);
    const json source = {{"file", path}, {"seconds", r.seconds}, {"truncation", r.truncation}};
    for (const char* sort : {"bytes", "packets", "messages", "naks", "gaps"}) {
        FlowFilter f;
        f.sort = *sort_key_from(sort);
        const std::vector<size_t> selected = select_flows(all, f);
        EXPECT_EQ(r.flows.select(f), selected) << sort;
        expect_same_document(all, selected, r.totals, r.table, {{"source", source}}, &lazy);
    }
    if (!all.empty()) {
        FlowFilter f;
        f.hosts = {all.front().dst};
        f.top = 3;
        EXPECT_EQ(r.flows.select(f), select_flows(all, f));
        EXPECT_EQ(format_report(lazy, r.flows.select(f), r.totals, r.table),
                  format_report(all, select_flows(all, f), r.totals, r.table));
    }
}

TEST(StreamedDocument, SameAsTheTreeForTheCommittedFixtures) {
    const std::filesystem::path root =
        std::filesystem::path(WEFT_SOURCE_ROOT) / "test" / "fixtures";
    for (const char* name : {"softroce-small", "softroce-loss"})
        expect_same_document_for((root / name / "capture.pcap").string());
}

TEST(StreamedDocument, SameAsTheTreeForEveryScenario) {
    char dir[] = "/tmp/weft-report-test-XXXXXX";
    ASSERT_NE(::mkdtemp(dir), nullptr);
    gen::ScenarioOptions o;
    o.hosts = 4;
    o.message_size = 64 * 1024;
    o.iterations = 1;
    o.clients = 3;
    o.requests = 3;
    o.attack_count = 3000;  // qpn-scan: 3000 flows, a document of several sink pieces
    for (const auto& info : gen::scenarios()) {
        const std::string path = std::string(dir) + "/" + std::string(info.name) + ".pcap";
        {
            capture::PcapWriter w(path);
            GenSink sink(w);
            gen::Wire wire(sink, 100, 1767225600000000000ull, 20000);
            gen::run_scenario(info.name, o, wire);
            w.close();
        }
        expect_same_document_for(path);
        if (info.name == "qpn-scan") {
            analyze::Result r = analyze::analyze_file(path, analyze::Options{});
            ASSERT_GE(r.flows.size(), 3000u);
            const Streamed s =
                stream(flow_source(r.flows), r.flows.select(FlowFilter{}), r.totals, r.table);
            EXPECT_GT(s.pieces, 2u);
            EXPECT_LE(s.largest, 256u * 1024u);
        }
        std::filesystem::remove(path);
    }
    std::filesystem::remove(dir);
}

// weftctl's output: a write that fails says where and why.
TEST(FdOutput, AFailedWriteNamesTheOutputAndTheOsError) {
    const int fd = ::open("/dev/full", O_WRONLY | O_CLOEXEC);
    if (fd < 0) GTEST_SKIP() << "no /dev/full";
    io::FdOutput out(fd, "/dev/full");
    try {
        out.write("{}\n");
        ADD_FAILURE() << "a write to /dev/full succeeded";
    } catch (const io::OutputError& e) {
        EXPECT_EQ(std::string(e.what()), "/dev/full: No space left on device");
    }
    ::close(fd);
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

// weftd's pipeline driven frame by frame, in process, through the real stages and real
// DPDK ports: net_ring vdevs (each port's TX ring is its own RX ring, so what a worker
// sends is read back from the port it left on), with --no-huge --no-shconf, so no root,
// hugepages or NIC. Katran-style fixture tables: {description, input frames and port,
// expected output frames and ports, expected counters}; every counter of the rx,
// firewall, crypt and tx stages and every verdict count must move exactly as the row
// says (zero unless named), so a frame cannot be dropped or forwarded unnoticed.
// Properties that no single frame shows (ECMP keeps a QP on one uplink, the stage
// context a flow gives) are tests of their own below the table.
#include <gtest/gtest.h>
#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <unistd.h>

#include <sys/stat.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "../common/psp_spec_keys.hpp"
#include "../unit/test_packets.hpp"
#include "weft/dataplane/eal.hpp"
#include "weft/dataplane/pipeline.hpp"
#include "weft/dataplane/ports.hpp"
#include "weft/dataplane/psp_stage.hpp"
#include "weft/dataplane/worker.hpp"
#include "weft/roce/locate.hpp"
#include "weft/roce/opcode.hpp"

namespace {

using namespace weft;
using namespace weft::dataplane;
using test::Bytes;
using test::Family;
namespace opcode = roce::opcode;

// ---- the rig: EAL once per process, the ports, pools for input frames ----------------

Config inline_config() {
    Config c;
    c.mode = Mode::inline_;
    c.workers = 1;
    c.eal.mbufs_per_port = 512;
    c.ports = {{"host", PortRole::host, "net_ring0", ""},
               {"up0", PortRole::fabric, "net_ring1", ""},
               {"up1", PortRole::fabric, "net_ring2", ""}};
    return c;
}

Config passive_config() {
    Config c;
    c.mode = Mode::passive;
    c.workers = 1;
    c.eal.mbufs_per_port = 512;
    c.ports = {{"mirror", PortRole::mirror, "net_ring3", ""}};
    return c;
}

struct Rig {
    std::unique_ptr<PortSet> inline_ports;
    std::unique_ptr<PortSet> passive_ports;
    rte_mempool* frames = nullptr;    // one frame per mbuf
    rte_mempool* segments = nullptr;  // 2 KB segments, for chained frames

    Rig() {
        std::string prefix = "weft-pipeline-test-" + std::to_string(getpid());
        std::vector<std::string> args = {
            "weft-pipeline-tests", "--no-huge", "-m", "256", "--no-pci",    "--no-shconf",
            "--file-prefix",       prefix,      "-l", "0",   "--log-level", "*:error",
            "--no-telemetry"};
        for (int i = 0; i < 4; ++i) {
            args.push_back("--vdev");
            args.push_back("net_ring" + std::to_string(i));
        }
        std::vector<char*> argv;
        for (auto& a : args) argv.push_back(a.data());
        if (rte_eal_init(int(argv.size()), argv.data()) < 0)
            throw DataplaneError("EAL init failed (see the EAL's message above)");
        inline_ports = std::make_unique<PortSet>(inline_config());
        passive_ports = std::make_unique<PortSet>(passive_config());
        frames =
            rte_pktmbuf_pool_create("fixture_frames", 4096, 0, 0,
                                    uint16_t(kMbufDataRoom + RTE_PKTMBUF_HEADROOM), SOCKET_ID_ANY);
        segments = rte_pktmbuf_pool_create("fixture_segments", 1024, 0, 0,
                                           uint16_t(2048 + RTE_PKTMBUF_HEADROOM), SOCKET_ID_ANY);
        if (!frames || !segments) throw DataplaneError("cannot create the fixture pools");
        runtime_dir = rte_eal_get_runtime_dir();
    }
    // --no-shconf leaves DPDK's runtime directory empty: remove it, as weftd does
    ~Rig() {
        inline_ports.reset();
        passive_ports.reset();
        rte_eal_cleanup();
        ::rmdir(runtime_dir.c_str());
    }
    std::string runtime_dir;
};

Rig& rig() {
    static Rig r;
    return r;
}

rte_mbuf* mbuf_of(const Bytes& f) {
    rte_mbuf* m = rte_pktmbuf_alloc(rig().frames);
    char* p = m ? rte_pktmbuf_append(m, uint16_t(f.size())) : nullptr;
    if (!p) throw DataplaneError("cannot make a fixture mbuf");
    std::memcpy(p, f.data(), f.size());
    return m;
}

// The frame as a chain of mbufs cut at `cuts` (offsets, ascending).
rte_mbuf* chain_of(const Bytes& f, std::vector<size_t> cuts) {
    cuts.push_back(f.size());
    rte_mbuf* head = nullptr;
    size_t at = 0;
    for (size_t end : cuts) {
        rte_mbuf* m = rte_pktmbuf_alloc(rig().segments);
        char* p = m ? rte_pktmbuf_append(m, uint16_t(end - at)) : nullptr;
        if (!p) throw DataplaneError("a fixture segment does not fit a 2 KB mbuf");
        std::memcpy(p, f.data() + at, end - at);
        at = end;
        if (!head)
            head = m;
        else if (rte_pktmbuf_chain(head, m) != 0)
            throw DataplaneError("cannot chain a fixture segment");
    }
    return head;
}

Bytes bytes_of(const rte_mbuf* m) {
    Bytes out(m->pkt_len);
    const void* p = rte_pktmbuf_read(m, 0, m->pkt_len, out.data());
    if (p != out.data()) std::memcpy(out.data(), p, m->pkt_len);
    return out;
}

// Every counter of a worker by name ("firewall.dropped_malformed",
// "account.verdicts.opcode_reserved", "port.host.rx_packets"), from the stages' lists.
std::map<std::string, uint64_t> flatten(const WorkerStats& s, const PortSet& ports) {
    std::map<std::string, uint64_t> out;
    for_each_stage([&](const auto& stage) {
        const std::string prefix = std::string(stage.name) + ".";
        telemetry::visit(
            s.*stage.member,
            [&](const auto& c, uint64_t v) { out[prefix + std::string(c.name)] = v; },
            [&](const auto& c, size_t i, uint64_t v) {
                out[prefix + std::string(c.name) + "." + std::string(c.label_of(i))] = v;
            });
    });
    for (size_t i = 0; i < ports.ports().size(); ++i) {
        out["port." + ports.ports()[i].config.name + ".rx_packets"] = s.ports[i].rx_packets;
        out["port." + ports.ports()[i].config.name + ".tx_packets"] = s.ports[i].tx_packets;
    }
    return out;
}

// Counters a row must account for exactly (zero unless it names them): the ones that
// say what happened to a frame. Byte totals and the like are checked where a row names
// them.
bool strict(const std::string& name) {
    return name.rfind("rx.", 0) == 0 || name.rfind("firewall.", 0) == 0 ||
           name.rfind("crypt.", 0) == 0 || name.rfind("tx.", 0) == 0 ||
           name.rfind("account.verdicts.", 0) == 0 || name.rfind("port.", 0) == 0 ||
           name == "account.icrc_errors";
}

uint16_t port_index(const PortSet& ports, const std::string& name) {
    for (size_t i = 0; i < ports.ports().size(); ++i)
        if (ports.ports()[i].config.name == name) return uint16_t(i);
    ADD_FAILURE() << "no port " << name;
    return 0;
}

// What the worker sent, per port name, in order: read back from each ring port.
std::map<std::string, std::vector<Bytes>> drain_outputs(const PortSet& ports) {
    std::map<std::string, std::vector<Bytes>> out;
    for (const Port& p : ports.ports()) {
        std::array<rte_mbuf*, 64> got;
        uint16_t n;
        while ((n = rte_eth_rx_burst(p.id, 0, got.data(), uint16_t(got.size()))) > 0)
            for (uint16_t i = 0; i < n; ++i) {
                out[p.config.name].push_back(bytes_of(got[i]));
                rte_pktmbuf_free(got[i]);
            }
    }
    return out;
}

// ---- frames -------------------------------------------------------------------------

Bytes roce_frame(uint8_t op = opcode::kRcWriteMiddle, uint32_t payload = 256,
                 Family family = Family::V4, uint8_t vlans = 0) {
    return test::build(test::spec_for(op, payload, family, vlans));
}

Bytes udp_frame(uint16_t dst_port) {
    roce::FrameSpec s = test::spec_for(opcode::kRcSendOnly, 64);
    s.dst_port = dst_port;
    return test::build(s);  // a valid UDP datagram to another port: not RoCE
}

Bytes tcp_frame() {
    Bytes f = udp_frame(80);
    f[14 + 9] = roce::kIpProtoTcp;
    test::refresh_ipv4_checksum(f, 14);
    return f;
}

Bytes arp_frame() {
    Bytes f(60, 0);
    std::fill(f.begin(), f.begin() + 6, 0xff);
    f[6] = 0x02;
    roce::store_be16(&f[12], roce::kEtherTypeArp);
    return f;
}

Bytes psp_frame() {
    return udp_frame(roce::kPspUdpPort);
}

Bytes bad_icrc_frame() {
    Bytes f = roce_frame();
    f[f.size() - 1] ^= 0x5a;
    return f;
}

Bytes cut(const Bytes& f, size_t n) {
    return Bytes(f.begin(), f.begin() + long(n));
}

// One frame per malformed verdict, each made by the smallest edit that earns it.
std::vector<std::pair<std::string, Bytes>> malformed_frames() {
    const Bytes v4 = roce_frame(opcode::kRcSendOnly, 8);
    const Bytes v6 = roce_frame(opcode::kRcSendOnly, 8, Family::V6);
    std::vector<std::pair<std::string, Bytes>> out;
    out.push_back({"eth_truncated", cut(v4, 10)});
    out.push_back({"vlan_truncated", cut(roce_frame(opcode::kRcSendOnly, 8, Family::V4, 1), 16)});
    {
        Bytes f = roce_frame(opcode::kRcSendOnly, 8, Family::V4, 2);
        const uint8_t tag[4] = {0x81, 0x00, 0x00, 0x07};
        f.insert(f.begin() + 12, tag, tag + 4);
        out.push_back({"vlan_too_deep", f});
    }
    out.push_back({"ipv4_truncated", cut(v4, 30)});
    {
        Bytes f = v4;
        f[14] = 0x44;
        out.push_back({"ipv4_bad_header", f});
    }
    {
        Bytes f = v4;
        roce::store_be16(&f[16], 100);
        test::refresh_ipv4_checksum(f, 14);
        out.push_back({"ipv4_bad_total_length", f});
    }
    {
        Bytes f = v4;
        roce::store_be16(&f[20], 0x2000);
        test::refresh_ipv4_checksum(f, 14);
        out.push_back({"ipv4_fragment", f});
    }
    out.push_back({"ipv6_truncated", cut(v6, 40)});
    {
        Bytes f = v6;
        f[14] = uint8_t(0x40 | (f[14] & 0x0f));
        out.push_back({"ipv6_bad_header", f});
    }
    {
        Bytes f = v6;
        roce::store_be16(&f[18], 100);
        out.push_back({"ipv6_bad_payload_length", f});
    }
    {
        Bytes f = v4;
        roce::store_be16(&f[16], 24);
        test::refresh_ipv4_checksum(f, 14);
        out.push_back({"udp_truncated", f});
    }
    {
        Bytes f = v4;
        roce::store_be16(&f[38], 36);
        out.push_back({"udp_bad_length", f});
    }
    {
        Bytes f = v4;
        test::set_ip_udp_lengths(f, 14, 34 + 8 + 10);
        out.push_back({"bth_truncated", f});
    }
    {
        Bytes f = v4;
        f[43] = uint8_t((f[43] & 0xf0) | 1);
        out.push_back({"bth_bad_version", f});
    }
    {
        Bytes f = v4;
        f[42] = 0xff;
        out.push_back({"opcode_reserved", f});
    }
    {
        Bytes f = v4;
        f[42] = opcode::kRcCompareSwap;
        out.push_back({"ext_header_truncated", f});
    }
    out.push_back({"payload_inconsistent",
                   test::resize_before_icrc(roce_frame(opcode::kRcAcknowledge, 0), 4)});
    return out;
}

// ---- the table ------------------------------------------------------------------------

struct Row {
    std::string description;
    std::string in_port;
    std::vector<rte_mbuf*> input;  // made when the table is built
    std::vector<std::pair<std::string, Bytes>> output;
    std::map<std::string, uint64_t> counters;
};

// Runs one row through a fresh worker with `config` and checks everything it promises.
void run_row(Row& row, const Config& config, const PortSet& ports) {
    SCOPED_TRACE(row.description);
    Worker worker(0, config, ports);
    const uint16_t in = port_index(ports, row.in_port);
    for (size_t at = 0; at < row.input.size(); at += kBurst) {
        uint16_t n = uint16_t(std::min<size_t>(kBurst, row.input.size() - at));
        worker.process(in, row.input.data() + at, n);
    }
    worker.flush();

    auto outputs = drain_outputs(ports);
    std::map<std::string, std::vector<Bytes>> want;
    for (auto& [port, frame] : row.output) want[port].push_back(frame);
    for (const Port& p : ports.ports()) {
        const auto& got = outputs[p.config.name];
        const auto& exp = want[p.config.name];
        ASSERT_EQ(got.size(), exp.size()) << "frames out of port " << p.config.name;
        for (size_t i = 0; i < got.size(); ++i)
            EXPECT_EQ(got[i], exp[i]) << "frame " << i << " out of port " << p.config.name;
    }

    std::map<std::string, uint64_t> counters = flatten(worker.stats(), ports);
    for (auto& [name, value] : row.counters) {
        ASSERT_TRUE(counters.count(name)) << "the row names an unknown counter " << name;
        EXPECT_EQ(counters[name], value) << name;
    }
    for (auto& [name, value] : counters)
        if (strict(name) && !row.counters.count(name)) EXPECT_EQ(value, 0u) << name;
}

std::vector<Row> inline_rows() {
    std::vector<Row> rows;
    auto forwarded = [](std::string in, std::string out, std::vector<Bytes> frames,
                        bool roce) -> Row {
        Row r;
        r.in_port = in;
        uint64_t n = frames.size();
        for (auto& f : frames) {
            r.input.push_back(mbuf_of(f));
            r.output.push_back({out, f});
        }
        r.counters = {{"port." + in + ".rx_packets", n},
                      {"port." + out + ".tx_packets", n},
                      {"firewall.passed", n},
                      {roce ? "tx.forwarded_roce" : "tx.forwarded_other", n},
                      {roce ? "account.verdicts.ok" : "account.verdicts.not_roce", n}};
        return r;
    };
    {
        Row r =
            forwarded("host", "up0", {arp_frame(), tcp_frame(), udp_frame(53), psp_frame()}, false);
        r.description =
            "ARP, TCP, other UDP and PSP from the host leave on the first uplink, "
            "byte for byte";
        rows.push_back(std::move(r));
    }
    {
        Row r = forwarded("up1", "host", {arp_frame(), tcp_frame(), udp_frame(53)}, false);
        r.description = "non-RoCE from a fabric port goes to the host, byte for byte";
        rows.push_back(std::move(r));
    }
    {
        Row r = forwarded(
            "up0", "host",
            {roce_frame(), roce_frame(opcode::kRcAcknowledge, 0), roce_frame(opcode::kCnp, 0),
             roce_frame(opcode::kRcSendOnly, 100, Family::V6, 2)},
            true);
        r.description =
            "RoCE from a fabric port (WRITE, ACK, CNP, IPv6 in QinQ) goes to the "
            "host, byte for byte";
        r.counters["account.icrc_checked"] = 4;
        rows.push_back(std::move(r));
    }
    {
        Row r;
        r.description = "RoCE with a wrong ICRC is forwarded and counted (drop_bad_icrc off)";
        r.in_port = "up0";
        r.input = {mbuf_of(bad_icrc_frame())};
        r.output = {{"host", bad_icrc_frame()}};
        r.counters = {{"port.up0.rx_packets", 1}, {"port.host.tx_packets", 1},
                      {"firewall.passed", 1},     {"tx.forwarded_roce", 1},
                      {"account.verdicts.ok", 1}, {"account.icrc_errors", 1}};
        rows.push_back(std::move(r));
    }
    {
        Row r;
        r.description =
            "a PSP frame from the fabric is dropped and counted: no SA, never "
            "forwarded unopened";
        r.in_port = "up1";
        r.input = {mbuf_of(psp_frame())};
        r.counters = {{"port.up1.rx_packets", 1}, {"crypt.rx_unknown_spi", 1}};
        rows.push_back(std::move(r));
    }
    {
        // Cut inside the BTH, so the opcode is read from the second segment.
        Bytes f = roce_frame(opcode::kRcWriteFirst, 1024);
        Row r;
        r.description =
            "a RoCE frame in three mbuf segments is parsed across them, its ICRC "
            "checked, and forwarded whole";
        r.in_port = "up0";
        r.input = {chain_of(f, {44, 300})};
        r.output = {{"host", f}};
        r.counters = {{"port.up0.rx_packets", 1}, {"port.host.tx_packets", 1},
                      {"rx.multi_segment", 1},    {"firewall.passed", 1},
                      {"tx.forwarded_roce", 1},   {"account.verdicts.ok", 1},
                      {"account.icrc_checked", 1}};
        rows.push_back(std::move(r));
    }
    {
        Bytes f = roce_frame(opcode::kRcWriteFirst, 1024);
        f[42] = 0xff;  // reserved opcode, in the second segment
        Row r;
        r.description = "a malformed RoCE frame in segments is judged by its whole bytes: dropped";
        r.in_port = "host";
        r.input = {chain_of(f, {40, 400})};
        r.counters = {{"port.host.rx_packets", 1},
                      {"rx.multi_segment", 1},
                      {"firewall.dropped_malformed", 1},
                      {"account.verdicts.opcode_reserved", 1}};
        rows.push_back(std::move(r));
    }
    for (const auto& [verdict, frame] : malformed_frames())
        for (const char* in : {"host", "up1"}) {
            Row r;
            r.description = verdict + " from port " + in + ": dropped, counted by verdict";
            r.in_port = in;
            r.input = {mbuf_of(frame)};
            r.counters = {{std::string("port.") + in + ".rx_packets", 1},
                          {"firewall.dropped_malformed", 1},
                          {"account.verdicts." + verdict, 1}};
            rows.push_back(std::move(r));
        }
    return rows;
}

TEST(PipelineFixtures, InlineRows) {
    const Config c = inline_config();
    for (Row& row : inline_rows()) run_row(row, c, *rig().inline_ports);
}

TEST(PipelineFixtures, BadIcrcDroppedWhenConfigured) {
    Config c = inline_config();
    c.firewall.drop_bad_icrc = true;
    Row r;
    r.description = "RoCE with a wrong ICRC is dropped with firewall.drop_bad_icrc";
    r.in_port = "host";
    r.input = {mbuf_of(bad_icrc_frame()), mbuf_of(roce_frame())};
    r.counters = {{"port.host.rx_packets", 2}, {"firewall.dropped_bad_icrc", 1},
                  {"firewall.passed", 1},      {"tx.forwarded_roce", 1},
                  {"account.verdicts.ok", 2},  {"account.icrc_errors", 1}};
    // the good frame leaves on the uplink ECMP gives its QP (the rule's own answer here;
    // that ECMP keeps QPs on one uplink and uses both is the property test below)
    roce::Packet p;
    Bytes good = roce_frame();
    ASSERT_EQ(roce::parse(good, p), roce::Verdict::Ok);
    const uint16_t uplink = balance::EcmpPolicy{}.choose(p, 2).uplink;
    const std::string out = uplink == 0 ? "up0" : "up1";
    r.output = {{out, good}};
    r.counters["port." + out + ".tx_packets"] = 1;
    run_row(r, c, *rig().inline_ports);
}

TEST(PipelineFixtures, WithoutIcrcVerificationNothingIsComputed) {
    Config c = inline_config();
    c.firewall.verify_icrc = false;
    Row r;
    r.description = "verify_icrc off: a wrong ICRC is not seen, the frame is forwarded";
    r.in_port = "up0";
    r.input = {mbuf_of(bad_icrc_frame())};
    r.output = {{"host", bad_icrc_frame()}};
    r.counters = {{"port.up0.rx_packets", 1}, {"port.host.tx_packets", 1},
                  {"firewall.passed", 1},     {"tx.forwarded_roce", 1},
                  {"account.verdicts.ok", 1}, {"account.icrc_errors", 0},
                  {"account.icrc_checked", 0}};
    run_row(r, c, *rig().inline_ports);
}

TEST(PipelineFixtures, PassiveAccountsEverythingAndSendsNothing) {
    Row r;
    r.description =
        "a mirror port: RoCE, other traffic and malformed frames are counted, "
        "nothing is sent, nothing is 'dropped'";
    r.in_port = "mirror";
    Bytes bad = roce_frame();
    bad[42] = 0xff;
    r.input = {mbuf_of(roce_frame()), mbuf_of(arp_frame()), mbuf_of(bad), mbuf_of(psp_frame())};
    r.counters = {{"port.mirror.rx_packets", 4},
                  {"account.verdicts.ok", 1},
                  {"account.verdicts.not_roce", 2},
                  {"account.verdicts.opcode_reserved", 1},
                  {"account.frames", 4},
                  {"account.roce_packets", 1}};
    run_row(r, passive_config(), *rig().passive_ports);
}

// ---- properties ------------------------------------------------------------------------

TEST(PipelineFixtures, AFullTxQueueDropsAndCountsWhatItRefuses) {
    // net_ring's ring holds ~1 K frames and nothing drains it while the worker sends:
    // what it refuses twice is freed and counted, and nothing else goes missing.
    const Config c = inline_config();
    const PortSet& ports = *rig().inline_ports;
    Worker worker(0, c, ports);
    const Bytes f = roce_frame();
    constexpr size_t kFrames = 2048;
    for (size_t at = 0; at < kFrames; at += kBurst) {
        std::array<rte_mbuf*, kBurst> burst;
        for (auto& m : burst) m = mbuf_of(f);
        worker.process(port_index(ports, "up0"), burst.data(), kBurst);
    }
    worker.flush();
    const auto out = drain_outputs(ports);
    const WorkerStats& s = worker.stats();
    const uint64_t host_tx = s.ports[port_index(ports, "host")].tx_packets;
    EXPECT_EQ(s.tx.forwarded_roce, kFrames);
    EXPECT_GT(s.tx.dropped_tx_full, 0u) << "the ring took all 2048 frames: make the test bigger";
    EXPECT_EQ(host_tx + s.tx.dropped_tx_full, kFrames);
    EXPECT_EQ(out.count("host") ? out.at("host").size() : 0u, host_tx);
}

TEST(PipelineFixtures, EcmpKeepsEachQpOnOneUplinkAndUsesBoth) {
    const Config c = inline_config();
    const PortSet& ports = *rig().inline_ports;
    Worker worker(0, c, ports);
    // 32 QPs between 8 host pairs, each 6 packets, interleaved across bursts
    std::vector<rte_mbuf*> in;
    std::map<Bytes, uint32_t> qp_of;  // frame -> QP it belongs to
    for (int round = 0; round < 6; ++round)
        for (uint32_t qp = 0; qp < 32; ++qp) {
            roce::FrameSpec s = test::flow_packet(
                "10.1.0." + std::to_string(1 + qp % 8), "10.2.0." + std::to_string(1 + qp % 5),
                0x100 + qp, opcode::kRcWriteMiddle, uint32_t(1000 + round), 512);
            s.src_port = uint16_t(0xc000 | (qp * 977 % 0x3fff));  // rxe's per-QP port
            Bytes f = test::build(s);
            qp_of[f] = qp;
            in.push_back(mbuf_of(f));
        }
    for (size_t at = 0; at < in.size(); at += kBurst)
        worker.process(0, in.data() + at, uint16_t(std::min<size_t>(kBurst, in.size() - at)));
    worker.flush();
    auto out = drain_outputs(ports);
    EXPECT_TRUE(out["host"].empty());
    std::map<uint32_t, std::set<std::string>> uplinks_of_qp;
    size_t total = 0;
    for (const char* up : {"up0", "up1"})
        for (const Bytes& f : out[up]) {
            ASSERT_TRUE(qp_of.count(f)) << "a frame came out changed";
            uplinks_of_qp[qp_of[f]].insert(up);
            ++total;
        }
    EXPECT_EQ(total, in.size());
    for (auto& [qp, ups] : uplinks_of_qp) EXPECT_EQ(ups.size(), 1u) << "QP " << qp;
    EXPECT_FALSE(out["up0"].empty()) << "32 QPs all hashed to up1";
    EXPECT_FALSE(out["up1"].empty()) << "32 QPs all hashed to up0";
}

TEST(PipelineFixtures, StagesSeeTheFlowIndexWhetherItIsNewAndItsPreviousTime) {
    const Config c = inline_config();
    const PortSet& ports = *rig().inline_ports;
    Pipeline pipeline(c, ports, 0);
    Burst b;
    b.direction = Direction::host_to_fabric;
    b.size = 3;
    const Bytes first = roce_frame(opcode::kRcWriteFirst, 256);
    roce::FrameSpec later = test::spec_for(opcode::kRcWriteMiddle, 256);
    later.bth.psn = 0x101;
    roce::FrameSpec other = later;
    other.bth.dest_qp = 0x12;
    const uint64_t t0 = 1'000'000;
    const Bytes frames[] = {first, test::build(later), test::build(other)};
    for (uint16_t i = 0; i < 3; ++i) {
        b.packets[i].mbuf = mbuf_of(frames[i]);
        b.packets[i].timestamp_ns = t0 + i * 700;
    }
    pipeline.run(b);
    pipeline.flush();
    drain_outputs(ports);
    EXPECT_TRUE(b.packets[0].flow_created);
    EXPECT_EQ(b.packets[0].prev_last_ns, 0u);
    EXPECT_FALSE(b.packets[1].flow_created);
    EXPECT_EQ(b.packets[1].flow, b.packets[0].flow);
    EXPECT_EQ(b.packets[1].prev_last_ns, t0) << "the gap a flowlet rule needs: 700 ns";
    EXPECT_TRUE(b.packets[2].flow_created);
    EXPECT_NE(b.packets[2].flow, b.packets[0].flow);
    for (uint16_t i = 0; i < 3; ++i) {
        EXPECT_EQ(b.packets[i].traffic_class, classify::TrafficClass::unknown);
        EXPECT_FALSE(b.packets[i].dropped);
    }
}

TEST(PipelineFixtures, BalanceApplyRewritesTheSourcePortWithAnIcrcAnIndependentCrcAccepts) {
    const Config c = inline_config();
    const PortSet& ports = *rig().inline_ports;
    Pipeline pipeline(c, ports, 0);
    for (Family fam : {Family::V4, Family::V6}) {
        Burst b;
        b.direction = Direction::host_to_fabric;
        b.size = 1;
        const Bytes f = roce_frame(opcode::kRcSendOnly, 1000, fam, 1);
        PacketState& s = b.packets[0];
        s.mbuf = mbuf_of(f);
        ASSERT_EQ(roce::parse(f, s.packet), roce::Verdict::Ok);
        s.verdict = roce::Verdict::Ok;
        s.path.source_port = 0xd00d;
        BalanceCounters counters;
        balance_apply(b, counters);
        EXPECT_EQ(counters.ports_rewritten, 1u);
        const Bytes got = bytes_of(s.mbuf);
        rte_pktmbuf_free(s.mbuf);
        roce::Packet p;
        ASSERT_EQ(roce::parse(got, p), roce::Verdict::Ok);
        EXPECT_EQ(p.src_port, 0xd00d);
        // zlib over a masked copy, written in the test (test_packets.hpp), not Weft's ICRC
        EXPECT_EQ(test::reference_icrc(got, p.l3_offset, p.icrc_offset), p.wire_icrc());
        Bytes rest_old = f, rest_new = got;
        roce::store_be16(&rest_old[p.l4_offset], 0);
        roce::store_be16(&rest_new[p.l4_offset], 0);
        rest_old.resize(p.icrc_offset);
        rest_new.resize(p.icrc_offset);
        EXPECT_EQ(rest_old, rest_new) << "only the port and the ICRC may change";
    }
}

TEST(PipelineFixtures, ClassifyRulesNameEachPacketsClassFirstMatchWins) {
    Config c = inline_config();
    classify::ClassRule inference;
    inference.traffic_class = classify::TrafficClass::inference;
    inference.dscp = 26;
    classify::ClassRule gradient;
    gradient.traffic_class = classify::TrafficClass::gradient;
    gradient.destinations = {*roce::IpPrefix::parse("10.0.0.0/24")};
    c.classify.rules = {inference, gradient};
    const PortSet& ports = *rig().inline_ports;
    Pipeline pipeline(c, ports, 0);
    Burst b;
    b.direction = Direction::host_to_fabric;
    b.size = 3;
    roce::FrameSpec marked = test::spec_for(opcode::kRcSendOnly, 64);
    marked.dscp = 26;
    roce::FrameSpec plain = test::spec_for(opcode::kRcWriteMiddle, 256);  // to 10.0.0.2
    plain.dscp = 0;  // the builder's default is 26
    roce::FrameSpec elsewhere = plain;
    elsewhere.dst = test::ip("10.9.0.2");
    const Bytes frames[] = {test::build(marked), test::build(plain), test::build(elsewhere)};
    for (uint16_t i = 0; i < 3; ++i) {
        b.packets[i].mbuf = mbuf_of(frames[i]);
        b.packets[i].timestamp_ns = 1'000'000 + i;
    }
    pipeline.run(b);
    pipeline.flush();
    drain_outputs(ports);
    EXPECT_EQ(b.packets[0].traffic_class, classify::TrafficClass::inference);
    EXPECT_EQ(b.packets[1].traffic_class, classify::TrafficClass::gradient);
    EXPECT_EQ(b.packets[2].traffic_class, classify::TrafficClass::unknown);
}

TEST(PipelineFixtures, FlowletKeepsAQpOnOnePathInsideAFlowletAndMovesItOnlyAtGaps) {
    Config c = inline_config();
    c.balance.policy = BalancePolicy::flowlet;
    c.balance.source_ports = 4;      // 2 uplinks x 4 ports: 8 paths
    c.balance.flowlet_gap_us = 100;  // rounds 1 ms apart: a new flowlet each round
    const PortSet& ports = *rig().inline_ports;
    Pipeline pipeline(c, ports, 0);
    constexpr uint32_t kQps = 16, kRounds = 4, kPerRound = 4;
    const uint64_t t0 = 1'000'000'000;
    // (qp, round) -> the paths its frames took; the PSN says which round and packet
    std::map<std::pair<uint32_t, uint32_t>, std::set<std::pair<std::string, uint16_t>>> paths;
    size_t total = 0;
    for (uint32_t round = 0; round < kRounds; ++round) {
        std::vector<Bytes> frames;
        std::vector<uint64_t> times;
        for (uint32_t i = 0; i < kPerRound; ++i)
            for (uint32_t qp = 0; qp < kQps; ++qp) {
                roce::FrameSpec f =
                    test::flow_packet("10.1.0.1", "10.2.0.1", 0x100 + qp, opcode::kRcWriteMiddle,
                                      round * kPerRound + i, 512);
                f.src_port = uint16_t(0xc000 | qp);
                frames.push_back(test::build(f));
                times.push_back(t0 + round * 1'000'000 + frames.size() * 1000);  // 1 us apart
            }
        for (size_t at = 0; at < frames.size(); at += kBurst) {
            Burst b;
            b.direction = Direction::host_to_fabric;
            b.size = uint16_t(std::min<size_t>(kBurst, frames.size() - at));
            for (uint16_t k = 0; k < b.size; ++k) {
                b.packets[k].mbuf = mbuf_of(frames[at + k]);
                b.packets[k].timestamp_ns = times[at + k];
            }
            pipeline.run(b);
            pipeline.flush();
        }
        for (auto& [port, out] : drain_outputs(ports))
            for (const Bytes& f : out) {
                roce::Packet p;
                ASSERT_EQ(roce::parse(f, p), roce::Verdict::Ok);
                // the ICRC after the rewrite, by zlib over a masked copy (not Weft's code)
                EXPECT_EQ(test::reference_icrc(f, p.l3_offset, p.icrc_offset), p.wire_icrc());
                EXPECT_GE(p.src_port, 0xC000);
                EXPECT_LT(p.src_port, 0xC000 + 4);
                paths[{p.bth.dest_qp, p.bth.psn / kPerRound}].insert({port, p.src_port});
                ++total;
            }
    }
    EXPECT_EQ(total, size_t(kQps * kRounds * kPerRound));
    std::set<std::pair<std::string, uint16_t>> used;
    size_t moved = 0;
    for (uint32_t qp = 0; qp < kQps; ++qp)
        for (uint32_t round = 0; round < kRounds; ++round) {
            const auto& within = paths[{0x100 + qp, round}];
            ASSERT_EQ(within.size(), 1u) << "QP " << qp << " changed path inside a flowlet";
            used.insert(*within.begin());
            if (round && *within.begin() != *paths[{0x100 + qp, round - 1}].begin()) ++moved;
        }
    EXPECT_GE(used.size(), 6u) << "8 paths, 64 flowlets: nearly all should be used";
    const BalanceCounters& n = pipeline.stats().balance;
    EXPECT_EQ(n.flowlets, kQps * kRounds);
    EXPECT_EQ(n.path_changes, moved);
    EXPECT_GT(moved, 0u);
}

// ---- path signals, spraying and the reorder buffer ---------------------------------------

// A run of host -> fabric (or fabric -> host) frames through `pipeline` at `now_ns`, in
// bursts, then flushed.
void push_frames(Pipeline& pipeline, const PortSet& ports, Direction d, const std::string& in_port,
                 const std::vector<Bytes>& frames, uint64_t now_ns) {
    for (size_t at = 0; at < frames.size(); at += kBurst) {
        Burst b;
        b.direction = d;
        b.in_port = port_index(ports, in_port);
        b.now_ns = now_ns;
        b.size = uint16_t(std::min<size_t>(kBurst, frames.size() - at));
        for (uint16_t k = 0; k < b.size; ++k) {
            b.packets[k].mbuf = mbuf_of(frames[at + k]);
            b.packets[k].timestamp_ns = now_ns;
        }
        pipeline.run(b);
        pipeline.flush();
    }
}

Bytes write_packet(const char* src, const char* dst, uint32_t qp, uint32_t psn) {
    return test::build(test::flow_packet(src, dst, qp, opcode::kRcWriteMiddle, psn, 256));
}

TEST(PipelineFixtures, ANakFromTheFabricIsChargedToThePathItsPsnLeftOnAndAResendToo) {
    Config c = inline_config();
    c.balance.policy = BalancePolicy::congestion;
    const PortSet& ports = *rig().inline_ports;
    Pipeline pipeline(c, ports, 0);
    const uint64_t t0 = 5'000'000'000;
    std::vector<Bytes> sent;
    for (uint32_t psn = 100; psn < 110; ++psn)
        sent.push_back(write_packet("10.1.0.1", "10.2.0.1", 0x77, psn));
    push_frames(pipeline, ports, Direction::host_to_fabric, "host", sent, t0);
    auto out = drain_outputs(ports);
    ASSERT_EQ(out.size(), 1u) << "one QP, one path";
    const std::string uplink = out.begin()->first;
    const uint32_t path = uplink == "up0" ? 0 : 1;
    // the responder NAKs PSN 105 (sequence error) from the fabric
    roce::FrameSpec nak =
        test::flow_packet("10.2.0.1", "10.1.0.1", 0x55, opcode::kRcAcknowledge, 105, 0);
    nak.aeth.syndrome = 0x60;
    push_frames(pipeline, ports, Direction::fabric_to_host, uplink, {test::build(nak)}, t0 + 1000);
    // and the requester goes back to 105
    push_frames(pipeline, ports, Direction::host_to_fabric, "host",
                {write_packet("10.1.0.1", "10.2.0.1", 0x77, 105)}, t0 + 2000);
    drain_outputs(ports);
    const auto readings = pipeline.balance_shared().monitor.readings();
    EXPECT_EQ(readings[path].signals[size_t(balance::Signal::nak)], 1u);
    EXPECT_EQ(readings[path].signals[size_t(balance::Signal::retransmit)], 1u);
    EXPECT_EQ(readings[1 - path].signals[size_t(balance::Signal::nak)], 0u);
    EXPECT_EQ(readings[path].packets, 11u);
    EXPECT_EQ(pipeline.stats().balance.naks_charged, 1u);
    EXPECT_EQ(pipeline.stats().balance.retransmits_seen, 1u);
    // a NAK for a PSN never sent has no path: counted, charged to none
    nak.bth.psn = 9999;
    push_frames(pipeline, ports, Direction::fabric_to_host, uplink, {test::build(nak)}, t0 + 3000);
    drain_outputs(ports);
    EXPECT_EQ(pipeline.stats().balance.feedback_unmatched, 1u);
}

TEST(PipelineFixtures, ReorderReleasesASprayedQpInPsnOrderTimesOutAGapAndOverflows) {
    Config c = inline_config();
    c.balance.reorder = true;
    c.balance.reorder_hosts = {*roce::IpPrefix::parse("10.1.0.1")};
    c.balance.reorder_depth = 16;
    c.balance.reorder_timeout_us = 100;
    const PortSet& ports = *rig().inline_ports;
    Pipeline pipeline(c, ports, 0);  // its offers go to the uplinks; only the host is read
    const uint64_t t0 = 9'000'000'000;
    auto frames = [](std::vector<uint32_t> psns) {
        std::vector<Bytes> v;
        for (uint32_t p : psns) v.push_back(write_packet("10.2.0.1", "10.1.0.1", 0x42, p));
        return v;
    };
    auto host_psns = [&]() {
        std::vector<uint32_t> v;
        auto out = drain_outputs(ports);
        for (const Bytes& f : out["host"]) {
            roce::Packet p;
            EXPECT_EQ(roce::parse(f, p), roce::Verdict::Ok);
            v.push_back(p.bth.psn);
        }
        return v;
    };
    // a new QP, sprayed over two uplinks: its second frame first. Held until its first PSN
    // is known (the start), then in order
    push_frames(pipeline, ports, Direction::fabric_to_host, "up1", frames({0xfffffe}), t0);
    push_frames(pipeline, ports, Direction::fabric_to_host, "up0", frames({0xfffffd}), t0 + 10);
    EXPECT_TRUE(host_psns().empty());
    pipeline.housekeeping(t0 + 200'000);
    pipeline.flush();
    EXPECT_EQ(host_psns(), std::vector<uint32_t>({0xfffffd, 0xfffffe}));
    // out of order across the 24-bit wrap, from both uplinks: out in PSN order
    push_frames(pipeline, ports, Direction::fabric_to_host, "up0", frames({0x000001, 0xffffff}),
                t0 + 300'000);
    push_frames(pipeline, ports, Direction::fabric_to_host, "up1", frames({0x000002, 0x000000}),
                t0 + 300'010);
    EXPECT_EQ(host_psns(), std::vector<uint32_t>({0xffffff, 0, 1, 2}));
    // 3 lost: 4 and 5 wait, then go as they are after the timeout (the RNIC NAKs 3)
    push_frames(pipeline, ports, Direction::fabric_to_host, "up0", frames({4, 5}), t0 + 400'000);
    EXPECT_TRUE(host_psns().empty());
    pipeline.housekeeping(t0 + 450'000);
    pipeline.flush();
    EXPECT_TRUE(host_psns().empty());
    pipeline.housekeeping(t0 + 500'001);
    pipeline.flush();
    EXPECT_EQ(host_psns(), std::vector<uint32_t>({4, 5}));
    // 7 lost, 8 held; then 40 is beyond the 16-frame buffer: 8, then 40
    push_frames(pipeline, ports, Direction::fabric_to_host, "up1", frames({6, 8, 40}),
                t0 + 600'000);
    EXPECT_EQ(host_psns(), std::vector<uint32_t>({6, 8, 40}));
    const ReorderStageCounters& r = pipeline.stats().reorder;
    EXPECT_EQ(r.starts, 1u);
    EXPECT_EQ(r.timeouts, 1u);
    EXPECT_EQ(r.released_on_timeout, 2u);
    EXPECT_EQ(r.overflows, 1u);
    EXPECT_EQ(r.released_on_overflow, 1u);
    EXPECT_GE(r.released_in_order, 4u);
    EXPECT_EQ(pipeline.stats().tx.forwarded_roce, 11u);  // every frame once, none lost
}

TEST(PipelineFixtures, AReorderOfferIsConsumedAndOnlyThenDoesSprayUseEveryUplink) {
    const PortSet& ports = *rig().inline_ports;
    Config receiver = inline_config();
    receiver.balance.reorder = true;
    receiver.balance.reorder_hosts = {*roce::IpPrefix::parse("10.2.0.0/24")};
    Config sender = inline_config();
    sender.balance.policy = BalancePolicy::spray;
    const uint64_t t0 = 20'000'000'000;
    std::vector<Bytes> offers;
    {
        Pipeline r(receiver, ports, 0);
        r.housekeeping(t0);  // worker 0 offers at once, on each uplink
        r.flush();
        auto out = drain_outputs(ports);
        ASSERT_EQ(out["up0"].size(), 1u);
        ASSERT_EQ(out["up1"].size(), 1u);
        offers = out["up0"];
        EXPECT_EQ(r.stats().balance.offers_sent, 2u);
    }
    Pipeline s(sender, ports, 0);
    auto qp_frames = [](uint32_t first) {
        std::vector<Bytes> v;
        for (uint32_t psn = first; psn < first + 8; ++psn)
            v.push_back(write_packet("10.1.0.1", "10.2.0.9", 0x99, psn));
        return v;
    };
    // before any offer: one QP keeps one path
    push_frames(s, ports, Direction::host_to_fabric, "host", qp_frames(0), t0);
    auto before = drain_outputs(ports);
    EXPECT_EQ(before.size(), 1u);
    EXPECT_EQ(s.stats().balance.sprayed, 0u);
    // the offer from the fabric: learnt, never forwarded to the host
    push_frames(s, ports, Direction::fabric_to_host, "up0", offers, t0 + 1000);
    EXPECT_TRUE(drain_outputs(ports).empty());
    EXPECT_EQ(s.stats().balance.offers_received, 1u);
    push_frames(s, ports, Direction::host_to_fabric, "host", qp_frames(8), t0 + 2000);
    auto after = drain_outputs(ports);
    EXPECT_EQ(after["up0"].size(), 4u);  // every request on the next path in turn
    EXPECT_EQ(after["up1"].size(), 4u);
    EXPECT_EQ(s.stats().balance.sprayed, 8u);
    // an offer is good for three intervals: after that, no spraying
    push_frames(s, ports, Direction::host_to_fabric, "host", qp_frames(16), t0 + 3'100'000'000);
    EXPECT_EQ(drain_outputs(ports).size(), 1u);
    // a malformed weft frame is dropped and counted
    Bytes bad = offers[0];
    bad[14] = 'X';
    push_frames(s, ports, Direction::fabric_to_host, "up1", {bad}, t0 + 3'200'000'000);
    EXPECT_TRUE(drain_outputs(ports).empty());
    EXPECT_EQ(s.stats().balance.offers_bad, 1u);
}

// RFC 791's header checksum over the IPv4 header at `l3`, summed from scratch (the check
// the receiving stack makes): 0 when the header is intact.
uint16_t ipv4_header_sum(const Bytes& f, size_t l3) {
    uint32_t sum = 0;
    const size_t len = size_t(f[l3] & 0x0f) * 4;
    for (size_t i = 0; i < len; i += 2) sum += uint32_t(f[l3 + i] << 8 | f[l3 + i + 1]);
    while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
    return uint16_t(~sum);
}

TEST(PipelineFixtures, EachClassItsOwnPolicyAndMarkInferenceNeverSprayed) {
    const PortSet& ports = *rig().inline_ports;
    Config c = inline_config();
    c.balance.policy = BalancePolicy::spray;
    classify::ClassRule inference;
    inference.traffic_class = classify::TrafficClass::inference;
    inference.dscp = 34;
    classify::ClassRule gradient;
    gradient.traffic_class = classify::TrafficClass::gradient;
    gradient.dscp = 26;
    c.classify.rules = {inference, gradient};
    c.balance.classes[size_t(classify::TrafficClass::inference)] = {true, BalancePolicy::congestion,
                                                                    46};
    Pipeline p(c, ports, 0);
    // as if a weftd across the fabric had offered to reorder for 10.2.0.0/16
    const_cast<BalanceShared&>(p.balance_shared())
        .peers.offer(*roce::IpPrefix::parse("10.2.0.0/16"), UINT64_MAX);
    std::vector<Bytes> frames;
    for (uint32_t psn = 0; psn < 8; ++psn) {
        roce::FrameSpec g =
            test::flow_packet("10.1.0.1", "10.2.0.1", 0x10, opcode::kRcWriteMiddle, psn, 256);
        g.dscp = 26;
        roce::FrameSpec i =
            test::flow_packet("10.1.0.1", "10.2.0.1", 0x20, opcode::kRcSendOnly, psn, 64);
        i.dscp = 34;
        frames.push_back(test::build(g));
        frames.push_back(test::build(i));
    }
    push_frames(p, ports, Direction::host_to_fabric, "host", frames, 30'000'000'000);
    std::map<uint32_t, std::set<std::string>> uplinks;  // QP -> the uplinks it left on
    size_t inference_seen = 0;
    for (auto& [port, out] : drain_outputs(ports))
        for (const Bytes& f : out) {
            roce::Packet pkt;
            ASSERT_EQ(roce::parse(f, pkt), roce::Verdict::Ok);
            uplinks[pkt.bth.dest_qp].insert(port);
            EXPECT_EQ(ipv4_header_sum(f, pkt.l3_offset), 0) << "IPv4 header checksum";
            EXPECT_EQ(test::reference_icrc(f, pkt.l3_offset, pkt.icrc_offset), pkt.wire_icrc());
            if (pkt.bth.dest_qp == 0x20) {
                EXPECT_EQ(pkt.dscp, 46) << "inference marked";
                EXPECT_EQ(pkt.ecn, 2) << "ECN kept";
                ++inference_seen;
            } else {
                EXPECT_EQ(pkt.dscp, 26) << "gradient left as it was";
            }
        }
    EXPECT_EQ(inference_seen, 8u);
    EXPECT_EQ(uplinks[0x20].size(), 1u) << "inference: one path, never sprayed";
    EXPECT_EQ(uplinks[0x10].size(), 2u) << "gradient: sprayed over both uplinks";
    EXPECT_EQ(p.stats().balance.dscp_marked, 8u);
    EXPECT_EQ(p.stats().balance.sprayed, 8u);
}

}  // namespace

// ---- PSP between two weftd: crypt.seal on one, crypt.open on the other ------------------

namespace psp_fixture {

std::string key_file() {
    return weft::test::spec_master_key_file();
}

// weftd A serves 10.0.0.1 and seals for B, which serves 10.0.0.2; B seals for A.
Config side(uint32_t rx_spi, const char* peer_hosts, uint32_t peer_spi) {
    Config c = inline_config();
    c.psp.master_keys = key_file();
    c.psp.rx_spi = rx_spi;
    c.psp.peers = {{"peer", {*roce::IpPrefix::parse(peer_hosts)}, peer_spi}};
    return c;
}
constexpr uint32_t kSpiA = 0x11111111, kSpiB = 0x22222222;

struct Outcome {
    std::map<std::string, std::vector<Bytes>> out;
    std::map<std::string, uint64_t> counters;
};

Outcome run(const Config& c, const std::string& in_port, const std::vector<Bytes>& frames) {
    const PortSet& ports = *rig().inline_ports;
    Worker worker(0, c, ports);
    std::vector<rte_mbuf*> in;
    for (const Bytes& f : frames) in.push_back(mbuf_of(f));
    worker.process(port_index(ports, in_port), in.data(), uint16_t(in.size()));
    worker.flush();
    return {drain_outputs(ports), flatten(worker.stats(), ports)};
}

std::vector<Bytes> all_out(const Outcome& r) {
    std::vector<Bytes> v;
    for (auto& [port, frames] : r.out) v.insert(v.end(), frames.begin(), frames.end());
    return v;
}

}  // namespace psp_fixture

TEST(PipelineFixtures, PspSealedByOneWeftdOpensOnTheOtherAndNothingElseDoes) {
    using namespace psp_fixture;
    const Config a = side(kSpiA, "10.0.0.2/32", kSpiB), b = side(kSpiB, "10.0.0.1/32", kSpiA);
    const Bytes original = roce_frame();  // 10.0.0.1 -> 10.0.0.2

    // A: host -> fabric, sealed for B
    const Outcome sealed = run(a, "host", {original});
    const std::vector<Bytes> wire = all_out(sealed);
    ASSERT_EQ(wire.size(), 1u);
    EXPECT_TRUE(roce::is_psp(roce::locate(wire[0])));
    EXPECT_EQ(wire[0].size(), original.size() + 40);
    // the payload does not cross the fabric in the clear
    EXPECT_EQ(std::search(wire[0].begin(), wire[0].end(), original.end() - 64, original.end() - 4),
              wire[0].end());
    EXPECT_EQ(sealed.counters.at("crypt.tx_packets"), 1u);
    EXPECT_EQ(sealed.counters.at("crypt.tx_bytes"), original.size());

    // B: fabric -> host, opened: the host gets the original, byte for byte
    const Outcome opened = run(b, "up0", {wire[0]});
    ASSERT_EQ(opened.out.count("host"), 1u);
    ASSERT_EQ(opened.out.at("host").size(), 1u);
    EXPECT_EQ(opened.out.at("host")[0], original);
    EXPECT_EQ(opened.counters.at("crypt.rx_packets"), 1u);
    EXPECT_EQ(opened.counters.at("account.verdicts.ok"), 1u);  // B accounts the plaintext

    // the same frame again (a fresh worker: the replay window is the SA's, per worker;
    // send both in one burst so one worker sees the replay)
    const Outcome twice = run(b, "up0", {wire[0], wire[0]});
    EXPECT_EQ(twice.counters.at("crypt.rx_packets"), 1u);
    EXPECT_EQ(twice.counters.at("crypt.rx_replay"), 1u);

    // a flipped bit in the ciphertext
    Bytes tampered = wire[0];
    tampered[tampered.size() - 40] ^= 1;
    const Outcome forged = run(b, "up0", {tampered});
    EXPECT_TRUE(all_out(forged).empty());
    EXPECT_EQ(forged.counters.at("crypt.rx_auth_fail"), 1u);

    // zero trust: RoCE in the clear from a host behind the PSP peer is dropped
    const Outcome clear = run(b, "up0", {original});
    EXPECT_TRUE(all_out(clear).empty());
    EXPECT_EQ(clear.counters.at("crypt.rx_plaintext_dropped"), 1u);

    // a weftd that does not hold the SPI's SA: unknown SPI, dropped
    const Config c = side(0x33333333, "10.0.0.9/32", kSpiA);
    const Outcome stranger = run(c, "up0", {wire[0]});
    EXPECT_TRUE(all_out(stranger).empty());
    EXPECT_EQ(stranger.counters.at("crypt.rx_unknown_spi"), 1u);

    // a destination behind no peer passes in the clear, untouched
    roce::FrameSpec other = test::spec_for(opcode::kRcWriteMiddle, 256);
    other.dst = test::ip("10.0.0.3");
    const Bytes elsewhere = test::build(other);
    const Outcome plain = run(a, "host", {elsewhere});
    ASSERT_EQ(all_out(plain).size(), 1u);
    EXPECT_EQ(all_out(plain)[0], elsewhere);
    EXPECT_EQ(plain.counters.at("crypt.tx_packets"), 0u);
}

TEST(PipelineFixtures, PspProtectsPrefixPairsAndOnlyThose) {
    using namespace psp_fixture;
    // A protects 10.0.0.1 <-> 10.0.0.2 only; B the same pair from its side
    Config a = side(kSpiA, "10.0.0.2/32", kSpiB), b = side(kSpiB, "10.0.0.1/32", kSpiA);
    a.psp.peers[0].local_hosts = {*roce::IpPrefix::parse("10.0.0.1/32")};
    b.psp.peers[0].local_hosts = {*roce::IpPrefix::parse("10.0.0.2/32")};
    auto frame = [](const char* src, const char* dst) {
        roce::FrameSpec f = test::spec_for(opcode::kRcWriteMiddle, 256);
        f.src = test::ip(src);
        f.dst = test::ip(dst);
        return test::build(f);
    };
    // A: the pair is sealed; another local host's traffic to the same peer host is not
    const Outcome pair = run(a, "host", {frame("10.0.0.1", "10.0.0.2")});
    ASSERT_EQ(all_out(pair).size(), 1u);
    EXPECT_TRUE(roce::is_psp(roce::locate(all_out(pair)[0])));
    const Bytes other = frame("10.0.0.5", "10.0.0.2");
    const Outcome outside = run(a, "host", {other});
    ASSERT_EQ(all_out(outside).size(), 1u);
    EXPECT_EQ(all_out(outside)[0], other);
    // B: plaintext of the protected pair is dropped; of another pair, delivered
    const Outcome clear_pair = run(b, "up0", {frame("10.0.0.1", "10.0.0.2")});
    EXPECT_TRUE(all_out(clear_pair).empty());
    EXPECT_EQ(clear_pair.counters.at("crypt.rx_plaintext_dropped"), 1u);
    const Outcome clear_other = run(b, "up0", {frame("10.0.0.1", "10.0.0.3")});
    EXPECT_EQ(all_out(clear_other).size(), 1u);
    EXPECT_EQ(clear_other.counters.at("crypt.rx_plaintext_dropped"), 0u);
    // and what A sealed opens at B
    const Outcome opened = run(b, "up0", {all_out(pair)[0]});
    EXPECT_EQ(opened.counters.at("crypt.rx_packets"), 1u);
}

TEST(PipelineFixtures, FlowletRewritesTheOuterPortOfASealedFrameWhichStillOpens) {
    using namespace psp_fixture;
    Config a = side(kSpiA, "10.0.0.2/32", kSpiB);
    a.balance.policy = BalancePolicy::flowlet;
    a.balance.source_ports = 4;
    const Config b = side(kSpiB, "10.0.0.1/32", kSpiA);
    const Bytes original = roce_frame();
    const Outcome sealed = run(a, "host", {original});
    ASSERT_EQ(all_out(sealed).size(), 1u);
    const Bytes wire = all_out(sealed)[0];
    const uint16_t outer_sport = roce::load_be16(wire.data() + 14 + 20);
    EXPECT_GE(outer_sport, 0xC000);
    EXPECT_LT(outer_sport, 0xC000 + 4);
    EXPECT_EQ(sealed.counters.at("balance.sealed_ports_rewritten"), 1u);
    const Outcome opened = run(b, "up0", {wire});
    ASSERT_EQ(opened.out.count("host"), 1u);
    EXPECT_EQ(opened.out.at("host").at(0), original);  // the inner port untouched
}

TEST(PipelineFixtures, PspNeverSendsAFrameTheFabricMtuCannotTake) {
    using namespace psp_fixture;
    const Config a = side(kSpiA, "10.0.0.2/32", kSpiB);
    uint16_t mtu = 0;
    ASSERT_EQ(rte_eth_dev_get_mtu(rig().inline_ports->ports()[1].id, &mtu), 0);
    // a frame that fits the fabric as it is, but not with the 40 bytes sealing adds
    const uint32_t payload = uint32_t(mtu) - 20 - 8 - 12 - 4 - 20;
    const Outcome big = run(a, "host", {roce_frame(opcode::kRcWriteMiddle, payload)});
    EXPECT_TRUE(all_out(big).empty());
    EXPECT_EQ(big.counters.at("crypt.tx_too_big"), 1u);
    EXPECT_EQ(big.counters.at("crypt.tx_packets"), 0u);
    const Outcome fits = run(a, "host", {roce_frame(opcode::kRcWriteMiddle, payload - 40)});
    EXPECT_EQ(all_out(fits).size(), 1u);
    EXPECT_EQ(fits.counters.at("crypt.tx_packets"), 1u);
}

namespace psp_fixture {

// A key file of the test's own that the rotation tests rewrite.
std::string rewritable_key_file(const std::string& text) {
    static const std::string path = [] {
        char tmpl[] = "/tmp/weft-psp-rotation-XXXXXX";
        return std::string(::mkdtemp(tmpl)) + "/master.keys";
    }();
    const std::string tmp = path + ".new";
    FILE* f = std::fopen(tmp.c_str(), "w");
    std::fputs(text.c_str(), f);
    std::fclose(f);
    ::chmod(tmp.c_str(), 0600);
    std::rename(tmp.c_str(), path.c_str());
    return path;
}
constexpr const char* kKey0 = "34448a064292601b11a0978f56a2d34cf3fc35ede1a6bc04f8db3e5243a2b0ca\n";
constexpr const char* kKey1 = "563952565d3a78ae773ec1b779f2f2d99f4a7f53a6fbb9b07d5b71f39364d739\n";
constexpr const char* kNewKey0 =
    "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\n";
constexpr const char* kNewKey1 =
    "ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100\n";

uint32_t spi_of(const Bytes& f) {
    return roce::load_be32(f.data() + 14 + 20 + 8 + 4);
}

// One worker of a weftd whose PSP follows a key state, as Instance wires them.
struct Side {
    Side(Config c, const PortSet& ports)
        : config(std::move(c)), state(config.psp), worker(0, config, ports) {
        worker.pipeline().psp().follow(&state);
    }
    Config config;
    PspKeyState state;
    Worker worker;
};

}  // namespace psp_fixture

TEST(PipelineFixtures, PspKeyRotationLosesNothing) {
    using namespace psp_fixture;
    const PortSet& ports = *rig().inline_ports;
    Config ca = side(kSpiA, "10.0.0.2/32", kSpiB), cb = side(kSpiB, "10.0.0.1/32", kSpiA);
    ca.psp.master_keys = cb.psp.master_keys = rewritable_key_file(std::string(kKey0) + kKey1);
    Side a(ca, ports), b(cb, ports);
    auto send = [&](const Bytes& f) {
        rte_mbuf* m = mbuf_of(f);
        a.worker.process(port_index(ports, "host"), &m, 1);
        a.worker.flush();
        auto out = all_out({drain_outputs(ports), {}});
        EXPECT_EQ(out.size(), 1u);
        return out.empty() ? Bytes{} : out[0];
    };
    const Bytes original = roce_frame();
    std::vector<Bytes> wire = {send(original)};
    // `weftctl keys rotate` with the same file: the other key, at once
    const PspRotation r = a.state.rotate();
    EXPECT_EQ(r.generation, 1u);
    EXPECT_FALSE(r.new_key);
    wire.push_back(send(original));
    wire.push_back(send(original));
    EXPECT_EQ(spi_of(wire[0]), kSpiB);
    EXPECT_EQ(spi_of(wire[1]), kSpiB | 0x80000000u);  // master key 1
    EXPECT_EQ(a.worker.stats().crypt.key_rotations, 1u);
    // frames of both generations, even the old one arriving after the new, all open
    for (const Bytes* f : {&wire[1], &wire[0], &wire[2]}) {
        rte_mbuf* m = mbuf_of(*f);
        b.worker.process(port_index(ports, "up0"), &m, 1);
    }
    b.worker.flush();
    auto opened = drain_outputs(ports);
    ASSERT_EQ(opened["host"].size(), 3u);
    for (const Bytes& f : opened["host"]) EXPECT_EQ(f, original);
    EXPECT_EQ(b.worker.stats().crypt.rx_packets, 3u);
    EXPECT_EQ(b.worker.stats().crypt.rx_auth_fail, 0u);
}

TEST(PipelineFixtures, PspANewMasterKeyIsReceivedFirstSentAfterTheDelayAndTheOldGoesStale) {
    using namespace psp_fixture;
    const PortSet& ports = *rig().inline_ports;
    Config ca = side(kSpiA, "10.0.0.2/32", kSpiB), cb = side(kSpiB, "10.0.0.1/32", kSpiA);
    ca.psp.master_keys = cb.psp.master_keys = rewritable_key_file(std::string(kKey0) + kKey1);
    ca.psp.rotate_send_delay_ms = cb.psp.rotate_send_delay_ms = 300;
    Side a(ca, ports), b(cb, ports);
    auto send = [&]() {
        rte_mbuf* m = mbuf_of(roce_frame());
        a.worker.process(port_index(ports, "host"), &m, 1);
        a.worker.flush();
        auto out = all_out({drain_outputs(ports), {}});
        return out.size() == 1 ? out[0] : Bytes{};
    };
    auto receive = [&](const Bytes& f) {
        rte_mbuf* m = mbuf_of(f);
        b.worker.process(port_index(ports, "up0"), &m, 1);
        b.worker.flush();
        return drain_outputs(ports)["host"].size();
    };
    // generation 0 (key 0) in use; sealed under the old key 0 before anything changes
    const Bytes old_key0 = send();
    // the operator replaces key 1 (not in use) and rotates both weftd
    rewritable_key_file(std::string(kKey0) + kNewKey1);
    EXPECT_TRUE(b.state.rotate().new_key);
    const PspRotation r = a.state.rotate();
    EXPECT_TRUE(r.new_key);
    EXPECT_EQ(r.send_in_ms, 300u);
    // within the delay the senders keep key 0; a second rotation now is refused
    const Bytes during = send();
    EXPECT_EQ(spi_of(during), kSpiB);
    EXPECT_THROW(a.state.rotate(), DataplaneError);
    EXPECT_EQ(receive(during), 1u);
    std::this_thread::sleep_for(std::chrono::milliseconds(350));
    // after it, the new key 1 (generation 1), which B loaded first: it opens
    const Bytes after = send();
    EXPECT_EQ(spi_of(after), kSpiB | 0x80000000u);
    EXPECT_EQ(receive(after), 1u);
    EXPECT_EQ(receive(old_key0), 1u);  // key 0 is the previous generation: still valid
    EXPECT_EQ(b.worker.stats().crypt.rx_auth_fail, 0u);
    EXPECT_GE(b.worker.stats().crypt.stale_events, 1u);  // B's receive SA under the old key 1

    // the next rotation replaces key 0: what was sealed under the old key 0 is stale
    rewritable_key_file(std::string(kNewKey0) + kNewKey1);
    b.state.rotate();
    EXPECT_EQ(receive(old_key0), 0u);
    EXPECT_EQ(b.worker.stats().crypt.rx_auth_fail, 1u);

    // both keys replaced at once: refused, the state as it was
    rewritable_key_file(std::string(kKey0) + kKey1);
    const uint32_t before = b.state.epoch().generation;
    EXPECT_THROW(b.state.rotate(), DataplaneError);
    EXPECT_EQ(b.state.epoch().generation, before);
}

TEST(PipelineFixtures, PspAWorkerIdleThroughTwoRotationsNeverSealsWithAStaleKey) {
    // found by softroce-psp: a worker with no traffic kept its senders on a generation
    // whose key the next rotation replaced, and sealed under it for the send delay
    using namespace psp_fixture;
    const PortSet& ports = *rig().inline_ports;
    Config ca = side(kSpiA, "10.0.0.2/32", kSpiB), cb = side(kSpiB, "10.0.0.1/32", kSpiA);
    ca.psp.master_keys = cb.psp.master_keys = rewritable_key_file(std::string(kKey0) + kKey1);
    ca.psp.rotate_send_delay_ms = cb.psp.rotate_send_delay_ms = 100;
    Side a(ca, ports), b(cb, ports);
    rewritable_key_file(std::string(kKey0) + kNewKey1);  // generation 1: key 1 replaced
    b.state.rotate();
    a.state.rotate();
    std::this_thread::sleep_for(std::chrono::milliseconds(150));
    rewritable_key_file(std::string(kNewKey0) + kNewKey1);  // generation 2: key 0 replaced
    b.state.rotate();
    a.state.rotate();
    // A's worker has seen neither rotation; within the second one's delay it seals with
    // the new key 1 (generation 1), never the old key 0
    rte_mbuf* m = mbuf_of(roce_frame());
    a.worker.process(port_index(ports, "host"), &m, 1);
    a.worker.flush();
    auto out = all_out({drain_outputs(ports), {}});
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(spi_of(out[0]), kSpiB | 0x80000000u);
    rte_mbuf* in = mbuf_of(out[0]);
    b.worker.process(port_index(ports, "up0"), &in, 1);
    b.worker.flush();
    EXPECT_EQ(drain_outputs(ports)["host"].size(), 1u);
    EXPECT_EQ(b.worker.stats().crypt.rx_auth_fail, 0u);
}

TEST(PipelineFixtures, PspAWeftdRestartedBehindARotatedFleetSealsWithTheNewKeyAtOnce) {
    using namespace psp_fixture;
    const PortSet& ports = *rig().inline_ports;
    Config ca = side(kSpiA, "10.0.0.2/32", kSpiB);
    ca.psp.master_keys = rewritable_key_file(std::string(kKey0) + kKey1);
    ca.psp.rotate_send_delay_ms = 60'000;
    Side a(ca, ports);  // generation 0: key 0
    // the fleet replaced key 0 while this weftd was down... and it rotates with it
    rewritable_key_file(std::string(kNewKey0) + kKey1);
    const PspRotation r = a.state.rotate();
    EXPECT_EQ(r.generation, 2u);  // key 0 again: the new one
    EXPECT_EQ(r.send_in_ms, 0u);  // at once: the peers hold the old key 0 as stale already
    rte_mbuf* m = mbuf_of(roce_frame());
    a.worker.process(port_index(ports, "host"), &m, 1);
    a.worker.flush();
    auto out = all_out({drain_outputs(ports), {}});
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(spi_of(out[0]), kSpiB);
    // a receiver holding the new key 0 opens it; one holding only the old keys does not
    Config cb = side(kSpiB, "10.0.0.1/32", kSpiA);
    cb.psp.master_keys = ca.psp.master_keys;
    Side fresh(cb, ports);
    rte_mbuf* in = mbuf_of(out[0]);
    fresh.worker.process(port_index(ports, "up0"), &in, 1);
    fresh.worker.flush();
    EXPECT_EQ(drain_outputs(ports)["host"].size(), 1u);
    const Outcome stale = run(side(kSpiB, "10.0.0.1/32", kSpiA), "up0", {out[0]});
    EXPECT_EQ(stale.counters.at("crypt.rx_auth_fail"), 1u);
}

TEST(PipelineFixtures, PspIvsOfTwoWorkersNeverMeet) {
    using namespace psp_fixture;
    // worker 0 and worker 1 of one weftd seal for the same peer SA: their IVs interleave
    const Config a = side(kSpiA, "10.0.0.2/32", kSpiB);
    Config two = a;
    two.workers = 2;
    PspStage w0(two.psp, 0, 2), w1(two.psp, 1, 2);
    std::set<uint64_t> ivs;
    for (PspStage* w : {&w0, &w1})
        for (int i = 0; i < 50; ++i) {
            Burst burst;
            Bytes f = roce_frame();
            burst.size = 1;
            PacketState& s = burst.frames()[0];
            s.mbuf = mbuf_of(f);
            ASSERT_EQ(roce::parse({rte_pktmbuf_mtod(s.mbuf, uint8_t*), s.mbuf->data_len}, s.packet),
                      roce::Verdict::Ok);
            s.verdict = roce::Verdict::Ok;
            CryptCounters counters;
            w->seal(burst, counters);
            ASSERT_EQ(counters.tx_packets, 1u);
            const uint8_t* hdr = rte_pktmbuf_mtod(s.mbuf, uint8_t*) + 14 + 20 + 8;
            EXPECT_TRUE(ivs.insert(roce::load_be64(hdr + 8)).second) << "an IV was used twice";
            rte_pktmbuf_free(s.mbuf);
        }
    EXPECT_EQ(ivs.size(), 100u);
}

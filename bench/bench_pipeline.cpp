// weftd's in-memory pipeline: bursts of realistic RoCE mbufs (weft-gen's gradient and
// inference frames, 4 KB MTU) through Worker::process — parse, ICRC, flow table,
// firewall, ECMP choice, TX burst — with net_null ports, so no real I/O. Peers in the
// same run: the same frames through account_frame alone (no DPDK), and bare TX bursts
// to net_null (the floor DPDK itself costs). BM_PipelineCrypt: the same with PSP sealing
// (host->fabric) and opening (fabric->host) of 1 KB-MTU frames, beside the same path
// without PSP (mode 0 seal peer, 2 open peer):
//
//   build/bench/weft-bench-pipeline --benchmark_filter=PipelineCrypt --benchmark_repetitions=3
#include <benchmark/benchmark.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <random>
#include <variant>

#include <sys/stat.h>

#include <cstdio>

#include "../test/common/psp_spec_keys.hpp"
#include "bench_frames.hpp"
#include "weft/dataplane/eal.hpp"
#include "weft/dataplane/pipeline.hpp"
#include "weft/dataplane/ports.hpp"
#include "weft/dataplane/stages.hpp"
#include "weft/dataplane/worker.hpp"
#include "weft/flow/account.hpp"

namespace {

using namespace weft;
using namespace weft::dataplane;

struct Rig {
    Config config;
    std::unique_ptr<Eal> eal;
    std::unique_ptr<PortSet> ports;
    rte_mempool* pool = nullptr;

    Rig() {
        config.mode = Mode::inline_;
        config.workers = 1;
        config.eal.memory_mb = 1024;
        config.eal.mbufs_per_port = 2048;
        config.eal.file_prefix = "weft-bench-" + std::to_string(getpid());
        config.ports = {{"host", PortRole::host, "net_null0", ""},
                        {"up0", PortRole::fabric, "net_null1", ""},
                        {"up1", PortRole::fabric, "net_null2", ""}};
        Plan plan;
        plan.main_lcore = 0;
        plan.worker_lcores = {0};
        std::vector<std::string> args = eal_arguments(config, plan);
        // worker lcore 0 and the main lcore share CPU 0: the benchmark thread (main) is the
        // worker
        std::vector<char*> argv;
        for (auto& a : args) argv.push_back(a.data());
        if (rte_eal_init(int(argv.size()), argv.data()) < 0)
            throw DataplaneError("EAL init failed");
        ports = std::make_unique<PortSet>(config);
        pool =
            rte_pktmbuf_pool_create("bench_frames", 4096, 0, 0,
                                    uint16_t(kMbufDataRoom + RTE_PKTMBUF_HEADROOM), SOCKET_ID_ANY);
        runtime_dir = rte_eal_get_runtime_dir();
    }
    // --no-shconf leaves DPDK's runtime directory empty: remove it, as weftd does
    ~Rig() {
        ports.reset();
        rte_eal_cleanup();
        ::rmdir(runtime_dir.c_str());
    }
    std::string runtime_dir;
};

Rig& rig() {
    static Rig r;
    return r;
}

std::vector<rte_mbuf*> load(const bench::Frames& f, size_t n) {
    std::vector<rte_mbuf*> out;
    for (size_t i = 0; i < n && i < f.frames.size(); ++i) {
        rte_mbuf* m = rte_pktmbuf_alloc(rig().pool);
        char* p = rte_pktmbuf_append(m, uint16_t(f.frames[i].size()));
        std::memcpy(p, f.frames[i].data(), f.frames[i].size());
        out.push_back(m);
    }
    return out;
}

const bench::Frames& frames(const char* scenario) {
    static bench::Frames gradient = bench::make_frames("gradient", 4096, 4096);
    static bench::Frames inference = bench::make_frames("inference", 4096, 4096);
    return std::string_view(scenario) == "gradient" ? gradient : inference;
}

// Host bursts of `mbufs` (cycled) through a worker with config `c`, timed per packet.
void time_host_bursts(benchmark::State& state, const Config& c, std::vector<rte_mbuf*>& mbufs) {
    Rig& r = rig();
    Worker worker(0, c, *r.ports);
    size_t at = 0;
    std::array<rte_mbuf*, kBurst> burst;
    auto one_burst = [&] {
        for (uint16_t i = 0; i < kBurst; ++i) {
            burst[i] = mbufs[at++ % mbufs.size()];
            rte_mbuf_refcnt_update(burst[i], 1);  // TX frees a reference, not the frame
        }
        worker.process(uint16_t(r.ports->host()), burst.data(), kBurst);
        worker.flush();
    };
    // Every frame once before timing: the flows exist and the table's pages are backed, as
    // in a weftd that has run for a while (a fresh table's first touches are page faults).
    for (size_t i = 0; i < mbufs.size(); i += kBurst) one_burst();
    for (auto _ : state) one_burst();
    state.SetItemsProcessed(int64_t(state.iterations()) * kBurst);
    state.counters["ns_per_packet"] =
        benchmark::Counter(double(state.iterations()) * kBurst,
                           benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
    if (worker.stats().tx.forwarded_roce == 0) state.SkipWithError("nothing forwarded");
    rte_pktmbuf_free_bulk(mbufs.data(), unsigned(mbufs.size()));
}

// range(0): frames cycled through (2048 x 4 KB = 8 MB: from L3 like NIC DMA with DDIO;
// 64: from L1/L2); range(1): 1 to compute ICRCs, 0 for --no-icrc.
void BM_Pipeline(benchmark::State& state, const char* scenario) {
    Config c = rig().config;
    c.firewall.verify_icrc = state.range(1) != 0;
    std::vector<rte_mbuf*> mbufs = load(frames(scenario), size_t(state.range(0)));
    time_host_bursts(state, c, mbufs);
}

// ---- the pipeline with crypt: PSP sealing host->fabric and opening fabric->host ------------

Config psp_config(const Config& base, uint32_t rx_spi, uint32_t peer_spi) {
    Config c = base;
    c.psp.master_keys = weft::test::spec_master_key_file();
    c.psp.rx_spi = rx_spi;
    c.psp.peers = {{"peer", {*roce::IpPrefix::parse("0.0.0.0/0")}, peer_spi}};
    return c;
}

// 1 KB RoCE MTU frames (what a host behind weftd uses on a 1500-byte fabric: net_null's
// MTU): gradient traffic, all of it to a PSP peer.
const bench::Frames& frames_1k() {
    static bench::Frames f = bench::make_frames("gradient", 2048, 1024);
    return f;
}

// Sealing and opening change frames in place, so every burst starts by copying each
// frame's original bytes back into its mbuf; the peer without PSP does the same copy, so
// the difference between the two is the crypt stages' cost.
void restore(rte_mbuf* m, const std::vector<uint8_t>& bytes) {
    m->data_off = RTE_PKTMBUF_HEADROOM;
    m->data_len = uint16_t(bytes.size());
    m->pkt_len = uint32_t(bytes.size());
    std::memcpy(rte_pktmbuf_mtod(m, uint8_t*), bytes.data(), bytes.size());
}

// range(0): 0 host->fabric without PSP, 1 host->fabric sealing; 2 fabric->host without
// PSP, 3 fabric->host opening. 64 frames cycled (from L1/L2). ICRC off (--no-icrc), as the
// figure compared is the crypt stages'.
void BM_PipelineCrypt(benchmark::State& state) {
    Rig& r = rig();
    const int mode = int(state.range(0));
    const bool with_psp = mode == 1 || mode == 3, from_fabric = mode >= 2;
    Config plain = r.config;
    plain.firewall.verify_icrc = false;
    const Config receiver = psp_config(plain, 0x22222222, 0x11111111);
    const Config sender = psp_config(plain, 0x11111111, 0x22222222);
    Worker worker(0, !with_psp ? plain : from_fabric ? receiver : sender, *r.ports);
    const uint16_t in_port =
        from_fabric ? uint16_t(r.ports->fabric().front()) : uint16_t(r.ports->host());
    const std::vector<std::vector<uint8_t>>& all = frames_1k().frames;
    constexpr size_t kFrames = 64;
    std::vector<std::vector<uint8_t>> originals(all.begin(), all.begin() + kFrames);
    // opening: frames sealed by a peer, re-sealed under fresh IVs before each pass so the
    // replay window never refuses them (outside the timing)
    Worker peer(0, sender, *r.ports);
    std::vector<rte_mbuf*> mbufs(kFrames);
    for (auto& m : mbufs) m = rte_pktmbuf_alloc(r.pool);
    auto seal_all = [&] {
        for (size_t i = 0; i < kFrames; ++i) {
            restore(mbufs[i], all[i]);
            rte_mbuf* m = mbufs[i];
            rte_mbuf_refcnt_update(m, 1);
            peer.process(uint16_t(r.ports->host()), &m, 1);
            peer.flush();
            originals[i].assign(rte_pktmbuf_mtod(m, uint8_t*),
                                rte_pktmbuf_mtod(m, uint8_t*) + m->data_len);
        }
    };
    if (mode == 3)
        seal_all();
    else if (mode == 2) {
        // plaintext from the fabric: not from a PSP peer's hosts in this configuration
    }
    size_t at = 0;
    std::array<rte_mbuf*, kBurst> burst;
    for (auto _ : state) {
        if (mode == 3 && at == kFrames) {
            state.PauseTiming();
            seal_all();
            at = 0;
            state.ResumeTiming();
        }
        for (uint16_t i = 0; i < kBurst; ++i) {
            const size_t k = at++ % kFrames;
            restore(mbufs[k], originals[k]);
            burst[i] = mbufs[k];
            rte_mbuf_refcnt_update(burst[i], 1);  // TX frees a reference, not the frame
        }
        if (mode != 3) at %= kFrames;
        worker.process(in_port, burst.data(), kBurst);
        worker.flush();
    }
    state.SetItemsProcessed(int64_t(state.iterations()) * kBurst);
    state.counters["ns_per_packet"] =
        benchmark::Counter(double(state.iterations()) * kBurst,
                           benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
    const CryptCounters& c = worker.stats().crypt;
    if (mode == 1 && c.tx_packets == 0) state.SkipWithError("nothing sealed");
    if (mode == 3 && (c.rx_packets == 0 || c.rx_auth_fail || c.rx_replay))
        state.SkipWithError("not every frame opened");
    if (worker.stats().tx.forwarded_roce == 0) state.SkipWithError("nothing forwarded");
    rte_pktmbuf_free_bulk(mbufs.data(), unsigned(mbufs.size()));
}

// Peer: the same per-packet work without DPDK around it.
void BM_AccountOnly(benchmark::State& state, const char* scenario) {
    const bench::Frames& f = frames(scenario);
    flow::TableConfig tc;
    tc.max_flows = 1u << 20;
    flow::Table table(tc);
    flow::Totals totals;
    roce::Packet pkt;
    size_t at = 0;
    for (auto _ : state) {
        for (int i = 0; i < kBurst; ++i) {
            const auto& fr = f.frames[at++ % f.frames.size()];
            benchmark::DoNotOptimize(
                flow::account_frame(fr, uint32_t(fr.size()), at, true, totals, table, pkt));
        }
    }
    state.SetItemsProcessed(int64_t(state.iterations()) * kBurst);
    state.counters["ns_per_packet"] =
        benchmark::Counter(double(state.iterations()) * kBurst,
                           benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

// Peer: DPDK's own floor, a TX burst of the same mbufs to net_null.
void BM_TxBurstOnly(benchmark::State& state) {
    Rig& r = rig();
    std::vector<rte_mbuf*> mbufs = load(frames("gradient"), 2048);
    size_t at = 0;
    std::array<rte_mbuf*, kBurst> burst;
    uint16_t port = r.ports->ports()[1].id;
    for (auto _ : state) {
        for (uint16_t i = 0; i < kBurst; ++i) {
            burst[i] = mbufs[at++ % mbufs.size()];
            rte_mbuf_refcnt_update(burst[i], 1);
        }
        uint16_t sent = rte_eth_tx_burst(port, 0, burst.data(), kBurst);
        if (sent < kBurst) rte_pktmbuf_free_bulk(burst.data() + sent, kBurst - sent);
    }
    state.SetItemsProcessed(int64_t(state.iterations()) * kBurst);
    state.counters["ns_per_packet"] =
        benchmark::Counter(double(state.iterations()) * kBurst,
                           benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
    rte_pktmbuf_free_bulk(mbufs.data(), unsigned(mbufs.size()));
}

// ---- balancing: decide, apply and reorder at 1 M flows; the pipeline with balancing ----
//
//   build/bench/weft-bench-pipeline --benchmark_filter='Balance|Decide|Apply|Reorder' \
//       --benchmark_repetitions=3 --benchmark_report_aggregates_only=true

constexpr uint32_t kMillion = 1u << 20;

// 1 M host->fabric flows (one QP each between 1024 x 1024 host pairs), parsed once: what
// balance.decide sees after account. The packets' frames are never read by decide.
struct DecideRig {
    std::vector<roce::Packet> packets;
    std::vector<uint32_t> order;  // flow visiting order: random, as many flows interleave
    DecideRig() : packets(kMillion), order(kMillion) {
        for (uint32_t i = 0; i < kMillion; ++i) {
            roce::Packet& p = packets[i];
            const uint8_t a[4] = {10, 1, uint8_t(i >> 10 >> 8), uint8_t(i >> 10)};
            const uint8_t b[4] = {10, 2, uint8_t((i & 1023) >> 8), uint8_t(i & 1023)};
            p.src = roce::IpAddress::from_v4(a);
            p.dst = roce::IpAddress::from_v4(b);
            p.src_port = uint16_t(0xC000 | (i & 0x3fff));
            p.dst_port = 4791;
            p.bth.opcode = roce::opcode::kRcWriteMiddle;
            p.op = &roce::opcode_info(p.bth.opcode);
            p.bth.dest_qp = 0x100 + (i & 0xffff);
            p.bth.psn = i * 7;
            order[i] = i;
        }
        std::mt19937 rng(3);
        std::shuffle(order.begin(), order.end(), rng);
    }
};
DecideRig& decide_rig() {
    static DecideRig r;
    return r;
}

// balance.decide over bursts of 32 packets of random flows among 1 M, every packet a
// flow's next (PSNs advance, flowlets continue): range(0) the policy (0 ecmp, 1 flowlet,
// 2 congestion, 3 spray towards a reordering peer); 4 is the peer: the same loop filling
// the burst (each parsed packet copied from a 1 M array at random: cache misses that the
// real pipeline does not have, since account leaves the view in the burst) without
// deciding. A policy's cost is its time less this floor's.
void BM_Decide(benchmark::State& state) {
    DecideRig& d = decide_rig();
    Config c = rig().config;
    c.flows.max_flows = kMillion;
    c.balance.source_ports = 4;
    const bool floor = state.range(0) == 4;
    const BalancePolicy which = floor ? BalancePolicy::ecmp : BalancePolicy(state.range(0));
    BalanceShared shared(c, 2);
    shared.peers.offer(*roce::IpPrefix::parse("10.2.0.0/16"), UINT64_MAX);
    const balance::Policy policy = make_balance_policy(c, which, 2, &shared, 0);
    flow::SideArray<balance::FlowletState> flowlets(kMillion);
    BalanceCounters counters;
    BalanceContext ctx{&flowlets, counters, &shared.monitor, &shared.owners, 0};
    const uint16_t uplinks[2] = {1, 2};
    Burst b;
    b.direction = Direction::host_to_fabric;
    b.size = kBurst;
    size_t at = 0;
    uint64_t now = 1'000'000'000;
    auto one_burst = [&] {
        for (uint16_t k = 0; k < kBurst; ++k) {
            const uint32_t f = d.order[at++ & (kMillion - 1)];
            PacketState& s = b.packets[k];
            s.packet = d.packets[f];
            s.packet.bth.psn = (d.packets[f].bth.psn + uint32_t(at >> 20)) & 0xffffff;
            s.verdict = roce::Verdict::Ok;
            s.dropped = false;
            s.flow = f;
            s.flow_created = false;
            s.prev_last_ns = now - 1000;
            s.timestamp_ns = now;
        }
        now += 100;
        if (floor) {
            benchmark::DoNotOptimize(b.packets.data());
            benchmark::ClobberMemory();
            return;
        }
        std::visit([&](const auto& p) { balance_decide(b, p, std::span(uplinks, 2), ctx); },
                   policy);
        shared.monitor.tick(now);
    };
    for (uint32_t i = 0; i < kMillion / kBurst; ++i) one_burst();  // every flow once
    for (auto _ : state) one_burst();
    state.SetItemsProcessed(int64_t(state.iterations()) * kBurst);
    state.counters["ns_per_packet"] =
        benchmark::Counter(double(state.iterations()) * kBurst,
                           benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
    state.SetLabel(floor ? "floor" : to_string(which));
}

// balance.apply: the source port rewritten and the ICRC fixed in constant time, over 2048
// 4 KB gradient frames (flow-independent: no per-flow state). Peer: range(0) 0 = the
// frames' own port kept (the stage's loop alone).
void BM_Apply(benchmark::State& state) {
    std::vector<rte_mbuf*> mbufs = load(frames("gradient"), 2048);
    std::vector<roce::Packet> parsed(mbufs.size());
    for (size_t i = 0; i < mbufs.size(); ++i)
        roce::parse({rte_pktmbuf_mtod(mbufs[i], const uint8_t*), mbufs[i]->data_len}, parsed[i]);
    BalanceCounters counters;
    Burst b;
    b.size = kBurst;
    size_t at = 0;
    uint16_t port = 0xC000;
    for (auto _ : state) {
        for (uint16_t k = 0; k < kBurst; ++k) {
            const size_t i = at++ % mbufs.size();
            PacketState& s = b.packets[k];
            s.mbuf = mbufs[i];
            s.packet = parsed[i];
            s.verdict = roce::Verdict::Ok;
            s.dropped = s.sealed = false;
            s.path.source_port =
                state.range(0) ? uint32_t(0xC000 | (++port & 3)) : balance::kKeepSourcePort;
        }
        balance_apply(b, counters);
        // the frames keep their last port in the parsed copies' stead: re-read next time
        for (uint16_t k = 0; k < kBurst; ++k)
            parsed[(at - kBurst + k) % mbufs.size()].src_port = b.packets[k].packet.src_port;
    }
    state.SetItemsProcessed(int64_t(state.iterations()) * kBurst);
    state.counters["ns_per_packet"] =
        benchmark::Counter(double(state.iterations()) * kBurst,
                           benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
    rte_pktmbuf_free_bulk(mbufs.data(), unsigned(mbufs.size()));
}

// The reorder buffer at 1 M flows (random flows, each packet its flow's next): range(0) 0
// = every packet in order (the common case), 1 = sprayed pairs swapped (every other packet
// held, then released by its predecessor).
void BM_Reorder(benchmark::State& state) {
    DecideRig& d = decide_rig();
    balance::ReorderSettings rs;
    rs.flows = 4096;
    balance::Reorderer r(rs, kMillion);
    uint64_t emitted = 0;
    auto emit = [&](void*) { ++emitted; };
    std::vector<uint32_t> next(kMillion);
    for (uint32_t f = 0; f < kMillion; ++f) {  // every flow started and past its start
        r.push(f, true, 0, &next, 0, emit);
        next[f] = 1;
    }
    r.expire(rs.timeout_ns + 1, emit);
    const bool swapped = state.range(0) != 0;
    size_t at = 0;
    for (auto _ : state) {
        for (int k = 0; k < 16; ++k) {
            const uint32_t f = d.order[at++ & (kMillion - 1)];
            const uint32_t p = next[f];
            if (swapped) {
                r.push(f, false, p + 1, &next, 0, emit);
                r.push(f, false, p, &next, 0, emit);
            } else {
                r.push(f, false, p, &next, 0, emit);
                r.push(f, false, p + 1, &next, 0, emit);
            }
            next[f] = (p + 2) & 0xffffff;
        }
    }
    state.SetItemsProcessed(int64_t(state.iterations()) * 32);
    state.counters["ns_per_packet"] = benchmark::Counter(
        double(state.iterations()) * 32, benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
    if (r.frames_held()) state.SkipWithError("frames left held");
}

// The whole host->fabric path with each policy (BM_Pipeline's gradient frames from L3,
// ICRC on): range(0) the policy as in BM_Decide. ecmp is the peer.
void BM_PipelineBalance(benchmark::State& state) {
    Config c = rig().config;
    c.balance.policy = BalancePolicy(state.range(0));
    if (c.balance.policy != BalancePolicy::ecmp) c.balance.source_ports = 4;
    std::vector<rte_mbuf*> mbufs = load(frames("gradient"), 2048);
    state.SetLabel(to_string(c.balance.policy));
    time_host_bursts(state, c, mbufs);
}

BENCHMARK(BM_Decide)->ArgName("policy")->DenseRange(0, 4);
BENCHMARK(BM_Apply)->ArgName("rewrite")->DenseRange(0, 1);
BENCHMARK(BM_Reorder)->ArgName("swapped")->DenseRange(0, 1);
BENCHMARK(BM_PipelineBalance)->ArgName("policy")->DenseRange(0, 3);
BENCHMARK_CAPTURE(BM_Pipeline, gradient_4k, "gradient")->ArgsProduct({{64, 2048}, {1, 0}});
BENCHMARK_CAPTURE(BM_Pipeline, inference_4k, "inference")->ArgsProduct({{64, 2048}, {1, 0}});
BENCHMARK_CAPTURE(BM_AccountOnly, gradient_4k, "gradient");
BENCHMARK_CAPTURE(BM_AccountOnly, inference_4k, "inference");
BENCHMARK(BM_TxBurstOnly);
BENCHMARK(BM_PipelineCrypt)->ArgName("mode")->DenseRange(0, 3);

}  // namespace

// weftd's in-memory pipeline: bursts of realistic RoCE mbufs (weft-gen's gradient and
// inference frames, 4 KB MTU) through Worker::process — parse, ICRC, flow table,
// firewall, ECMP choice, TX burst — with net_null ports, so no real I/O. Peers in the
// same run: the same frames through account_frame alone (no DPDK), and bare TX bursts
// to net_null (the floor DPDK itself costs).
#include <benchmark/benchmark.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <unistd.h>

#include <cstring>
#include <memory>

#include "bench_frames.hpp"
#include "weft/dataplane/eal.hpp"
#include "weft/dataplane/ports.hpp"
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

// range(0): frames cycled through (2048 x 4 KB = 8 MB: from L3 like NIC DMA with DDIO;
// 64: from L1/L2); range(1): 1 to compute ICRCs, 0 for --no-icrc.
void BM_Pipeline(benchmark::State& state, const char* scenario) {
    Rig& r = rig();
    Config c = r.config;
    c.firewall.verify_icrc = state.range(1) != 0;
    Worker worker(0, c, *r.ports);
    std::vector<rte_mbuf*> mbufs = load(frames(scenario), size_t(state.range(0)));
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

BENCHMARK_CAPTURE(BM_Pipeline, gradient_4k, "gradient")->ArgsProduct({{64, 2048}, {1, 0}});
BENCHMARK_CAPTURE(BM_Pipeline, inference_4k, "inference")->ArgsProduct({{64, 2048}, {1, 0}});
BENCHMARK_CAPTURE(BM_AccountOnly, gradient_4k, "gradient");
BENCHMARK_CAPTURE(BM_AccountOnly, inference_4k, "inference");
BENCHMARK(BM_TxBurstOnly);

}  // namespace

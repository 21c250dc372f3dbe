// Parser cost per packet over realistic traffic mixes. range(0): frames cycled through:
// 64 (their headers stay in L1/L2: the parser's own cost) or 4096 (~16 MB of 4 KB
// frames: each header line comes from L3 or memory, as NIC DMA leaves it). Peer in the
// same run: the general header walk alone (parse_general), the path every frame took
// before the fast path for the common case.
#include <benchmark/benchmark.h>

#include "bench_frames.hpp"
#include "weft/roce/packet.hpp"

namespace {

template <weft::roce::Verdict (*Parse)(std::span<const uint8_t>, weft::roce::Packet&)>
void run(benchmark::State& state, std::string_view scenario) {
    static const auto f = weft::bench::make_frames(scenario, 4096);
    const size_t mask = size_t(state.range(0)) - 1;  // a power of two: no division per packet
    weft::roce::Packet p;
    size_t i = 0, ok = 0;
    for (auto _ : state) {
        const auto& fr = f.frames[i++ & mask];
        ok += Parse(fr, p) == weft::roce::Verdict::Ok;
        benchmark::DoNotOptimize(p);
    }
    state.SetItemsProcessed(int64_t(state.iterations()));
    state.counters["ok_share"] = double(ok) / double(state.iterations());
}
void BM_Parse(benchmark::State& state, std::string_view scenario) {
    run<weft::roce::parse>(state, scenario);
}
void BM_ParseGeneral(benchmark::State& state, std::string_view scenario) {
    run<weft::roce::parse_general>(state, scenario);
}
BENCHMARK_CAPTURE(BM_Parse, gradient, "gradient")->Arg(64)->Arg(4096);
BENCHMARK_CAPTURE(BM_Parse, inference, "inference")->Arg(64)->Arg(4096);
BENCHMARK_CAPTURE(BM_Parse, malformed, "malformed")->Arg(64)->Arg(4096);
BENCHMARK_CAPTURE(BM_ParseGeneral, gradient, "gradient")->Arg(64)->Arg(4096);
BENCHMARK_CAPTURE(BM_ParseGeneral, inference, "inference")->Arg(64)->Arg(4096);

}  // namespace

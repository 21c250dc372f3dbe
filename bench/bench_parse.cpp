// Parser cost per packet over realistic traffic mixes.
#include <benchmark/benchmark.h>

#include "bench_frames.hpp"
#include "weft/roce/packet.hpp"

namespace {

void BM_Parse(benchmark::State& state, std::string_view scenario) {
    auto f = weft::bench::make_frames(scenario, 4096);
    weft::roce::Packet p;
    size_t i = 0, ok = 0;
    for (auto _ : state) {
        const auto& fr = f.frames[i++ & 4095];
        ok += weft::roce::parse(fr, p) == weft::roce::Verdict::Ok;
        benchmark::DoNotOptimize(p);
    }
    state.SetItemsProcessed(int64_t(state.iterations()));
    state.counters["ok_share"] = double(ok) / double(state.iterations());
}
BENCHMARK_CAPTURE(BM_Parse, gradient, "gradient");
BENCHMARK_CAPTURE(BM_Parse, inference, "inference");
BENCHMARK_CAPTURE(BM_Parse, malformed, "malformed");

}  // namespace

// Flow table cost per packet at 1 K and 1 M flows, for message trains (packets of one
// QP arrive back to back, as RDMA messages do: realistic) and for uniformly random QPs
// (every packet a different flow: the worst case, one cache miss per packet at 1 M).
// Also parse + track together, the per-packet work of weftd's pipeline before tx.
#include <benchmark/benchmark.h>

#include <random>
#include <vector>

#include "weft/flow/snapshot.hpp"
#include "weft/flow/table.hpp"
#include "weft/roce/builder.hpp"
#include "weft/roce/opcode.hpp"

namespace {

using namespace weft;

constexpr uint32_t kHosts = 1024;
constexpr size_t kSequence = 1u << 22;  // packets in the precomputed arrival order

struct Arrival {
    uint32_t flow;
    uint32_t psn;     // PSN on the first pass over the sequence
    uint32_t stride;  // packets of this flow per pass: replays continue the PSN sequence
};

// PSN of arrival `a` on pass `pass`, so that replaying the sequence stays in order.
inline uint32_t psn_at(const Arrival& a, size_t pass) {
    return uint32_t(a.psn + pass * a.stride) & 0xffffff;
}

struct Arrivals {
    std::vector<Arrival> seq;
    std::vector<uint32_t> first_psn;  // per flow, one before its first arrival
};

// Train: a random flow sends `train` packets in a row with consecutive PSNs.
Arrivals arrivals(uint32_t flows, uint32_t train, uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::vector<uint32_t> next_psn(flows);
    for (auto& p : next_psn) p = uint32_t(rng()) & 0xffffff;
    std::vector<uint32_t> count(flows, 0);
    std::vector<uint32_t> first_psn(flows);
    for (uint32_t f = 0; f < flows; ++f) first_psn[f] = (next_psn[f] - 1) & 0xffffff;
    std::vector<Arrival> seq;
    seq.reserve(kSequence);
    while (seq.size() < kSequence) {
        uint32_t f = uint32_t(rng() % flows);
        for (uint32_t i = 0; i < train && seq.size() < kSequence; ++i) {
            seq.push_back({f, next_psn[f], 0});
            next_psn[f] = (next_psn[f] + 1) & 0xffffff;
            ++count[f];
        }
    }
    for (auto& a : seq) a.stride = count[a.flow];
    return {std::move(seq), std::move(first_psn)};
}

roce::IpAddress host_ip(uint32_t h) {
    return roce::IpAddress::from_v4(0x0a000000u + h + 1);
}
uint32_t src_of(uint32_t flow) {
    return flow % kHosts;
}
uint32_t dst_of(uint32_t flow) {
    return (flow / kHosts + flow % kHosts + 1) % kHosts;
}

struct Fixture {
    std::vector<uint8_t> frame;
    roce::Packet packet;
    std::vector<roce::IpAddress> ips;
    Fixture() {
        roce::FrameSpec s;
        s.src = host_ip(0);
        s.dst = host_ip(1);
        s.bth.opcode = roce::opcode::kRcWriteMiddle;
        s.payload_length = 4096;
        frame.resize(roce::frame_size(s));
        roce::build_frame(s, frame);
        roce::parse(frame, packet);
        for (uint32_t h = 0; h < kHosts; ++h) ips.push_back(host_ip(h));
    }
};

void BM_FlowTouch(benchmark::State& state) {
    const uint32_t flows = uint32_t(state.range(0));
    const uint32_t train = uint32_t(state.range(1));
    Fixture fx;
    auto [seq, first_psn] = arrivals(flows, train, 42);
    flow::TableConfig cfg;
    cfg.max_flows = flows;
    flow::Table table(cfg);
    roce::Packet p = fx.packet;
    auto apply = [&](const Arrival& a, size_t pass) {
        p.src = fx.ips[src_of(a.flow)];
        p.dst = fx.ips[dst_of(a.flow)];
        p.bth.dest_qp = 0x100 + a.flow;
        p.bth.psn = psn_at(a, pass);
        return table.touch(p, 4154, 0).index;
    };
    // Warm up: every flow inserted, then one pass over the arrival sequence.
    for (uint32_t f = 0; f < flows; ++f) apply(Arrival{f, first_psn[f], 0}, 0);
    for (const auto& a : seq) apply(a, 0);
    size_t i = kSequence;
    for (auto _ : state) {
        benchmark::DoNotOptimize(apply(seq[i & (kSequence - 1)], i / kSequence));
        ++i;
    }
    state.SetItemsProcessed(int64_t(state.iterations()));
    state.counters["flows"] = table.size();
    state.counters["bytes_per_flow"] = double(table.memory_bytes()) / double(flows);
    state.counters["record_bytes"] = sizeof(flow::FlowRecord);
    state.counters["extensions"] = table.extensions_in_use();
}

void BM_ParseTrack(benchmark::State& state) {
    const uint32_t flows = uint32_t(state.range(0));
    const uint32_t train = uint32_t(state.range(1));
    Fixture fx;
    auto [seq, first_psn] = arrivals(flows, train, 7);
    flow::TableConfig cfg;
    cfg.max_flows = flows;
    flow::Table table(cfg);
    uint8_t* f = fx.frame.data();
    const size_t ip = fx.packet.l3_offset, bth = fx.packet.bth_offset;
    // The frame is rewritten in place per packet, as a NIC reuses an mbuf's memory.
    auto arrive = [&](const Arrival& a, size_t pass) {
        roce::store_be32(f + ip + 12, 0x0a000000u + src_of(a.flow) + 1);
        roce::store_be32(f + ip + 16, 0x0a000000u + dst_of(a.flow) + 1);
        roce::store_be24(f + bth + 5, 0x100 + a.flow);
        roce::store_be24(f + bth + 9, psn_at(a, pass));
        roce::Packet p;
        if (roce::parse(fx.frame, p) != roce::Verdict::Ok) return flow::kNoIndex;
        return table.touch(p, uint32_t(fx.frame.size()), 0).index;
    };
    for (uint32_t f = 0; f < flows; ++f) arrive(Arrival{f, first_psn[f], 0}, 0);
    for (const auto& a : seq) arrive(a, 0);
    size_t i = kSequence;
    for (auto _ : state) {
        benchmark::DoNotOptimize(arrive(seq[i & (kSequence - 1)], i / kSequence));
        ++i;
    }
    state.SetItemsProcessed(int64_t(state.iterations()));
    state.counters["flows"] = table.size();
    state.counters["extensions"] = table.extensions_in_use();
}

// What a weftd worker pays per poll loop while a flow snapshot is pending: one
// TableCopier step (64 records after a busy poll, 4096 after an idle one; telemetry.hpp)
// over a table of `flows` live flows. Reported per step (time) and per record (items).
void BM_SnapshotStep(benchmark::State& state) {
    const uint32_t flows = uint32_t(state.range(0));
    const uint32_t kStep = uint32_t(state.range(1));
    Fixture fx;
    flow::TableConfig cfg;
    cfg.max_flows = flows;
    flow::Table table(cfg);
    roce::Packet p = fx.packet;
    for (uint32_t f = 0; f < flows; ++f) {
        p.src = fx.ips[src_of(f)];
        p.dst = fx.ips[dst_of(f)];
        p.bth.dest_qp = 0x100 + f;
        table.touch(p, 4154, 0);
    }
    std::vector<flow::FlowCopy> buffer(flows);
    flow::TableCopier copier;
    copier.start(buffer);
    size_t records = 0;
    for (auto _ : state) {
        if (copier.step(table, kStep)) copier.start(buffer);
        records += kStep;
    }
    state.SetItemsProcessed(int64_t(records));
    state.counters["flows"] = table.size();
    state.counters["copy_bytes"] = sizeof(flow::FlowCopy);
}
BENCHMARK(BM_SnapshotStep)
    ->ArgNames({"flows", "step"})
    ->Args({1 << 12, 64})
    ->Args({1 << 20, 64})
    ->Args({1 << 20, 4096});

// Args: flows, train length (1 = uniformly random QP per packet).
BENCHMARK(BM_FlowTouch)
    ->ArgNames({"flows", "train"})
    ->Args({1 << 10, 64})
    ->Args({1 << 20, 64})
    ->Args({1 << 10, 1})
    ->Args({1 << 20, 1});
BENCHMARK(BM_ParseTrack)
    ->ArgNames({"flows", "train"})
    ->Args({1 << 10, 64})
    ->Args({1 << 20, 64})
    ->Args({1 << 20, 1});

}  // namespace

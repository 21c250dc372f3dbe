// ICRC against the CRC-32 libraries on the machine, same bytes, same run:
// zlib crc32 (the common baseline) and ISA-L crc32_gzip_refl (the fastest measured here;
// Weft's ICRC is built on it, so the ratio shows the cost of the masked-header handling).
// Also: the incremental ICRC fix after a UDP source port rewrite vs a full recompute.
#include <benchmark/benchmark.h>
#include <isa-l/crc.h>
#include <zlib.h>

#include <vector>

#include "weft/roce/builder.hpp"
#include "weft/roce/icrc.hpp"
#include "weft/roce/opcode.hpp"

namespace {

using namespace weft::roce;

// A RoCE frame whose ICRC-covered span is `covered` bytes (IP header .. before ICRC + 8).
struct IcrcFrame {
    std::vector<uint8_t> bytes;
    Packet packet;
};

IcrcFrame make(size_t frame_len) {
    FrameSpec s;
    s.src = IpAddress::from_v4(0x0a000001);
    s.dst = IpAddress::from_v4(0x0a000002);
    s.bth.opcode = opcode::kRcSendOnly;
    s.bth.dest_qp = 0x1234;
    // 14 Eth + 20 IP + 8 UDP + 12 BTH + 4 ICRC = 58 bytes of headers
    s.payload_length = frame_len > 58 ? uint32_t(frame_len - 58) : 0;
    IcrcFrame f;
    f.bytes.resize(frame_size(s));
    build_frame(s, f.bytes);
    parse(f.bytes, f.packet);
    return f;
}

void BM_IcrcWeft(benchmark::State& state) {
    auto f = make(size_t(state.range(0)));
    for (auto _ : state) benchmark::DoNotOptimize(icrc_compute(f.packet));
    state.SetBytesProcessed(int64_t(state.iterations()) * state.range(0));
}

// The peers CRC the bytes the ICRC covers (IP header .. ICRC), in place in the same
// frame, so alignment and cache state are the same as for the ICRC.
const uint8_t* covered_start(const IcrcFrame& f) {
    return f.bytes.data() + f.packet.l3_offset;
}
size_t covered(const IcrcFrame& f) {
    return f.packet.icrc_offset - f.packet.l3_offset;
}

void BM_Crc32Zlib(benchmark::State& state) {
    auto f = make(size_t(state.range(0)));
    for (auto _ : state) benchmark::DoNotOptimize(crc32_z(0, covered_start(f), covered(f)));
    state.SetBytesProcessed(int64_t(state.iterations()) * state.range(0));
}

void BM_Crc32IsaL(benchmark::State& state) {
    auto f = make(size_t(state.range(0)));
    for (auto _ : state) benchmark::DoNotOptimize(crc32_gzip_refl(0, covered_start(f), covered(f)));
    state.SetBytesProcessed(int64_t(state.iterations()) * state.range(0));
}

void BM_IcrcFullRecomputeAfterPortRewrite(benchmark::State& state) {
    auto f = make(size_t(state.range(0)));
    uint16_t port = 49152;
    for (auto _ : state) {
        store_be16(f.bytes.data() + f.packet.l4_offset, ++port);
        benchmark::DoNotOptimize(icrc_compute(f.packet));
    }
}

void BM_IcrcIncrementalAfterPortRewrite(benchmark::State& state) {
    auto f = make(size_t(state.range(0)));
    uint16_t port = 49152;
    for (auto _ : state) benchmark::DoNotOptimize(icrc_after_src_port_change(f.packet, ++port));
}

BENCHMARK(BM_IcrcWeft)->Arg(64)->Arg(1024)->Arg(4096);
BENCHMARK(BM_Crc32IsaL)->Arg(64)->Arg(1024)->Arg(4096);
BENCHMARK(BM_Crc32Zlib)->Arg(64)->Arg(1024)->Arg(4096);
BENCHMARK(BM_IcrcFullRecomputeAfterPortRewrite)->Arg(64)->Arg(1024)->Arg(4096);
BENCHMARK(BM_IcrcIncrementalAfterPortRewrite)->Arg(64)->Arg(1024)->Arg(4096);

}  // namespace

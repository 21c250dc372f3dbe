// weft-probe's per-packet cost: the TC program on realistic RoCE frames under
// BPF_PROG_TEST_RUN with `repeat`, so the kernel times the program itself (ns per run,
// as Katran reports its XDP balancer). Peer in the same run: a two-instruction program
// that only returns TC_ACT_OK, the harness's own floor. Needs root.
#include <benchmark/benchmark.h>
#include <bpf/bpf.h>
#include <linux/bpf.h>
#include <linux/pkt_cls.h>

#include <memory>
#include <vector>

#include "weft/probe/probe.hpp"
#include "weft/roce/builder.hpp"
#include "weft/roce/opcode.hpp"

namespace {

using namespace weft;

std::vector<uint8_t> frame(uint8_t opcode, uint32_t payload, bool ipv6 = false) {
    roce::FrameSpec s;
    s.src = *roce::IpAddress::parse(ipv6 ? "fd00::1" : "10.0.0.1");
    s.dst = *roce::IpAddress::parse(ipv6 ? "fd00::2" : "10.0.0.2");
    s.bth.opcode = opcode;
    s.bth.dest_qp = 0x11;
    s.bth.psn = 0x100;
    s.payload_length = payload;
    std::vector<uint8_t> f(roce::frame_size(s));
    f.resize(roce::build_frame(s, f));
    return f;
}

int pass_program() {
    static int fd = [] {
        bpf_insn insns[2] = {};
        insns[0].code = BPF_ALU64 | BPF_MOV | BPF_K;  // r0 = TC_ACT_OK (0)
        insns[0].imm = TC_ACT_OK;
        insns[1].code = BPF_JMP | BPF_EXIT;
        return bpf_prog_load(BPF_PROG_TYPE_SCHED_CLS, "weft_pass", "GPL", insns, 2, nullptr);
    }();
    return fd;
}

// Runs `fd` on `f` `repeat` times in the kernel; the kernel's mean ns per run.
double kernel_ns(int fd, const std::vector<uint8_t>& f, uint32_t repeat) {
    LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = f.data(), .data_size_in = uint32_t(f.size()),
                .repeat = repeat);
    if (bpf_prog_test_run_opts(fd, &opts) != 0) return -1;
    return double(opts.duration);
}

void run(benchmark::State& state, int fd, const std::vector<uint8_t>& f) {
    if (fd < 0) {
        state.SkipWithError("cannot load BPF (root needed)");
        return;
    }
    constexpr uint32_t kRepeat = 100000;
    double sum = 0;
    int64_t n = 0;
    for (auto _ : state) {
        double ns = kernel_ns(fd, f, kRepeat);
        if (ns < 0) {
            state.SkipWithError("BPF_PROG_TEST_RUN failed");
            return;
        }
        sum += ns;
        ++n;
    }
    state.counters["kernel_ns_per_packet"] = n ? sum / double(n) : 0;
    state.counters["frame_bytes"] = double(f.size());
}

std::unique_ptr<probe::Probe>& probe_instance() {
    static std::unique_ptr<probe::Probe> p = [] {
        try {
            return std::make_unique<probe::Probe>();
        } catch (const probe::ProbeError&) {
            return std::unique_ptr<probe::Probe>();
        }
    }();
    return p;
}

void BM_ProbeIngress(benchmark::State& state, uint8_t opcode, uint32_t payload, bool ipv6) {
    auto& p = probe_instance();
    run(state, p ? p->ingress_fd() : -1, frame(opcode, payload, ipv6));
}

// Non-RoCE east-west traffic: a UDP datagram, counted per peer pair (a BPF hash map).
void BM_ProbeIngressUdp(benchmark::State& state) {
    auto& p = probe_instance();
    std::vector<uint8_t> f = frame(roce::opcode::kRcSendOnly, 256);
    f[14 + 20 + 2] = 0;  // UDP destination port 4791 -> 53: not RoCE
    f[14 + 20 + 3] = 53;
    run(state, p ? p->ingress_fd() : -1, f);
}

void BM_PassProgram(benchmark::State& state) {
    run(state, pass_program(), frame(roce::opcode::kRcWriteMiddle, 2048));
}

// The agent's side: one read of both QP tables in place (what every poll costs), with
// `flows` IPv4 QP flows present. The tables are scanned whole, so the empty case is the floor.
void BM_AgentReadsQpTables(benchmark::State& state) {
    auto& p = probe_instance();
    if (!p) {
        state.SkipWithError("cannot load BPF (root needed)");
        return;
    }
    static uint32_t made = 0;  // flows already in the (shared) tables
    for (uint32_t qp = made; qp < uint32_t(state.range(0)); ++qp) {
        std::vector<uint8_t> f = frame(roce::opcode::kRcSendOnly, 64);
        f[14 + 20 + 8 + 5] = uint8_t(qp >> 16);  // BTH destination QP
        f[14 + 20 + 8 + 6] = uint8_t(qp >> 8);
        f[14 + 20 + 8 + 7] = uint8_t(qp);
        LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = f.data(),
                    .data_size_in = uint32_t(f.size()), .repeat = 1);
        bpf_prog_test_run_opts(p->ingress_fd(), &opts);
        made = qp + 1;
    }
    std::vector<probe::QpCounters> qps;  // reused, as weft-probe does
    for (auto _ : state) {
        p->read_qps(qps);
        benchmark::DoNotOptimize(qps.data());
    }
    size_t n = qps.size();
    state.counters["flows_read"] = double(n);
}
BENCHMARK(BM_AgentReadsQpTables)->Arg(1)->Arg(4096)->Arg(50000)->Unit(benchmark::kMillisecond);

BENCHMARK_CAPTURE(BM_ProbeIngress, write_middle_2k, roce::opcode::kRcWriteMiddle, 2048, false)
    ->Iterations(20);
BENCHMARK_CAPTURE(BM_ProbeIngress, send_only_256, roce::opcode::kRcSendOnly, 256, false)
    ->Iterations(20);
BENCHMARK_CAPTURE(BM_ProbeIngress, ack, roce::opcode::kRcAcknowledge, 0, false)->Iterations(20);
BENCHMARK_CAPTURE(BM_ProbeIngress, ipv6_write_middle_2k, roce::opcode::kRcWriteMiddle, 2048, true)
    ->Iterations(20);
BENCHMARK(BM_ProbeIngressUdp)->Iterations(20);
BENCHMARK(BM_PassProgram)->Iterations(20);

}  // namespace

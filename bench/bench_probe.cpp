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

std::vector<uint8_t> frame(uint8_t opcode, uint32_t payload) {
    roce::FrameSpec s;
    s.src = *roce::IpAddress::parse("10.0.0.1");
    s.dst = *roce::IpAddress::parse("10.0.0.2");
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

void BM_ProbeIngress(benchmark::State& state, uint8_t opcode, uint32_t payload) {
    auto& p = probe_instance();
    run(state, p ? p->ingress_fd() : -1, frame(opcode, payload));
}

void BM_PassProgram(benchmark::State& state) {
    run(state, pass_program(), frame(roce::opcode::kRcWriteMiddle, 2048));
}

BENCHMARK_CAPTURE(BM_ProbeIngress, write_middle_2k, roce::opcode::kRcWriteMiddle, 2048)
    ->Iterations(20);
BENCHMARK_CAPTURE(BM_ProbeIngress, send_only_256, roce::opcode::kRcSendOnly, 256)->Iterations(20);
BENCHMARK_CAPTURE(BM_ProbeIngress, ack, roce::opcode::kRcAcknowledge, 0)->Iterations(20);
BENCHMARK(BM_PassProgram)->Iterations(20);

}  // namespace

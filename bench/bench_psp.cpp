// PSP sealing and opening of RoCEv2 frames (64 B, 1 KB and 4 KB of payload, AES-GCM-128
// and -256), beside the raw AES-GCM they are built on over the same bytes: intel-ipsec-mb's
// direct API (what crypt::AesGcm calls) and OpenSSL 3's EVP. Each iteration is one frame;
// bytes/s counts the frame's bytes. The ratio seal / raw ipsec-mb is the cost of the PSP
// framing (header moves, lengths, IV) on top of the cipher.
//
//   build/bench/weft-bench-psp --benchmark_repetitions=5 --benchmark_report_aggregates_only
#include <benchmark/benchmark.h>
#include <intel-ipsec-mb.h>
#include <openssl/evp.h>

#include <cstring>
#include <memory>
#include <vector>

#include "../test/common/psp_spec_keys.hpp"
#include "weft/crypt/psp.hpp"
#include "weft/roce/builder.hpp"
#include "weft/roce/opcode.hpp"

namespace {

using namespace weft;
namespace psp = roce::psp;

const crypt::MasterKeys& keys() {
    return weft::test::spec_master_keys();
}

std::vector<uint8_t> roce_frame(uint32_t payload) {
    roce::FrameSpec s;
    s.src = *roce::IpAddress::parse("10.0.0.1");
    s.dst = *roce::IpAddress::parse("10.0.0.2");
    s.bth.opcode = roce::opcode::kRcWriteOnly;
    s.bth.dest_qp = 0x11;
    s.payload_length = payload;
    std::vector<uint8_t> f(roce::frame_size(s));
    roce::build_frame(s, f);
    return f;
}

constexpr uint32_t kHeadroom = 128, kTailroom = 64;

psp::Version version_of(const benchmark::State& state) {
    return state.range(1) ? psp::Version::aes_gcm_256 : psp::Version::aes_gcm_128;
}

void BM_PspSeal(benchmark::State& state) {
    const std::vector<uint8_t> frame = roce_frame(uint32_t(state.range(0)));
    crypt::TxSa tx(keys(), 0x12345678, {version_of(state)});
    std::vector<uint8_t> buf(kHeadroom + frame.size() + kTailroom);
    for (auto _ : state) {
        std::memcpy(buf.data() + kHeadroom, frame.data(), frame.size());
        crypt::FrameBuffer f{buf.data() + kHeadroom, uint32_t(frame.size()), kHeadroom, kTailroom};
        benchmark::DoNotOptimize(tx.seal(f));
    }
    state.SetBytesProcessed(int64_t(state.iterations() * frame.size()));
}

void BM_PspOpen(benchmark::State& state) {
    const std::vector<uint8_t> frame = roce_frame(uint32_t(state.range(0)));
    crypt::TxSa tx(keys(), 0x12345678, {version_of(state)});
    // sealed frames with consecutive IVs, opened in order (the replay window moves by one)
    constexpr size_t kFrames = 4096;
    const size_t stride =
        kHeadroom + frame.size() + psp::overhead(psp::Mode::transport, false, false) + kTailroom;
    std::vector<uint8_t> sealed(kFrames * stride);
    std::vector<uint32_t> lengths(kFrames);
    for (size_t i = 0; i < kFrames; ++i) {
        uint8_t* slot = sealed.data() + i * stride;
        std::memcpy(slot + kHeadroom, frame.data(), frame.size());
        crypt::FrameBuffer f{slot + kHeadroom, uint32_t(frame.size()), kHeadroom,
                             uint32_t(stride - kHeadroom - frame.size())};
        tx.seal(f);
        std::memmove(slot, f.data, f.len);
        lengths[i] = f.len;
    }
    std::vector<uint8_t> buf(kHeadroom + stride);
    size_t i = 0;
    std::unique_ptr<crypt::RxSa> rx;
    auto lookup = [](uint32_t, uint8_t, void* ctx) { return static_cast<crypt::RxSa*>(ctx); };
    for (auto _ : state) {
        if (i % kFrames == 0) {
            state.PauseTiming();
            rx = std::make_unique<crypt::RxSa>(keys(), 0x12345678, version_of(state));
            state.ResumeTiming();
        }
        const size_t k = i++ % kFrames;
        std::memcpy(buf.data() + kHeadroom, sealed.data() + k * stride, lengths[k]);
        crypt::FrameBuffer f{buf.data() + kHeadroom, lengths[k], kHeadroom, kTailroom};
        benchmark::DoNotOptimize(crypt::open(f, lookup, rx.get()));
    }
    state.SetBytesProcessed(int64_t(state.iterations() * frame.size()));
}

// intel-ipsec-mb's manager and an expanded key, as the raw peers use them.
struct RawIpsecMb {
    explicit RawIpsecMb(bool aes256) : aes256(aes256), mgr(alloc_mb_mgr(0)) {
        init_mb_mgr_auto(mgr, nullptr);
        const uint8_t k[32] = {1, 2, 3};
        if (aes256)
            IMB_AES256_GCM_PRE(mgr, k, &key);
        else
            IMB_AES128_GCM_PRE(mgr, k, &key);
    }
    ~RawIpsecMb() { free_mb_mgr(mgr); }
    void seal(uint8_t* data, size_t len, const uint8_t* aad, uint8_t* tag) {
        const uint8_t iv[12] = {};
        gcm_context_data ctx;
        if (aes256)
            IMB_AES256_GCM_ENC(mgr, &key, &ctx, data, data, len, iv, aad, 36, tag, 16);
        else
            IMB_AES128_GCM_ENC(mgr, &key, &ctx, data, data, len, iv, aad, 36, tag, 16);
    }
    bool aes256;
    IMB_MGR* mgr;
    alignas(64) gcm_key_data key;
};

// The cipher alone over the bytes sealing encrypts (the frame after the inner BTH) with the
// AAD it authenticates (PSP header + inner UDP + BTH: 36 bytes).
void BM_RawIpsecMbGcm(benchmark::State& state) {
    const std::vector<uint8_t> frame = roce_frame(uint32_t(state.range(0)));
    RawIpsecMb gcm(state.range(1) != 0);
    std::vector<uint8_t> data(frame.begin() + 14 + 20 + 20, frame.end());
    std::vector<uint8_t> buf(frame.size());
    uint8_t aad[36] = {}, tag[16];
    for (auto _ : state) {
        // the frame copied in as BM_PspSeal copies it (each iteration starts from the
        // plaintext), so the ratio is the PSP framing's cost alone
        std::memcpy(buf.data(), frame.data(), frame.size());
        benchmark::DoNotOptimize(buf.data());
        gcm.seal(data.data(), data.size(), aad, tag);
        benchmark::DoNotOptimize(tag);
    }
    state.SetBytesProcessed(int64_t(state.iterations() * frame.size()));
}

// The same cipher call over the same bytes where sealing finds them: inside the frame
// copied to the same offset of the same kind of buffer (the encrypted part starts 54 bytes
// into the frame, so it is not 16-byte aligned, as in an mbuf), with the AAD in the frame
// too. Seal / this is the PSP framing's cost alone; raw aligned / this is what the
// frame's alignment costs the cipher.
void BM_RawIpsecMbGcmInFrame(benchmark::State& state) {
    const std::vector<uint8_t> frame = roce_frame(uint32_t(state.range(0)));
    RawIpsecMb gcm(state.range(1) != 0);
    std::vector<uint8_t> buf(kHeadroom + frame.size() + kTailroom);
    constexpr size_t kEncryptedAt = 14 + 20 + 20;  // after inner UDP + BTH, as sealed
    uint8_t* const data = buf.data() + kHeadroom + kEncryptedAt;
    const size_t len = frame.size() - kEncryptedAt;
    const uint8_t* const aad = data - 36;  // where the PSP header + inner UDP + BTH end up
    uint8_t tag[16];
    for (auto _ : state) {
        std::memcpy(buf.data() + kHeadroom, frame.data(), frame.size());
        benchmark::DoNotOptimize(buf.data());
        gcm.seal(data, len, aad, tag);
        benchmark::DoNotOptimize(tag);
    }
    state.SetBytesProcessed(int64_t(state.iterations() * frame.size()));
}

void BM_RawOpenSslGcm(benchmark::State& state) {
    const std::vector<uint8_t> frame = roce_frame(uint32_t(state.range(0)));
    const bool aes256 = state.range(1) != 0;
    EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
    uint8_t k[32] = {1, 2, 3};
    EVP_EncryptInit_ex(ctx, aes256 ? EVP_aes_256_gcm() : EVP_aes_128_gcm(), nullptr, k, nullptr);
    std::vector<uint8_t> data(frame.begin() + 14 + 20 + 20, frame.end());
    uint8_t aad[36] = {}, iv[12] = {}, tag[16];
    int n = 0;
    for (auto _ : state) {
        EVP_EncryptInit_ex(ctx, nullptr, nullptr, nullptr, iv);
        EVP_EncryptUpdate(ctx, nullptr, &n, aad, sizeof aad);
        EVP_EncryptUpdate(ctx, data.data(), &n, data.data(), int(data.size()));
        EVP_EncryptFinal_ex(ctx, data.data() + n, &n);
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, 16, tag);
        benchmark::DoNotOptimize(tag);
    }
    state.SetBytesProcessed(int64_t(state.iterations() * frame.size()));
    EVP_CIPHER_CTX_free(ctx);
}

void sizes(benchmark::internal::Benchmark* b) {
    for (int aes256 : {0, 1})
        for (int payload : {64, 1024, 4096}) b->Args({payload, aes256});
    b->ArgNames({"payload", "aes256"});
}

BENCHMARK(BM_PspSeal)->Apply(sizes);
BENCHMARK(BM_PspOpen)->Apply(sizes);
BENCHMARK(BM_RawIpsecMbGcm)->Apply(sizes);
BENCHMARK(BM_RawIpsecMbGcmInFrame)->Apply(sizes);
BENCHMARK(BM_RawOpenSslGcm)->Apply(sizes);

}  // namespace

#include "weft/crypt/gcm.hpp"

#include <intel-ipsec-mb.h>

#include <new>

#include "weft/crypt/keys.hpp"

namespace weft::crypt {

namespace {

// One manager for the process: the direct GCM API only reads its function table (chosen
// once for this CPU: SSE, AVX2, AVX-512/VAES), so every thread may share it.
IMB_MGR* manager() {
    static IMB_MGR* mgr = [] {
        IMB_MGR* m = alloc_mb_mgr(0);
        if (!m) throw CryptError("intel-ipsec-mb: cannot allocate a manager");
        init_mb_mgr_auto(m, nullptr);
        if (imb_get_errno(m) != 0)
            throw CryptError(std::string("intel-ipsec-mb: ") + imb_get_strerror(imb_get_errno(m)));
        return m;
    }();
    return mgr;
}

const gcm_key_data* as_key(const SecretBuffer& b) {
    return reinterpret_cast<const gcm_key_data*>(b.data());
}

}  // namespace

bool equal_constant_time(const uint8_t* a, const uint8_t* b, size_t len) {
    uint8_t diff = 0;
    for (size_t i = 0; i < len; ++i) diff |= uint8_t(a[i] ^ b[i]);
    // the branch is on the accumulated difference only, after every byte was read
    return diff == 0;
}

AesGcm::AesGcm(std::span<const uint8_t> key) : key_data_(sizeof(gcm_key_data)) {
    if (key.size() != 16 && key.size() != 32)
        throw CryptError("AES-GCM takes a 16- or 32-byte key");
    aes256_ = key.size() == 32;
    IMB_MGR* m = manager();
    auto* kd = new (key_data_.data()) gcm_key_data;  // page-aligned: more than its 64 bytes
    if (aes256_)
        IMB_AES256_GCM_PRE(m, key.data(), kd);
    else
        IMB_AES128_GCM_PRE(m, key.data(), kd);
}

void AesGcm::seal(const uint8_t* nonce, std::span<const uint8_t> aad, uint8_t* data, size_t len,
                  uint8_t* tag) const {
    IMB_MGR* m = manager();
    gcm_context_data ctx;
    if (aes256_)
        IMB_AES256_GCM_ENC(m, as_key(key_data_), &ctx, data, data, len, nonce, aad.data(),
                           aad.size(), tag, kGcmTagBytes);
    else
        IMB_AES128_GCM_ENC(m, as_key(key_data_), &ctx, data, data, len, nonce, aad.data(),
                           aad.size(), tag, kGcmTagBytes);
}

bool AesGcm::open(const uint8_t* nonce, std::span<const uint8_t> aad, uint8_t* data, size_t len,
                  const uint8_t* tag) const {
    IMB_MGR* m = manager();
    gcm_context_data ctx;
    uint8_t computed[kGcmTagBytes];
    if (aes256_)
        IMB_AES256_GCM_DEC(m, as_key(key_data_), &ctx, data, data, len, nonce, aad.data(),
                           aad.size(), computed, kGcmTagBytes);
    else
        IMB_AES128_GCM_DEC(m, as_key(key_data_), &ctx, data, data, len, nonce, aad.data(),
                           aad.size(), computed, kGcmTagBytes);
    return equal_constant_time(computed, tag, kGcmTagBytes);
}

}  // namespace weft::crypt

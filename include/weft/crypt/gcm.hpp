// AES-GCM through intel-ipsec-mb's direct API (one call per packet, no job queue), with
// the expanded key in secret memory. Decryption returns the computed tag; it is compared
// with the received one in constant time here.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "weft/crypt/secret.hpp"

namespace weft::crypt {

inline constexpr size_t kGcmNonceBytes = 12;
inline constexpr size_t kGcmTagBytes = 16;

class AesGcm {
  public:
    // A 16- or 32-byte key (AES-128 / AES-256). Throws CryptError for another length.
    explicit AesGcm(std::span<const uint8_t> key);

    // Encrypts `data` in place and writes the 16-byte tag.
    void seal(const uint8_t* nonce, std::span<const uint8_t> aad, uint8_t* data, size_t len,
              uint8_t* tag) const;
    // Decrypts `data` in place; true when the tag is right. On a wrong tag the data is
    // decrypted anyway (GCM cannot know before the end): callers drop it.
    bool open(const uint8_t* nonce, std::span<const uint8_t> aad, uint8_t* data, size_t len,
              const uint8_t* tag) const;
    bool aes256() const { return aes256_; }

  private:
    SecretBuffer key_data_;  // intel-ipsec-mb's gcm_key_data: round keys and hash-key powers
    bool aes256_ = false;
};

// Constant-time equality of two byte ranges of the same length.
bool equal_constant_time(const uint8_t* a, const uint8_t* b, size_t len);

}  // namespace weft::crypt

// PSP key material: the two 256-bit master keys and the per-SPI keys derived from them
// (PSP architecture specification, "Key derivation": NIST SP 800-108 counter mode with
// AES-256-CMAC as the PRF). Derivation runs once per security association, never per
// packet, so OpenSSL's CMAC is used (intel-ipsec-mb's gives no benefit there).
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>

#include "weft/crypt/secret.hpp"
#include "weft/roce/psp.hpp"

namespace weft::crypt {

class CryptError : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

inline constexpr size_t kMasterKeyBytes = 32;

class MasterKeys {
  public:
    MasterKeys() : bytes_(2 * kMasterKeyBytes) {}
    // key 0 or 1 (an SPI's bit 31 chooses)
    uint8_t* key(unsigned i) { return bytes_.data() + (i & 1) * kMasterKeyBytes; }
    const uint8_t* key(unsigned i) const { return bytes_.data() + (i & 1) * kMasterKeyBytes; }

  private:
    SecretBuffer bytes_;
};

// A master-key file: two lines of 64 hex digits (key 0, key 1); blank lines and '#'
// comments allowed. Refused (CryptError naming the file and the reason, never a key
// byte) unless it is a regular file (not a symbolic link) owned by root (or by this
// process's user when it is not root, for tests) and readable by its owner only (mode
// 0600 or 0400).
MasterKeys load_master_keys(const std::string& path);
// The same from text (no file checks): tests and the fuzz target.
MasterKeys parse_master_keys(const std::string& text, const std::string& name);

// Whether key `slot` (0 or 1) is the same in both, compared in constant time.
bool same_master_key(const MasterKeys& a, const MasterKeys& b, unsigned slot);

// The key of an SPI for a version (16 bytes for versions 0 and 2, 32 for 1 and 3).
SecretBuffer derive_key(const MasterKeys& keys, uint32_t spi, roce::psp::Version version);

}  // namespace weft::crypt

#include "weft/crypt/keys.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>

namespace weft::crypt {

namespace {

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

// One CMAC block of the SP 800-108 counter-mode KDF: counter, label "Pv0\0" or "Pv1\0",
// context (the SPI, all 32 bits), length in bits; four big-endian words.
void cmac_block(const uint8_t* master, uint8_t counter, uint32_t spi, bool key256, uint8_t* out) {
    uint8_t block[16] = {0, 0, 0, counter, 'P', 'v', uint8_t(key256 ? '1' : '0'), 0};
    roce::store_be32(block + 8, spi);
    roce::store_be32(block + 12, key256 ? 256 : 128);
    std::unique_ptr<EVP_MAC, decltype(&EVP_MAC_free)> mac(EVP_MAC_fetch(nullptr, "CMAC", nullptr),
                                                          &EVP_MAC_free);
    if (!mac) throw CryptError("OpenSSL has no CMAC");
    std::unique_ptr<EVP_MAC_CTX, decltype(&EVP_MAC_CTX_free)> ctx(EVP_MAC_CTX_new(mac.get()),
                                                                  &EVP_MAC_CTX_free);
    char cipher[] = "AES-256-CBC";
    OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_CIPHER, cipher, 0),
                           OSSL_PARAM_construct_end()};
    size_t len = 0;
    if (!ctx || EVP_MAC_init(ctx.get(), master, kMasterKeyBytes, params) != 1 ||
        EVP_MAC_update(ctx.get(), block, sizeof block) != 1 ||
        EVP_MAC_final(ctx.get(), out, &len, 16) != 1 || len != 16)
        throw CryptError("key derivation (AES-256-CMAC) failed");
}

}  // namespace

MasterKeys parse_master_keys(const std::string& text, const std::string& name) {
    MasterKeys keys;
    unsigned found = 0;
    size_t line_no = 0, start = 0;
    while (start <= text.size()) {
        size_t end = text.find('\n', start);
        if (end == std::string::npos) end = text.size();
        ++line_no;
        std::string_view line(text.data() + start, end - start);
        start = end + 1;
        while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\t'))
            line.remove_suffix(1);
        while (!line.empty() && (line.front() == ' ' || line.front() == '\t'))
            line.remove_prefix(1);
        if (line.empty() || line.front() == '#') continue;
        if (found == 2) throw CryptError(fmt::format("{}:{}: more than two keys", name, line_no));
        if (line.size() != 2 * kMasterKeyBytes)
            throw CryptError(
                fmt::format("{}:{}: a master key is 64 hex digits (this line has {} "
                            "characters)",
                            name, line_no, line.size()));
        uint8_t* out = keys.key(found);
        for (size_t i = 0; i < kMasterKeyBytes; ++i) {
            const int hi = hex_value(line[2 * i]), lo = hex_value(line[2 * i + 1]);
            if (hi < 0 || lo < 0)
                throw CryptError(fmt::format("{}:{}: not a hex digit at column {}", name, line_no,
                                             hi < 0 ? 2 * i + 1 : 2 * i + 2));
            out[i] = uint8_t(hi << 4 | lo);
        }
        ++found;
    }
    if (found != 2)
        throw CryptError(
            fmt::format("{}: two master keys expected (key 0, key 1), found {}", name, found));
    return keys;
}

MasterKeys load_master_keys(const std::string& path) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        throw CryptError(fmt::format("{}: {}{}", path, std::strerror(errno),
                                     errno == ELOOP ? " (a symbolic link: refused)" : ""));
    struct stat st;
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        ::close(fd);
        throw CryptError(fmt::format("{}: not a regular file", path));
    }
    const uid_t owner = ::geteuid() == 0 ? 0 : ::geteuid();
    if (st.st_uid != owner || (st.st_mode & 077) != 0) {
        ::close(fd);
        throw CryptError(fmt::format(
            "{}: a master-key file must be owned by {} and readable by its owner only (mode "
            "0600); it is owned by uid {} with mode {:04o}",
            path, owner == 0 ? "root" : "this user", st.st_uid, st.st_mode & 07777));
    }
    if (st.st_size > 4096) {
        ::close(fd);
        throw CryptError(fmt::format("{}: larger than a master-key file can be", path));
    }
    SecretBuffer raw(4097);
    ssize_t n = ::read(fd, raw.data(), 4096);
    ::close(fd);
    if (n < 0) throw CryptError(fmt::format("{}: {}", path, std::strerror(errno)));
    // parsed from the secret buffer through a string_view-sized copy that is wiped
    std::string text(reinterpret_cast<const char*>(raw.data()), size_t(n));
    try {
        MasterKeys keys = parse_master_keys(text, path);
        ::explicit_bzero(text.data(), text.size());
        return keys;
    } catch (...) {
        ::explicit_bzero(text.data(), text.size());
        throw;
    }
}

bool same_master_key(const MasterKeys& a, const MasterKeys& b, unsigned slot) {
    return CRYPTO_memcmp(a.key(slot), b.key(slot), kMasterKeyBytes) == 0;
}

SecretBuffer derive_key(const MasterKeys& keys, uint32_t spi, roce::psp::Version version) {
    const bool key256 = roce::psp::key_bytes(version) == 32;
    const uint8_t* master = keys.key((spi & roce::psp::kSpiKeySelector) ? 1 : 0);
    SecretBuffer out(key256 ? 32 : 16);
    cmac_block(master, 1, spi, key256, out.data());
    if (key256) cmac_block(master, 2, spi, key256, out.data() + 16);
    return out;
}

}  // namespace weft::crypt

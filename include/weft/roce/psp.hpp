// PSP (Google's PSP Security Protocol, architecture specification v1.0, 2022) header wire
// format: the one definition every sealer, opener, test and tool shares. Facts of the
// format only (layout, field widths, the rules a header must keep); keys and AES-GCM are
// the crypt module's.
//
//   byte 0      Next Header (IP protocol of what follows: 17 transport, 4/41 tunnel)
//   byte 1      Hdr Ext Len: 8-octet units after the first 8 (1, or 2 with a cookie)
//   byte 2      2 reserved bits, 6-bit Crypt Offset (4-octet units from byte 16)
//   byte 3      S, D, 4-bit Version, V (cookie present), 1
//   bytes 4-7   SPI (bit 31 selects the master key; the low 31 bits are never 0)
//   bytes 8-15  IV (the GCM nonce is bytes 4-15: SPI || IV)
//   bytes 16-23 Virtualization Cookie, when V
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "weft/roce/bytes.hpp"

namespace weft::roce::psp {

inline constexpr uint16_t kUdpPort = 1000;
inline constexpr size_t kBaseHeaderBytes = 16;
inline constexpr size_t kCookieBytes = 8;
inline constexpr size_t kIcvBytes = 16;
inline constexpr size_t kUdpBytes = 8;
inline constexpr unsigned kCryptOffsetUnit = 4;
inline constexpr uint8_t kMaxCryptOffset = 63;  // 6 bits: 252 bytes
inline constexpr uint32_t kSpiKeySelector = 0x80000000u;
// An SPI in a key generation: bit 31, which chooses the master key, is the generation's
// parity (weftd's rotation flips it; the low 31 bits name the SA).
inline constexpr uint32_t spi_in_generation(uint32_t spi, uint32_t generation) {
    return (generation & 1) ? (spi | kSpiKeySelector) : (spi & ~kSpiKeySelector);
}

// Versions 0 and 1 are the AES-GCM ones Weft seals and opens; 2 and 3 (GMAC: nothing
// encrypted) are parsed, and refused by the opener.
enum class Version : uint8_t {
    aes_gcm_128 = 0,
    aes_gcm_256 = 1,
    aes_gmac_128 = 2,
    aes_gmac_256 = 3
};
inline constexpr size_t key_bytes(Version v) {
    return v == Version::aes_gcm_256 || v == Version::aes_gmac_256 ? 32 : 16;
}
std::string_view to_string(Version v);

struct Header {
    uint8_t next_header = 17;
    uint8_t crypt_offset = 0;  // in 4-octet units, from the end of the base header
    uint8_t version = 0;       // 4 bits on the wire (Version for 0-3)
    bool sample = false;
    bool drop = false;
    bool has_cookie = false;
    uint32_t spi = 0;
    uint64_t iv = 0;
    uint64_t cookie = 0;

    size_t bytes() const { return kBaseHeaderBytes + (has_cookie ? kCookieBytes : 0); }
    size_t crypt_offset_bytes() const { return size_t(crypt_offset) * kCryptOffsetUnit; }
};

// Writes the header (bytes() bytes). The reserved bits are 0; the SPI and IV as given.
void write_header(uint8_t* out, const Header& h);

// Why a header is refused: the bytes it would need are missing, its always-one bit is 0,
// its extension length disagrees with its V bit, or its SPI's low 31 bits are 0.
enum class HeaderProblem : uint8_t { none, truncated, fixed_bit_clear, bad_ext_length, zero_spi };
std::string_view to_string(HeaderProblem p);

// Reads a header at the start of `bytes`. The reserved bits are ignored (they are in the
// AAD, so a change to them fails authentication, not parsing).
HeaderProblem read_header(std::span<const uint8_t> bytes, Header& out);

// The bytes encapsulation adds to a frame: the outer UDP header, the PSP header, the ICV;
// tunnel mode adds an outer IP header too.
enum class Mode : uint8_t { transport, tunnel };
inline constexpr size_t overhead(Mode mode, bool outer_ipv6, bool cookie) {
    return kUdpBytes + kBaseHeaderBytes + kIcvBytes + (cookie ? kCookieBytes : 0) +
           (mode == Mode::tunnel ? (outer_ipv6 ? 40 : 20) : 0);
}

}  // namespace weft::roce::psp

#include "weft/roce/icrc.hpp"

#include <immintrin.h>
#include <isa-l/crc.h>
#include <zlib.h>

#include <array>
#include <cstring>

namespace weft::roce {

uint32_t crc32(uint32_t crc, const uint8_t* data, size_t len) {
    return crc32_gzip_refl(crc, data, len);
}

namespace {

// ---- GF(2) arithmetic modulo the CRC-32 polynomial, in the reflected representation
// zlib and ISA-L use (bit i of a value is the coefficient of x^(31-i)).

const z_crc_t* const kByteTable = get_crc_table();  // zlib's reflected byte-step table

// x^32 * c mod P: four byte steps of a table-driven CRC with zero data.
inline uint32_t times_x32(uint32_t c) {
    for (int i = 0; i < 4; ++i) c = uint32_t(kByteTable[c & 0xff]) ^ (c >> 8);
    return c;
}

// a * b mod P with one carry-less multiply: the reflected 63-bit product, shifted left
// once, holds the high half (to reduce) in its low word and the low half in its high word.
__attribute__((target("pclmul"))) uint32_t multiply_clmul(uint32_t a, uint32_t b) {
    __m128i p = _mm_clmulepi64_si128(_mm_cvtsi32_si128(int(a)), _mm_cvtsi32_si128(int(b)), 0);
    uint64_t r = uint64_t(_mm_cvtsi128_si64(p)) << 1;
    return times_x32(uint32_t(r)) ^ uint32_t(r >> 32);
}

// Bit-serial fallback for CPUs without PCLMULQDQ (the same arithmetic, 32 steps).
uint32_t multiply_bitwise(uint32_t a, uint32_t b) {
    uint32_t m = 1u << 31, p = 0;
    for (;;) {
        if (a & m) {
            p ^= b;
            if ((a & (m - 1)) == 0) break;
        }
        m >>= 1;
        b = b & 1 ? (b >> 1) ^ 0xedb88320u : b >> 1;
    }
    return p;
}

const bool kHavePclmul = __builtin_cpu_supports("pclmul");

inline uint32_t multiply(uint32_t a, uint32_t b) {
    return kHavePclmul ? multiply_clmul(a, b) : multiply_bitwise(a, b);
}

// x^(8n) mod P for n < 65536 as the product of two table entries; tables built once
// from zlib's crc32_combine_gen (which returns exactly x^(8n) mod P).
struct ShiftTables {
    std::array<uint32_t, 256> low{};   // x^(8n),       n in [0, 256)
    std::array<uint32_t, 256> high{};  // x^(8*256*n),  n in [0, 256)
    ShiftTables() {
        for (unsigned n = 0; n < 256; ++n) {
            low[n] = uint32_t(crc32_combine_gen(z_off_t(n)));
            high[n] = uint32_t(crc32_combine_gen(z_off_t(n) * 256));
        }
    }
};
const ShiftTables kShift;

inline uint32_t x_pow_8n(size_t n) {
    if (n >= 65536) return uint32_t(crc32_combine_gen(z_off_t(n)));
    return multiply(kShift.low[n & 255], kShift.high[n >> 8]);
}

// CRC register with no pre- or post-inversion ("raw"): linear in the data.
inline uint32_t raw_crc(const uint8_t* p, size_t n) {
    return ~crc32_gzip_refl(0xffffffffu, p, n);
}

// ---- ICRC

// 8 (LRH stand-in) + 60 (IPv4 with options) or 40 (IPv6) + 8 (UDP) + 12 (BTH).
constexpr size_t kHeaderMax = 60 + kUdpHeaderSize + kBthSize;

// Register state after the eight 0xff bytes that stand in for the LRH.
const uint32_t kAfterLrh = [] {
    uint8_t ones[8];
    std::memset(ones, 0xff, sizeof ones);
    return crc32_gzip_refl(0, ones, sizeof ones);
}();

// XOR difference between the covered headers as masked and as on the wire: non-zero
// only in the variant fields (masking is OR with ones, so the difference is ~field).
size_t mask_difference(const uint8_t* frame, const Packet& p, uint8_t* out) {
    const size_t ip_len = size_t(p.l4_offset) - p.l3_offset;
    const size_t len = ip_len + kUdpHeaderSize + kBthSize;
    std::memset(out, 0, len);
    const uint8_t* ip = frame + p.l3_offset;
    if (p.ip_version == IpVersion::V4) {
        out[1] = uint8_t(~ip[1]);    // TOS
        out[8] = uint8_t(~ip[8]);    // TTL
        out[10] = uint8_t(~ip[10]);  // header checksum
        out[11] = uint8_t(~ip[11]);
    } else {
        out[0] = uint8_t(~ip[0] & 0x0f);  // traffic class (high nibble) ...
        out[1] = uint8_t(~ip[1]);         // ... and flow label
        out[2] = uint8_t(~ip[2]);
        out[3] = uint8_t(~ip[3]);
        out[7] = uint8_t(~ip[7]);         // hop limit
    }
    out[ip_len + 6] = uint8_t(~ip[ip_len + 6]);                  // UDP checksum
    out[ip_len + 7] = uint8_t(~ip[ip_len + 7]);
    out[ip_len + kUdpHeaderSize + 4] = uint8_t(~ip[ip_len + kUdpHeaderSize + 4]);  // BTH resv8a
    return len;
}

// One pass of ISA-L over the frame as it is, then the masking applied by linearity:
// crc(masked) = crc(wire) ^ raw(difference) * x^(8 * bytes after the headers).
uint32_t compute(const uint8_t* frame, const Packet& p) {
    const size_t covered = size_t(p.icrc_offset) - p.l3_offset;
    uint32_t crc = crc32_gzip_refl(kAfterLrh, frame + p.l3_offset, covered);
    uint8_t diff[kHeaderMax];
    size_t n = mask_difference(frame, p, diff);
    return crc ^ multiply(raw_crc(diff, n), x_pow_8n(covered - n));
}

}  // namespace

uint32_t icrc_compute(const Packet& p) { return compute(p.frame.data(), p); }

void icrc_write(uint8_t* frame, const Packet& p) {
    store_le32(frame + p.icrc_offset, compute(frame, p));
}

uint32_t icrc_update(uint32_t old_icrc, const uint8_t* old_bytes, const uint8_t* new_bytes,
                     size_t field_len, size_t bytes_after) {
    uint32_t c = 0;
    for (size_t i = 0; i < field_len; ++i)
        c = uint32_t(kByteTable[(c ^ old_bytes[i] ^ new_bytes[i]) & 0xff]) ^ (c >> 8);
    return old_icrc ^ multiply(c, x_pow_8n(bytes_after));
}

uint32_t icrc_after_src_port_change(const Packet& p, uint16_t new_port) {
    uint8_t old_bytes[2], new_bytes[2];
    store_be16(old_bytes, p.src_port);
    store_be16(new_bytes, new_port);
    size_t after = size_t(p.icrc_offset) - (p.l4_offset + 2);
    return icrc_update(p.wire_icrc(), old_bytes, new_bytes, 2, after);
}

}  // namespace weft::roce

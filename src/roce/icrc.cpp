#include "weft/roce/icrc.hpp"

#include <immintrin.h>
#include <isa-l/crc.h>
#include <zlib.h>

#include <array>
#include <cstring>

namespace weft::roce {

namespace {

// ISA-L's AVX-512 CRC returns with the upper vector state dirty (no VZEROUPPER). Every
// legacy-SSE instruction after it, in our code or the caller's, then pays a transition
// penalty: measured here, a 4 KB ICRC took 287 ns instead of 93 ns and weftd's whole
// per-packet path slowed by as much. So each call is followed by VZEROUPPER.
__attribute__((target("avx"))) void clear_upper_state() {
    _mm256_zeroupper();
}
const bool kClearUpper = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx") != 0;
}();

inline uint32_t isal_crc(uint32_t crc, const uint8_t* data, size_t len) {
    uint32_t r = crc32_gzip_refl(crc, data, len);
    if (kClearUpper) clear_upper_state();
    return r;
}

}  // namespace

uint32_t crc32(uint32_t crc, const uint8_t* data, size_t len) {
    return isal_crc(crc, data, len);
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
    if (a == 0) return 0;  // the loop below ends on a's last set bit
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

// __builtin_cpu_init must run first when this is evaluated during static initialisation.
const bool kHavePclmul = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("pclmul") != 0;
}();
inline uint32_t multiply(uint32_t a, uint32_t b) {
    return kHavePclmul ? multiply_clmul(a, b) : multiply_bitwise(a, b);
}

// x^(8n) mod P: one table entry for packet-sized n, the product of two entries up to
// 65535, zlib beyond. Tables built once from zlib's crc32_combine_gen (which returns
// exactly x^(8n) mod P).
constexpr size_t kDirectShifts = 9216;  // jumbo frames
struct ShiftTables {
    std::array<uint32_t, kDirectShifts> direct{};  // x^(8n),       n in [0, 9216)
    std::array<uint32_t, 256> low{};               // x^(8n),       n in [0, 256)
    std::array<uint32_t, 256> high{};              // x^(8*256*n),  n in [0, 256)
    ShiftTables() {
        for (size_t n = 0; n < kDirectShifts; ++n)
            direct[n] = uint32_t(crc32_combine_gen(z_off_t(n)));
        for (unsigned n = 0; n < 256; ++n) {
            low[n] = direct[n];
            high[n] = uint32_t(crc32_combine_gen(z_off_t(n) * 256));
        }
    }
};
const ShiftTables kShift;

inline uint32_t x_pow_8n(size_t n) {
    if (n < kDirectShifts) return kShift.direct[n];
    if (n >= 65536) return uint32_t(crc32_combine_gen(z_off_t(n)));
    return multiply(kShift.low[n & 255], kShift.high[n >> 8]);
}

// ---- ICRC

// 8 (LRH stand-in) + 60 (IPv4 with options) or 40 (IPv6) + 8 (UDP) + 12 (BTH).
constexpr size_t kMaskedPrefixMax = 8 + 60 + kUdpHeaderSize + kBthSize;

// Copies the covered headers with the variant fields masked; returns the length.
size_t masked_prefix(const uint8_t* frame, const Packet& p, uint8_t* out) {
    std::memset(out, 0xff, 8);
    const size_t ip_len = size_t(p.l4_offset) - p.l3_offset;
    const size_t len = ip_len + kUdpHeaderSize + kBthSize;  // BTH follows UDP directly
    std::memcpy(out + 8, frame + p.l3_offset, len);
    uint8_t* ip = out + 8;
    if (p.ip_version == IpVersion::V4) {
        ip[1] = 0xff;            // TOS
        ip[8] = 0xff;            // TTL
        ip[10] = ip[11] = 0xff;  // header checksum
    } else {
        ip[0] |= 0x0f;                 // traffic class (high nibble) ...
        ip[1] = ip[2] = ip[3] = 0xff;  // ... and flow label
        ip[7] = 0xff;                  // hop limit
    }
    uint8_t* udp = ip + ip_len;
    udp[6] = udp[7] = 0xff;          // UDP checksum
    udp[kUdpHeaderSize + 4] = 0xff;  // BTH resv8a
    return 8 + len;
}

// The masks change a handful of header bytes. By CRC linearity, the ICRC is the CRC of
// the frame as it lies in memory (one ISA-L pass, from the IP header, starting from the
// register state after the eight 0xff bytes that stand in for the LRH) corrected by
// raw(D) * x^(8 * bytes after the headers), where D holds (masked ^ wire) = ~byte in
// the masked positions. raw(D) is the XOR of one table entry per masked byte, so the
// correction costs a few loads and one carry-less multiply, not a second CRC pass.
constexpr size_t kIpv4Block = 20 + kUdpHeaderSize + kBthSize;  // IPv4 without options
constexpr size_t kIpv6Block = 40 + kUdpHeaderSize + kBthSize;

struct Correction {
    std::array<size_t, 8> positions;
    size_t count;
    std::array<std::array<uint32_t, 256>, 8> table;  // raw(b at position) within the block
};

struct IcrcTables {
    Correction v4{{1, 8, 10, 11, 20 + 6, 20 + 7, 20 + 8 + 4, 0}, 7, {}};
    Correction v6{{0, 1, 2, 3, 7, 40 + 6, 40 + 7, 40 + 8 + 4}, 8, {}};
    uint32_t after_lrh;  // register after eight 0xff bytes

    static void fill(Correction& c, size_t block) {
        for (size_t k = 0; k < c.count; ++k) {
            uint32_t shift = uint32_t(crc32_combine_gen(z_off_t(block - 1 - c.positions[k])));
            for (unsigned b = 0; b < 256; ++b)
                c.table[k][b] = multiply_bitwise(uint32_t(kByteTable[b]), shift);
        }
    }
    IcrcTables() {
        fill(v4, kIpv4Block);
        fill(v6, kIpv6Block);
        uint8_t ones[8];
        std::memset(ones, 0xff, sizeof ones);
        after_lrh = crc32_gzip_refl(0, ones, sizeof ones);
    }
};
const IcrcTables kTables;

inline uint32_t corrected(const uint8_t* ip, size_t covered, size_t block, const Correction& c,
                          uint8_t first_mask) {
    const uint32_t wire = isal_crc(kTables.after_lrh, ip, covered);
    uint32_t d = c.table[0][uint8_t(~ip[c.positions[0]] & first_mask)];
    for (size_t k = 1; k < c.count; ++k) d ^= c.table[k][uint8_t(~ip[c.positions[k]])];
    return wire ^ multiply(d, x_pow_8n(covered - block));
}

uint32_t compute(const uint8_t* frame, const Packet& p) {
    const size_t ip_len = size_t(p.l4_offset) - p.l3_offset;
    const uint8_t* ip = frame + p.l3_offset;
    const size_t covered = size_t(p.icrc_offset) - p.l3_offset;  // >= the header block
    if (p.ip_version == IpVersion::V4 && ip_len == kIpv4MinHeaderSize)
        return corrected(ip, covered, kIpv4Block, kTables.v4, 0xff);
    if (p.ip_version == IpVersion::V6)  // byte 0: only the traffic class nibble is masked
        return corrected(ip, covered, kIpv6Block, kTables.v6, 0x0f);
    // IPv4 with options: rare in RoCE; CRC a masked copy of the headers, then the rest.
    uint8_t prefix[kMaskedPrefixMax];
    const size_t n = masked_prefix(frame, p, prefix);
    const uint32_t crc = isal_crc(0, prefix, n);
    const size_t rest = size_t(p.bth_offset) + kBthSize;
    return isal_crc(crc, frame + rest, p.icrc_offset - rest);
}

}  // namespace

uint32_t icrc_compute(const Packet& p) {
    return compute(p.frame.data(), p);
}

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

#include "weft/roce/icrc.hpp"

#include <isa-l/crc.h>
#include <zlib.h>

#include <cstring>

namespace weft::roce {

uint32_t crc32(uint32_t crc, const uint8_t* data, size_t len) {
    return crc32_gzip_refl(crc, data, len);
}

namespace {

// 8 (LRH stand-in) + 60 (IPv4 with options) or 40 (IPv6) + 8 (UDP) + 12 (BTH).
constexpr size_t kMaskedPrefixMax = 8 + 60 + kUdpHeaderSize + kBthSize;

// Copies the covered headers with the variant fields masked; returns the length.
size_t masked_prefix(const uint8_t* frame, const Packet& p, uint8_t* out) {
    std::memset(out, 0xff, 8);
    size_t ip_len = size_t(p.l4_offset) - p.l3_offset;
    size_t len = ip_len + kUdpHeaderSize + kBthSize;  // BTH follows UDP directly
    std::memcpy(out + 8, frame + p.l3_offset, len);
    uint8_t* ip = out + 8;
    if (p.ip_version == IpVersion::V4) {
        ip[1] = 0xff;                  // TOS
        ip[8] = 0xff;                  // TTL
        ip[10] = ip[11] = 0xff;        // header checksum
    } else {
        ip[0] |= 0x0f;                 // traffic class (high nibble) ...
        ip[1] = ip[2] = ip[3] = 0xff;  // ... and flow label
        ip[7] = 0xff;                  // hop limit
    }
    uint8_t* udp = ip + ip_len;
    udp[6] = udp[7] = 0xff;            // UDP checksum
    udp[kUdpHeaderSize + 4] = 0xff;    // BTH resv8a
    return 8 + len;
}

uint32_t compute(const uint8_t* frame, const Packet& p) {
    uint8_t prefix[kMaskedPrefixMax];
    size_t n = masked_prefix(frame, p, prefix);
    uint32_t crc = crc32_gzip_refl(0, prefix, n);
    size_t rest = size_t(p.bth_offset) + kBthSize;
    return crc32_gzip_refl(crc, frame + rest, p.icrc_offset - rest);
}

}  // namespace

uint32_t icrc_compute(const Packet& p) { return compute(p.frame.data(), p); }

void icrc_write(uint8_t* frame, const Packet& p) {
    store_le32(frame + p.icrc_offset, compute(frame, p));
}

uint32_t icrc_update(uint32_t old_icrc, const uint8_t* old_bytes, const uint8_t* new_bytes,
                     size_t field_len, size_t bytes_after) {
    uint8_t delta[8] = {};
    for (size_t i = 0; i < field_len && i < sizeof delta; ++i) delta[i] = old_bytes[i] ^ new_bytes[i];
    // crc0 = the pure polynomial remainder (no pre/post inversion) of the delta bytes:
    // zlib's crc32 inverts on entry and exit, so pre-invert and post-invert to cancel.
    uLong crc0 = ~crc32_z(0xffffffffUL, delta, field_len) & 0xffffffffUL;
    // Shift it past the bytes that follow: crc32_combine(a, 0, n) == a * x^(8n) mod P.
    uLong shifted = crc32_combine(crc0, 0, z_off_t(bytes_after));
    return old_icrc ^ uint32_t(shifted);
}

uint32_t icrc_after_src_port_change(const Packet& p, uint16_t new_port) {
    uint8_t old_bytes[2], new_bytes[2];
    store_be16(old_bytes, p.src_port);
    store_be16(new_bytes, new_port);
    size_t after = size_t(p.icrc_offset) - (p.l4_offset + 2);
    return icrc_update(p.wire_icrc(), old_bytes, new_bytes, 2, after);
}

}  // namespace weft::roce

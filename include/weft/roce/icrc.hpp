// RoCEv2 invariant CRC (ICRC): CRC-32 (Ethernet's polynomial, reflected, stored least
// significant byte first) over 8 bytes of ones standing in for the InfiniBand LRH, the
// IP header, the UDP header, the BTH and everything after it up to the ICRC, with the
// fields routers may change masked to ones: IPv4 TOS, TTL and header checksum; IPv6
// traffic class, flow label and hop limit; the UDP checksum; BTH resv8a.
//
// The CRC itself comes from ISA-L (crc32_gzip_refl: PCLMULQDQ/VPCLMULQDQ folding), the
// fastest CRC-32 measured on these machines, in one pass over the frame as it lies in
// memory; the masks are then applied by CRC linearity (one carry-less multiply), which
// measured faster than CRCing a masked copy of the headers and chaining.
#pragma once

#include <cstddef>
#include <cstdint>

#include "weft/roce/packet.hpp"

namespace weft::roce {

// CRC-32 (IEEE, reflected), zlib-compatible chaining: crc32(crc32(0,a),b) == crc32(0,a+b).
uint32_t crc32(uint32_t crc, const uint8_t* data, size_t len);

// ICRC of a packet that parse() accepted (Verdict::Ok).
uint32_t icrc_compute(const Packet& p);
inline bool icrc_valid(const Packet& p) {
    return icrc_compute(p) == p.wire_icrc();
}
// Computes the ICRC over `frame` laid out as `p` describes and writes it in place.
void icrc_write(uint8_t* frame, const Packet& p);

// After a covered, unmasked header field changed (the balancer rewrites the UDP source
// port), the new ICRC follows from the old one without touching the payload: CRC-32 is
// linear, so crc(new) = crc(old) ^ crc0(delta) * x^(8 * bytes_after): two carry-less
// multiplies and a few table steps, whatever the packet's length.
//   old_icrc      the ICRC before the change
//   old_bytes,
//   new_bytes     the changed field before and after (same length, field_len bytes)
//   bytes_after   covered bytes after the field, up to the ICRC
uint32_t icrc_update(uint32_t old_icrc, const uint8_t* old_bytes, const uint8_t* new_bytes,
                     size_t field_len, size_t bytes_after);

// The common case: the UDP source port of parsed packet `p` changes to `new_port`.
// Returns the ICRC the packet must carry afterwards.
uint32_t icrc_after_src_port_change(const Packet& p, uint16_t new_port);

}  // namespace weft::roce

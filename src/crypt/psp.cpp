#include "weft/crypt/psp.hpp"

#include <cstdint>
#include <cstring>

#include "weft/roce/bytes.hpp"
#include "weft/roce/headers.hpp"
#include "weft/roce/locate.hpp"

namespace weft::crypt {

namespace psp = roce::psp;
using roce::load_be16;
using roce::store_be16;

namespace {

constexpr uint8_t kIpProtoIpv4 = 4, kIpProtoIpv6 = 41;
constexpr size_t kMaxIpLength = 65535;

// Where a frame's IP packet is and ends, from its own header (never the frame's size).
struct IpSpan {
    bool v6 = false;
    uint32_t l3 = 0, l4 = 0, end = 0;
    uint8_t protocol = 0;
};

bool ip_span(const FrameBuffer& f, const roce::Located& loc, IpSpan& out) {
    out.v6 = loc.ip_version == roce::IpVersion::V6;
    out.l3 = loc.l3_offset;
    out.l4 = loc.l4_offset;
    out.protocol = loc.protocol;
    const uint8_t* ip = f.data + out.l3;
    // the header must be what the EtherType says it is
    if ((ip[0] >> 4) != (out.v6 ? 6 : 4)) return false;
    const uint32_t total = out.v6 ? 40u + load_be16(ip + 4) : load_be16(ip + 2);
    if (total < out.l4 - out.l3) return false;
    out.end = out.l3 + total;
    return out.end <= f.len;
}

void set_ipv4_checksum(uint8_t* ip) {
    const size_t ihl = size_t(ip[0] & 0x0f) * 4;
    store_be16(ip + 10, 0);
    store_be16(ip + 10, roce::ipv4_header_checksum(ip, ihl));
}

// The IP header's length field and protocol for a packet that now ends at `end`.
void fix_ip(uint8_t* frame, const IpSpan& ip, uint32_t end, uint8_t protocol) {
    uint8_t* h = frame + ip.l3;
    if (ip.v6) {
        store_be16(h + 4, uint16_t(end - ip.l3 - 40));
        h[6] = protocol;
    } else {
        store_be16(h + 2, uint16_t(end - ip.l3));
        h[9] = protocol;
        set_ipv4_checksum(h);
    }
}

// The outer source port: a function of the inner flow only, so one QP keeps one port
// (one ECMP path) until the balancer says otherwise. Two independent multiply-folds (no
// chain of dependent rounds: this runs per sealed frame), good enough to spread flows
// over 14 bits; it is not a defence against anyone choosing flows to collide.
uint16_t source_port(SourcePort rule, const FrameBuffer& f, const roce::Located& loc,
                     const IpSpan& ip) {
    if (rule == SourcePort::xor_ports)
        return loc.has_ports ? uint16_t(loc.src_port ^ loc.dst_port) : psp::kUdpPort;
    const uint8_t* addrs = f.data + ip.l3 + (ip.v6 ? 8 : 12);
    uint64_t a = 0, b = 0;
    if (ip.v6) {
        uint64_t w[4];
        std::memcpy(w, addrs, 32);
        a = w[0] ^ w[2];
        b = w[1] ^ w[3];
    } else {
        std::memcpy(&a, addrs, 8);
    }
    uint64_t ports = 0;
    if (loc.has_ports) {
        ports = uint64_t(loc.src_port) << 16 | loc.dst_port;
        // RoCEv2: the destination QP, so the QPs between two hosts spread over paths
        if (loc.protocol == roce::kIpProtoUdp && loc.dst_port == roce::kRoceV2Port &&
            ip.l4 + 8 + 8 <= ip.end)
            ports |= uint64_t(roce::load_be24(f.data + ip.l4 + 8 + 5)) << 32;
    }
    const unsigned __int128 x =
        (unsigned __int128)(a ^ 0x9e3779b97f4a7c15ull) * (b ^ ports ^ 0xbf58476d1ce4e5b9ull);
    const uint64_t h = uint64_t(x) ^ uint64_t(x >> 64);
    return uint16_t(0xC000 | ((h ^ h >> 29) & 0x3fff));
}

// RFC 1624 eqn. 3: the IPv4 header checksum after one 16-bit field changed from `old_value`
// to `new_value`, without reading the header again (routers update it the same way; a
// header that arrived with a wrong checksum keeps a wrong one).
uint16_t checksum_update(uint16_t checksum, uint16_t old_value, uint16_t new_value) {
    uint32_t sum = uint16_t(~checksum) + uint32_t(uint16_t(~old_value)) + new_value;
    sum = (sum & 0xffff) + (sum >> 16);
    sum = (sum & 0xffff) + (sum >> 16);
    return uint16_t(~sum);
}

}  // namespace

uint8_t clear_udp_bth_offset(psp::Mode mode, bool ipv6, bool cookie) {
    // inner UDP (8) + BTH (12) = 20 bytes = 5 units; tunnel mode adds the inner IP header;
    // a cookie sits inside the offset
    const unsigned bytes = 20 + (mode == psp::Mode::tunnel ? (ipv6 ? 40 : 20) : 0) +
                           (cookie ? unsigned(psp::kCookieBytes) : 0);
    return uint8_t(bytes / psp::kCryptOffsetUnit);
}

std::string_view to_string(SealStatus s) {
    switch (s) {
        case SealStatus::sealed:
            return "sealed";
        case SealStatus::not_ip:
            return "not_ip";
        case SealStatus::ip_malformed:
            return "ip_malformed";
        case SealStatus::ipv6_extension_header:
            return "ipv6_extension_header";
        case SealStatus::ipv4_fragment:
            return "ipv4_fragment";
        case SealStatus::ip_in_ip:
            return "ip_in_ip";
        case SealStatus::crypt_offset_too_large:
            return "crypt_offset_too_large";
        case SealStatus::no_room:
            return "no_room";
        case SealStatus::iv_exhausted:
            return "iv_exhausted";
    }
    return "?";
}

std::string_view to_string(OpenStatus s) {
    switch (s) {
        case OpenStatus::opened:
            return "opened";
        case OpenStatus::not_psp:
            return "not_psp";
        case OpenStatus::malformed:
            return "malformed";
        case OpenStatus::unknown_spi:
            return "unknown_spi";
        case OpenStatus::wrong_version:
            return "wrong_version";
        case OpenStatus::auth_failed:
            return "auth_failed";
        case OpenStatus::replayed:
            return "replayed";
        case OpenStatus::too_old:
            return "too_old";
        case OpenStatus::bad_inner:
            return "bad_inner";
    }
    return "?";
}

TxSa::TxSa(const MasterKeys& keys, uint32_t spi, const SealOptions& options, uint64_t first_iv,
           uint64_t iv_stride)
    : spi_(spi),
      options_(options),
      gcm_(derive_key(keys, spi, options.version).bytes()),
      next_iv_(first_iv),
      iv_stride_(iv_stride) {
    if (iv_stride == 0) throw CryptError("the IV stride must not be 0");
    if ((spi & ~psp::kSpiKeySelector) == 0) throw CryptError("an SPI's low 31 bits must not be 0");
    if (options.crypt_offset > psp::kMaxCryptOffset)
        throw CryptError("the crypt offset is at most 63 (252 bytes)");
    if (options.version != psp::Version::aes_gcm_128 &&
        options.version != psp::Version::aes_gcm_256)
        throw CryptError("Weft seals with AES-GCM (PSP versions 0 and 1)");
    if (first_iv == 0) throw CryptError("IVs start at 1");
}

SealStatus TxSa::seal(FrameBuffer& f) {
    const roce::Located loc = roce::locate({f.data, f.len});
    if (loc.ip_version == roce::IpVersion::None) return SealStatus::not_ip;
    IpSpan ip;
    if (!ip_span(f, loc, ip)) return SealStatus::ip_malformed;
    const bool tunnel = options_.mode == psp::Mode::tunnel;
    if (!tunnel && ip.v6 && ip.protocol != roce::kIpProtoUdp && ip.protocol != roce::kIpProtoTcp)
        return SealStatus::ipv6_extension_header;
    if (!tunnel && loc.fragment) return SealStatus::ipv4_fragment;
    // PSP's Next Header 4 or 41 is what says "tunnel mode" to a receiver
    if (!tunnel && (ip.protocol == kIpProtoIpv4 || ip.protocol == kIpProtoIpv6))
        return SealStatus::ip_in_ip;
    if (next_iv_ == 0) return SealStatus::iv_exhausted;

    const uint32_t cookie = options_.cookie ? uint32_t(psp::kCookieBytes) : 0;
    const uint32_t header = uint32_t(psp::kBaseHeaderBytes) + cookie;
    // the protected part: the transport segment (transport) or the whole IP packet (tunnel)
    const uint32_t keep = tunnel ? ip.l3 : ip.l4;  // bytes that stay in front
    const uint32_t payload = ip.end - keep;
    const uint32_t outer_ip = tunnel ? (ip.v6 ? 40 : 20) : 0;
    const uint32_t front = outer_ip + uint32_t(psp::kUdpBytes) + header;
    const uint32_t co = uint32_t(options_.crypt_offset) * psp::kCryptOffsetUnit;
    if (co > cookie + payload) return SealStatus::crypt_offset_too_large;
    const uint32_t new_len = ip.end + front + uint32_t(psp::kIcvBytes);
    // the room after the IP packet: Ethernet padding, then the buffer's tailroom
    const uint32_t room_after = f.len - ip.end + f.tailroom;
    if (f.headroom < front || room_after < psp::kIcvBytes ||
        (ip.end - ip.l3) + front + psp::kIcvBytes > kMaxIpLength)
        return SealStatus::no_room;

    const uint16_t sport = source_port(options_.source_port, f, loc, ip);
    // transport mode over IPv4: the header's checksum is updated, not recomputed (its
    // bytes are read here, before they move, never just after being written)
    const uint8_t* const ip4 = f.data + ip.l3;
    const uint16_t old_checksum = load_be16(ip4 + 10);
    const uint16_t ttl_protocol = load_be16(ip4 + 8);
    uint8_t* const buffer_end = f.data + f.len + f.tailroom;
    // open the gap: what stays in front moves back, the payload stays where it is
    std::memmove(f.data - front, f.data, keep);
    f.data -= front;
    f.headroom -= front;
    uint8_t* udp = f.data + keep + outer_ip;
    uint8_t* hdr = udp + psp::kUdpBytes;
    if (tunnel) {
        // the outer IP header: the inner one's fields (addresses, TOS, TTL, ID), no
        // options, carrying UDP
        uint8_t* outer = f.data + ip.l3;
        const uint8_t* inner = hdr + header;
        std::memcpy(outer, inner, outer_ip);
        if (!ip.v6) {
            outer[0] = 0x45;
            // the outer packet is whole even when the inner one is a fragment: keep DF,
            // never MF or an offset (a copied fragment offset would make the receiver's
            // stack, and our own opener, take the PSP datagram for a fragment)
            outer[6] &= 0x40;
            outer[7] = 0;
        }
    }
    store_be16(udp, sport);
    store_be16(udp + 2, psp::kUdpPort);
    store_be16(udp + 4, uint16_t(psp::kUdpBytes + header + payload + psp::kIcvBytes));
    store_be16(udp + 6, 0);  // PSP's UDP checksum is 0
    psp::Header h;
    h.next_header = tunnel ? (ip.v6 ? kIpProtoIpv6 : kIpProtoIpv4) : ip.protocol;
    h.crypt_offset = options_.crypt_offset;
    h.version = uint8_t(options_.version);
    h.has_cookie = options_.cookie;
    h.cookie = options_.cookie_value;
    h.spi = spi_;
    h.iv = next_iv_;
    // the last IV of the space ends the SA rather than wrapping to reuse the first
    next_iv_ = next_iv_ > UINT64_MAX - iv_stride_ ? 0 : next_iv_ + iv_stride_;
    psp::write_header(hdr, h);
    uint8_t* body = hdr + psp::kBaseHeaderBytes;
    uint8_t* icv = hdr + header + payload;
    gcm_.seal(hdr + 4, {hdr, psp::kBaseHeaderBytes + co}, body + co, cookie + payload - co, icv);
    if (!tunnel && !ip.v6) {
        uint8_t* h = f.data + ip.l3;
        const uint16_t new_total = uint16_t(new_len - ip.l3);
        const uint16_t new_ttl_protocol = uint16_t((ttl_protocol & 0xff00) | roce::kIpProtoUdp);
        uint16_t checksum = checksum_update(old_checksum, uint16_t(ip.end - ip.l3), new_total);
        checksum = checksum_update(checksum, ttl_protocol, new_ttl_protocol);
        store_be16(h + 2, new_total);
        h[9] = roce::kIpProtoUdp;
        store_be16(h + 10, checksum);
    } else {
        IpSpan outer_span = ip;
        outer_span.l4 = ip.l3 + (tunnel ? outer_ip : ip.l4 - ip.l3);
        fix_ip(f.data, outer_span, new_len, roce::kIpProtoUdp);
    }
    f.len = new_len;
    f.tailroom = uint32_t(buffer_end - (f.data + f.len));
    return SealStatus::sealed;
}

RxSa::RxSa(const MasterKeys& keys, uint32_t spi, psp::Version version)
    : spi_(spi), version_(version), gcm_(derive_key(keys, spi, version).bytes()) {
    if (version != psp::Version::aes_gcm_128 && version != psp::Version::aes_gcm_256)
        throw CryptError("Weft opens AES-GCM (PSP versions 0 and 1)");
}

OpenStatus open(FrameBuffer& f, RxSa* (*lookup)(uint32_t, uint8_t, void*), void* context,
                psp::Header* header_out) {
    const roce::Located loc = roce::locate({f.data, f.len});
    if (!roce::is_psp(loc)) return OpenStatus::not_psp;
    IpSpan ip;
    if (!ip_span(f, loc, ip)) return OpenStatus::malformed;
    const uint32_t udp_len = load_be16(f.data + ip.l4 + 4);
    const uint32_t psp_at = ip.l4 + uint32_t(psp::kUdpBytes);
    if (udp_len < psp::kUdpBytes + psp::kBaseHeaderBytes + psp::kIcvBytes ||
        ip.l4 + udp_len > ip.end)
        return OpenStatus::malformed;
    const uint32_t psp_end = ip.l4 + udp_len;
    psp::Header h;
    if (psp::read_header({f.data + psp_at, psp_end - psp_at}, h) != psp::HeaderProblem::none)
        return OpenStatus::malformed;
    if (header_out) *header_out = h;
    RxSa* sa = lookup(h.spi, h.version, context);
    if (!sa) return OpenStatus::unknown_spi;
    if (h.version != uint8_t(sa->version_)) return OpenStatus::wrong_version;
    const uint32_t body = psp_at + uint32_t(psp::kBaseHeaderBytes);
    const uint32_t icv = psp_end - uint32_t(psp::kIcvBytes);
    const uint32_t inner = psp_at + uint32_t(h.bytes());
    const uint32_t co = uint32_t(h.crypt_offset_bytes());
    // the cookie and the crypt offset must lie within what precedes the ICV; an offset
    // exactly at its end leaves nothing encrypted, and the ICV is checked all the same
    if (inner > icv || body + co > icv) return OpenStatus::malformed;
    switch (sa->window_.check(h.iv)) {
        case ReplayWindow::Verdict::replay:
            return OpenStatus::replayed;
        case ReplayWindow::Verdict::too_old:
            return OpenStatus::too_old;
        case ReplayWindow::Verdict::fresh:
            break;
    }
    uint8_t* p = f.data + psp_at;
    if (!sa->gcm_.open(p + 4, {p, psp::kBaseHeaderBytes + co}, f.data + body + co, icv - body - co,
                       f.data + icv))
        return OpenStatus::auth_failed;
    sa->window_.accept(h.iv);

    uint8_t* const buffer_end = f.data + f.len + f.tailroom;
    const uint32_t inner_len = icv - inner;
    if (h.next_header == kIpProtoIpv4 || h.next_header == kIpProtoIpv6) {
        // tunnel: the inner IP packet goes behind the original link header
        const bool v6 = h.next_header == kIpProtoIpv6;
        if (inner_len < (v6 ? 40u : 20u) || (f.data[inner] >> 4) != (v6 ? 6 : 4))
            return OpenStatus::bad_inner;
        const uint32_t gap = inner - ip.l3;
        std::memmove(f.data + gap, f.data, ip.l3);
        f.data += gap;
        f.headroom += gap;
        store_be16(f.data + ip.l3 - 2, v6 ? roce::kEtherTypeIpv6 : roce::kEtherTypeIpv4);
        f.len = ip.l3 + inner_len;
    } else {
        // transport: the segment goes back right behind the IP header
        const uint32_t gap = inner - ip.l4;
        std::memmove(f.data + gap, f.data, ip.l4);
        f.data += gap;
        f.headroom += gap;
        f.len = ip.l4 + inner_len;
        fix_ip(f.data, ip, f.len, h.next_header);
    }
    f.tailroom = uint32_t(buffer_end - (f.data + f.len));
    return OpenStatus::opened;
}

RxSa* DerivingReceiver::find(uint32_t spi, uint8_t version, void* self) {
    if (version > 1) return nullptr;  // GMAC versions: not Weft's
    auto* r = static_cast<DerivingReceiver*>(self);
    auto& slot = r->by_spi_[{spi, version}];
    if (!slot) slot = std::make_unique<RxSa>(r->keys_, spi, psp::Version(version));
    return slot.get();
}

}  // namespace weft::crypt

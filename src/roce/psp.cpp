#include "weft/roce/psp.hpp"

namespace weft::roce::psp {

namespace {
constexpr uint8_t kFlagSample = 0x80, kFlagDrop = 0x40, kFlagCookie = 0x02, kFlagAlwaysOne = 0x01;
constexpr unsigned kVersionShift = 2;
constexpr uint8_t kExtLengthNoCookie = 1, kExtLengthCookie = 2;
}  // namespace

std::string_view to_string(Version v) {
    switch (v) {
        case Version::aes_gcm_128:
            return "aes-gcm-128";
        case Version::aes_gcm_256:
            return "aes-gcm-256";
        case Version::aes_gmac_128:
            return "aes-gmac-128";
        case Version::aes_gmac_256:
            return "aes-gmac-256";
    }
    return "?";
}

std::string_view to_string(HeaderProblem p) {
    switch (p) {
        case HeaderProblem::none:
            return "none";
        case HeaderProblem::truncated:
            return "truncated";
        case HeaderProblem::fixed_bit_clear:
            return "fixed_bit_clear";
        case HeaderProblem::bad_ext_length:
            return "bad_ext_length";
        case HeaderProblem::zero_spi:
            return "zero_spi";
    }
    return "?";
}

void write_header(uint8_t* out, const Header& h) {
    out[0] = h.next_header;
    out[1] = h.has_cookie ? kExtLengthCookie : kExtLengthNoCookie;
    out[2] = uint8_t(h.crypt_offset & 0x3f);
    out[3] = uint8_t((h.sample ? kFlagSample : 0) | (h.drop ? kFlagDrop : 0) |
                     ((h.version & 0x0f) << kVersionShift) | (h.has_cookie ? kFlagCookie : 0) |
                     kFlagAlwaysOne);
    store_be32(out + 4, h.spi);
    store_be64(out + 8, h.iv);
    if (h.has_cookie) store_be64(out + kBaseHeaderBytes, h.cookie);
}

HeaderProblem read_header(std::span<const uint8_t> bytes, Header& out) {
    if (bytes.size() < kBaseHeaderBytes) return HeaderProblem::truncated;
    const uint8_t* p = bytes.data();
    if ((p[3] & kFlagAlwaysOne) == 0) return HeaderProblem::fixed_bit_clear;
    out.next_header = p[0];
    out.crypt_offset = p[2] & 0x3f;
    out.sample = (p[3] & kFlagSample) != 0;
    out.drop = (p[3] & kFlagDrop) != 0;
    out.version = uint8_t((p[3] >> kVersionShift) & 0x0f);
    out.has_cookie = (p[3] & kFlagCookie) != 0;
    if (p[1] != (out.has_cookie ? kExtLengthCookie : kExtLengthNoCookie))
        return HeaderProblem::bad_ext_length;
    out.spi = load_be32(p + 4);
    if ((out.spi & ~kSpiKeySelector) == 0) return HeaderProblem::zero_spi;
    out.iv = load_be64(p + 8);
    out.cookie = 0;
    if (out.has_cookie) {
        if (bytes.size() < kBaseHeaderBytes + kCookieBytes) return HeaderProblem::truncated;
        out.cookie = load_be64(p + kBaseHeaderBytes);
    }
    return HeaderProblem::none;
}

}  // namespace weft::roce::psp

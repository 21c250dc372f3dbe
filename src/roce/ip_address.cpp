#include "weft/roce/ip_address.hpp"

#include <arpa/inet.h>

#include <cstring>

#include "weft/roce/bytes.hpp"

namespace weft::roce {

namespace {
constexpr std::array<uint8_t, 12> kV4MappedPrefix = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
}

IpAddress IpAddress::from_v4(uint32_t host_order) {
    uint8_t b[4];
    store_be32(b, host_order);
    return from_v4(b);
}

std::optional<IpAddress> IpAddress::parse(std::string_view text) {
    std::string s(text);
    uint8_t buf[16];
    if (inet_pton(AF_INET, s.c_str(), buf) == 1) return from_v4(buf);
    if (inet_pton(AF_INET6, s.c_str(), buf) == 1) return from_v6(buf);
    return std::nullopt;
}

bool IpAddress::is_v4() const {
    return std::memcmp(bytes.data(), kV4MappedPrefix.data(), 12) == 0;
}

uint32_t IpAddress::v4() const {
    return load_be32(bytes.data() + 12);
}

std::string IpAddress::to_string() const {
    char out[INET6_ADDRSTRLEN];
    if (is_v4()) {
        inet_ntop(AF_INET, bytes.data() + 12, out, sizeof out);
    } else {
        inet_ntop(AF_INET6, bytes.data(), out, sizeof out);
    }
    return out;
}

std::optional<IpPrefix> IpPrefix::parse(std::string_view text) {
    const size_t slash = text.find('/');
    auto addr = IpAddress::parse(text.substr(0, slash));
    if (!addr) return std::nullopt;
    const unsigned family_bits = addr->is_v4() ? 32 : 128;
    unsigned len = family_bits;
    if (slash != std::string_view::npos) {
        const std::string_view digits = text.substr(slash + 1);
        if (digits.empty() || digits.size() > 3) return std::nullopt;
        len = 0;
        for (char c : digits) {
            if (c < '0' || c > '9') return std::nullopt;
            len = len * 10 + unsigned(c - '0');
        }
        if (len > family_bits) return std::nullopt;
    }
    IpPrefix p;
    p.base = *addr;
    p.bits = uint8_t(len + (addr->is_v4() ? 96 : 0));
    // host bits set: the operator meant another prefix; say so rather than guess
    IpPrefix masked = p;
    for (unsigned i = p.bits; i < 128; ++i) masked.base.bytes[i / 8] &= uint8_t(~(0x80 >> (i % 8)));
    if (!(masked.base == p.base)) return std::nullopt;
    return p;
}

std::string IpPrefix::to_string() const {
    return base.to_string() + "/" + std::to_string(base.is_v4() ? bits - 96 : bits);
}

}  // namespace weft::roce

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

}  // namespace weft::roce

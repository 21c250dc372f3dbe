// An IPv4 or IPv6 address kept as 16 bytes (IPv4 as ::ffff:a.b.c.d), so flows,
// hosts and reports handle both families with one type.
#pragma once

#include <array>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>

namespace weft::roce {

struct IpAddress {
    std::array<uint8_t, 16> bytes{};

    // 4 network-order bytes, as ::ffff:a.b.c.d. Inline: the parser makes two per packet.
    static IpAddress from_v4(const uint8_t* p) {
        static constexpr std::array<uint8_t, 12> kV4Mapped = {0, 0, 0, 0, 0,    0,
                                                              0, 0, 0, 0, 0xff, 0xff};
        IpAddress a;
        std::memcpy(a.bytes.data(), kV4Mapped.data(), 12);
        std::memcpy(a.bytes.data() + 12, p, 4);
        return a;
    }
    static IpAddress from_v4(uint32_t host_order);
    static IpAddress from_v6(const uint8_t* p) {  // 16 network-order bytes
        IpAddress a;
        std::memcpy(a.bytes.data(), p, 16);
        return a;
    }
    // "10.0.0.1" or "fd00::1"; nullopt when the text is neither.
    static std::optional<IpAddress> parse(std::string_view text);

    bool is_v4() const;
    uint32_t v4() const;  // host order; meaningful only when is_v4()
    std::string to_string() const;

    // Two 8-byte compares, inline: the per-packet host lookups compare addresses, and the
    // defaulted operator called memcmp (15% of weftd's pipeline without the ICRC).
    friend bool operator==(const IpAddress& a, const IpAddress& b) {
        uint64_t a0, a1, b0, b1;
        std::memcpy(&a0, a.bytes.data(), 8);
        std::memcpy(&a1, a.bytes.data() + 8, 8);
        std::memcpy(&b0, b.bytes.data(), 8);
        std::memcpy(&b1, b.bytes.data() + 8, 8);
        return ((a0 ^ b0) | (a1 ^ b1)) == 0;
    }
    friend auto operator<=>(const IpAddress&, const IpAddress&) = default;
};

// An address prefix, "10.0.0.0/24" or "fd00::/64" (an address alone is a /32 or /128);
// IPv4 prefixes are kept in the IPv4-mapped space, so one compare serves both families.
struct IpPrefix {
    IpAddress base{};
    uint8_t bits = 128;  // of the 16-byte form: an IPv4 /24 is 96 + 24

    // nullopt when the text is not an address, the length is out of range, or host bits
    // are set ("10.0.0.1/24": say 10.0.0.0/24).
    static std::optional<IpPrefix> parse(std::string_view text);
    bool contains(const IpAddress& a) const {
        const unsigned whole = bits / 8, rest = bits % 8;
        if (std::memcmp(a.bytes.data(), base.bytes.data(), whole) != 0) return false;
        if (rest == 0) return true;
        const uint8_t mask = uint8_t(0xff << (8 - rest));
        return (a.bytes[whole] & mask) == (base.bytes[whole] & mask);
    }
    std::string to_string() const;
};

}  // namespace weft::roce

#include "weft/roce/headers.hpp"

#include <cstring>

namespace weft::roce {

std::string_view to_string(AckKind k) {
    switch (k) {
        case AckKind::Ack:
            return "ack";
        case AckKind::RnrNak:
            return "rnr_nak";
        case AckKind::NakPsnSequenceError:
            return "psn_sequence_error";
        case AckKind::NakInvalidRequest:
            return "invalid_request";
        case AckKind::NakRemoteAccessError:
            return "remote_access_error";
        case AckKind::NakRemoteOperationalError:
            return "remote_operational_error";
        case AckKind::NakInvalidRdRequest:
            return "invalid_rd_request";
        case AckKind::Reserved:
            return "reserved";
    }
    return "reserved";
}

uint16_t ipv4_header_checksum(const uint8_t* header, size_t len) {
    uint32_t sum = 0;
    for (size_t i = 0; i + 1 < len; i += 2) sum += load_be16(header + i);
    while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
    return uint16_t(~sum);
}

void encode_ipv4_header(uint8_t* p, uint8_t tos, uint16_t total_length, uint16_t id, uint8_t ttl,
                        uint8_t protocol, const uint8_t src[4], const uint8_t dst[4]) {
    p[0] = 0x45;
    p[1] = tos;
    store_be16(p + 2, total_length);
    store_be16(p + 4, id);
    store_be16(p + 6, 0x4000);  // don't fragment, as RoCE NICs send
    p[8] = ttl;
    p[9] = protocol;
    store_be16(p + 10, 0);
    std::memcpy(p + 12, src, 4);
    std::memcpy(p + 16, dst, 4);
    store_be16(p + 10, ipv4_header_checksum(p, kIpv4MinHeaderSize));
}

void encode_ipv6_header(uint8_t* p, uint8_t traffic_class, uint32_t flow_label,
                        uint16_t payload_length, uint8_t next_header, uint8_t hop_limit,
                        const uint8_t src[16], const uint8_t dst[16]) {
    store_be32(p, 6u << 28 | uint32_t(traffic_class) << 20 | (flow_label & 0xfffff));
    store_be16(p + 4, payload_length);
    p[6] = next_header;
    p[7] = hop_limit;
    std::memcpy(p + 8, src, 16);
    std::memcpy(p + 24, dst, 16);
}

void encode_udp_header(uint8_t* p, uint16_t sport, uint16_t dport, uint16_t length,
                       uint16_t checksum) {
    store_be16(p, sport);
    store_be16(p + 2, dport);
    store_be16(p + 4, length);
    store_be16(p + 6, checksum);
}

}  // namespace weft::roce

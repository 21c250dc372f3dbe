// Field layouts of every header Weft reads or writes: one encode and one decode per
// header, side by side, so the parser and the generator share one definition.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "weft/roce/bytes.hpp"

namespace weft::roce {

inline constexpr uint16_t kRoceV2Port = 4791;
inline constexpr uint16_t kEtherTypeIpv4 = 0x0800;
inline constexpr uint16_t kEtherTypeIpv6 = 0x86dd;
inline constexpr uint16_t kEtherTypeArp = 0x0806;
inline constexpr uint16_t kEtherTypeVlan = 0x8100;  // 802.1Q
inline constexpr uint16_t kEtherTypeQinQ = 0x88a8;  // 802.1ad service tag
inline constexpr uint8_t kIpProtoUdp = 17;
inline constexpr uint8_t kIpProtoTcp = 6;

inline constexpr size_t kEthHeaderSize = 14;
inline constexpr size_t kVlanTagSize = 4;
inline constexpr size_t kIpv4MinHeaderSize = 20;
inline constexpr size_t kIpv6HeaderSize = 40;
inline constexpr size_t kUdpHeaderSize = 8;
inline constexpr size_t kBthSize = 12;
inline constexpr size_t kIcrcSize = 4;
inline constexpr unsigned kMaxVlanTags = 2;  // 802.1Q, or QinQ (802.1ad + 802.1Q)

// ECN codepoint "congestion experienced" in the low two bits of TOS / traffic class.
inline constexpr uint8_t kEcnCe = 3;

// ---- BTH ---------------------------------------------------------------------------
struct Bth {
    uint8_t opcode = 0;
    bool solicited = false;
    bool migreq = false;
    uint8_t pad_count = 0;  // 0..3 bytes of pad before the ICRC
    uint8_t tver = 0;       // transport header version, 0
    uint16_t pkey = 0xffff;
    uint8_t resv8a = 0;    // masked to ones in the ICRC (RoCEv2 uses it for FECN/BECN)
    uint32_t dest_qp = 0;  // 24 bits
    bool ack_request = false;
    uint32_t psn = 0;  // 24 bits

    static Bth decode(const uint8_t* p) {
        Bth b;
        b.decode_from(p);
        return b;
    }
    // In place: the parser's hot path. Returning a fresh Bth and copying it made the copy's
    // wide loads wait on the narrow stores that built it (store forwarding fails), which
    // was most of a fast-path parse.
    void decode_from(const uint8_t* p) {
        opcode = p[0];
        solicited = p[1] & 0x80;
        migreq = p[1] & 0x40;
        pad_count = (p[1] >> 4) & 3;
        tver = p[1] & 0x0f;
        pkey = load_be16(p + 2);
        resv8a = p[4];
        dest_qp = load_be24(p + 5);
        ack_request = p[8] & 0x80;
        psn = load_be24(p + 9);
    }
    void encode(uint8_t* p) const {
        p[0] = opcode;
        p[1] = uint8_t((solicited ? 0x80 : 0) | (migreq ? 0x40 : 0) | (pad_count & 3) << 4 |
                       (tver & 0x0f));
        store_be16(p + 2, pkey);
        p[4] = resv8a;
        store_be24(p + 5, dest_qp);
        p[8] = ack_request ? 0x80 : 0;
        store_be24(p + 9, psn);
    }
};

// ---- RETH: RDMA extended transport header --------------------------------------------
struct Reth {
    uint64_t virtual_address = 0;
    uint32_t rkey = 0;
    uint32_t dma_length = 0;
    static Reth decode(const uint8_t* p) {
        return {load_be64(p), load_be32(p + 8), load_be32(p + 12)};
    }
    void encode(uint8_t* p) const {
        store_be64(p, virtual_address);
        store_be32(p + 8, rkey);
        store_be32(p + 12, dma_length);
    }
};

// ---- AETH: ACK extended transport header ----------------------------------------------
// Syndrome bits 7..5 say what it is; bits 4..0 are a credit count (ACK), a timer (RNR)
// or a NAK code.
enum class AckKind : uint8_t {
    Ack,
    RnrNak,
    NakPsnSequenceError,
    NakInvalidRequest,
    NakRemoteAccessError,
    NakRemoteOperationalError,
    NakInvalidRdRequest,
    Reserved,
};
inline constexpr size_t kAckKindCount = 8;
std::string_view to_string(AckKind k);

struct Aeth {
    uint8_t syndrome = 0;
    uint32_t msn = 0;  // 24 bits
    static Aeth decode(const uint8_t* p) { return {p[0], load_be24(p + 1)}; }
    void encode(uint8_t* p) const {
        p[0] = syndrome;
        store_be24(p + 1, msn);
    }
    AckKind kind() const {
        switch (syndrome >> 5) {
            case 0:
                return AckKind::Ack;
            case 1:
                return AckKind::RnrNak;
            case 3:
                switch (syndrome & 0x1f) {
                    case 0:
                        return AckKind::NakPsnSequenceError;
                    case 1:
                        return AckKind::NakInvalidRequest;
                    case 2:
                        return AckKind::NakRemoteAccessError;
                    case 3:
                        return AckKind::NakRemoteOperationalError;
                    case 4:
                        return AckKind::NakInvalidRdRequest;
                    default:
                        return AckKind::Reserved;
                }
            default:
                return AckKind::Reserved;
        }
    }
    static uint8_t syndrome_for(AckKind k, uint8_t low5 = 0) {
        switch (k) {
            case AckKind::Ack:
                return uint8_t(0x00 | (low5 & 0x1f));
            case AckKind::RnrNak:
                return uint8_t(0x20 | (low5 & 0x1f));
            case AckKind::NakPsnSequenceError:
                return 0x60;
            case AckKind::NakInvalidRequest:
                return 0x61;
            case AckKind::NakRemoteAccessError:
                return 0x62;
            case AckKind::NakRemoteOperationalError:
                return 0x63;
            case AckKind::NakInvalidRdRequest:
                return 0x64;
            default:
                return 0x40;
        }
    }
};

// ---- AtomicETH / AtomicAckETH -----------------------------------------------------------
struct AtomicEth {
    uint64_t virtual_address = 0;
    uint32_t rkey = 0;
    uint64_t swap_add = 0;
    uint64_t compare = 0;
    static AtomicEth decode(const uint8_t* p) {
        return {load_be64(p), load_be32(p + 8), load_be64(p + 12), load_be64(p + 20)};
    }
    void encode(uint8_t* p) const {
        store_be64(p, virtual_address);
        store_be32(p + 8, rkey);
        store_be64(p + 12, swap_add);
        store_be64(p + 20, compare);
    }
};

// ---- DETH: datagram extended transport header -------------------------------------------
struct Deth {
    uint32_t qkey = 0;
    uint32_t src_qp = 0;  // 24 bits
    static Deth decode(const uint8_t* p) { return {load_be32(p), load_be24(p + 5)}; }
    void encode(uint8_t* p) const {
        store_be32(p, qkey);
        p[4] = 0;
        store_be24(p + 5, src_qp);
    }
};

// 24-bit fields after a reserved byte: RDETH (EE context), XRCETH (XRC SRQ).
inline uint32_t decode_reserved8_value24(const uint8_t* p) {
    return load_be24(p + 1);
}
inline void encode_reserved8_value24(uint8_t* p, uint32_t v) {
    p[0] = 0;
    store_be24(p + 1, v);
}

// ---- IP and UDP ----------------------------------------------------------------------------
// Only what the builder writes; the parser reads these fields in place.
void encode_ipv4_header(uint8_t* p, uint8_t tos, uint16_t total_length, uint16_t id, uint8_t ttl,
                        uint8_t protocol, const uint8_t src[4], const uint8_t dst[4]);
uint16_t ipv4_header_checksum(const uint8_t* header, size_t len);
void encode_ipv6_header(uint8_t* p, uint8_t traffic_class, uint32_t flow_label,
                        uint16_t payload_length, uint8_t next_header, uint8_t hop_limit,
                        const uint8_t src[16], const uint8_t dst[16]);
void encode_udp_header(uint8_t* p, uint16_t sport, uint16_t dport, uint16_t length,
                       uint16_t checksum);

}  // namespace weft::roce

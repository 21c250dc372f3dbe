// The BTH opcode table (InfiniBand Architecture Specification vol. 1, release 1.5,
// "Base Transport Header" opcodes, plus the RoCEv2 annex's CNP). It is the single
// source of truth for which extension headers follow the BTH, whether a payload
// follows, and where a packet sits in its message: the parser, the flow tracker,
// the generator and the tests all read it; nothing else encodes those facts.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

namespace weft::roce {

enum class Transport : uint8_t { RC, UC, RD, UD, CNP, XRC, Unknown };

// What the packet does, independent of transport.
enum class Operation : uint8_t {
    Send,
    Write,
    ReadRequest,
    ReadResponse,
    Acknowledge,
    AtomicAcknowledge,
    CompareSwap,
    FetchAdd,
    Resync,
    Flush,
    AtomicWrite,
    Cnp,
    Invalid,
};

// Where the packet sits in a multi-packet message.
enum class Position : uint8_t { None, First, Middle, Last, Only };

// Extension headers, in the order they follow the BTH on the wire.
enum ExtHeader : uint16_t {
    kRdeth = 1u << 0,         //  4 bytes: reliable datagram EE context
    kDeth = 1u << 1,          //  8 bytes: Q_Key, source QP
    kXrceth = 1u << 2,        //  4 bytes: XRC SRQ
    kFeth = 1u << 3,          //  4 bytes: FLUSH selectivity and placement type
    kReth = 1u << 4,          // 16 bytes: VA, R_Key, DMA length
    kAtomicEth = 1u << 5,     // 28 bytes: VA, R_Key, swap/add, compare
    kAeth = 1u << 6,          //  4 bytes: syndrome, MSN
    kAtomicAckEth = 1u << 7,  //  8 bytes: original remote data
    kImmDt = 1u << 8,         //  4 bytes: immediate data
    kIeth = 1u << 9,          //  4 bytes: R_Key to invalidate
    kCnpPad = 1u << 10,       // 16 reserved bytes of a CNP
};

inline constexpr std::array<std::pair<ExtHeader, uint8_t>, 11> kExtHeaderSizes = {{
    {kRdeth, 4},
    {kDeth, 8},
    {kXrceth, 4},
    {kFeth, 4},
    {kReth, 16},
    {kAtomicEth, 28},
    {kAeth, 4},
    {kAtomicAckEth, 8},
    {kImmDt, 4},
    {kIeth, 4},
    {kCnpPad, 16},
}};

struct OpcodeInfo {
    bool valid = false;
    Transport transport = Transport::Unknown;
    Operation operation = Operation::Invalid;
    Position position = Position::None;
    uint16_t headers = 0;      // ExtHeader bits
    uint8_t header_bytes = 0;  // bytes of extension headers after the 12-byte BTH
    bool payload = false;      // may carry payload
    bool response = false;     // travels responder -> requester (ACK, READ response)
    std::string_view name;     // e.g. "RC_RDMA_WRITE_FIRST"
};

namespace detail {

constexpr std::array<std::string_view, 32> kOperationNames = {"SEND_FIRST",
                                                              "SEND_MIDDLE",
                                                              "SEND_LAST",
                                                              "SEND_LAST_WITH_IMMEDIATE",
                                                              "SEND_ONLY",
                                                              "SEND_ONLY_WITH_IMMEDIATE",
                                                              "RDMA_WRITE_FIRST",
                                                              "RDMA_WRITE_MIDDLE",
                                                              "RDMA_WRITE_LAST",
                                                              "RDMA_WRITE_LAST_WITH_IMMEDIATE",
                                                              "RDMA_WRITE_ONLY",
                                                              "RDMA_WRITE_ONLY_WITH_IMMEDIATE",
                                                              "RDMA_READ_REQUEST",
                                                              "RDMA_READ_RESPONSE_FIRST",
                                                              "RDMA_READ_RESPONSE_MIDDLE",
                                                              "RDMA_READ_RESPONSE_LAST",
                                                              "RDMA_READ_RESPONSE_ONLY",
                                                              "ACKNOWLEDGE",
                                                              "ATOMIC_ACKNOWLEDGE",
                                                              "COMPARE_SWAP",
                                                              "FETCH_ADD",
                                                              "RESYNC",
                                                              "SEND_LAST_WITH_INVALIDATE",
                                                              "SEND_ONLY_WITH_INVALIDATE",
                                                              "",
                                                              "",
                                                              "",
                                                              "",
                                                              "FLUSH",
                                                              "ATOMIC_WRITE",
                                                              "",
                                                              ""};

// Names need static storage: every "<TRANSPORT>_<OPERATION>" string lives here.
struct NameStore {
    std::array<std::array<char, 48>, 256> text{};
};

constexpr NameStore make_names() {
    NameStore s{};
    constexpr std::array<std::string_view, 8> prefix = {"RC_",  "UC_",  "RD_", "UD_",
                                                        "CNP_", "XRC_", "",    ""};
    for (int op = 0; op < 256; ++op) {
        std::string_view p = prefix[op >> 5];
        std::string_view n = kOperationNames[op & 31];
        if (op == 0x81) {
            p = "";
            n = "CNP";
        }
        size_t i = 0;
        for (char c : p) s.text[op][i++] = c;
        for (char c : n) s.text[op][i++] = c;
    }
    return s;
}

inline constexpr NameStore kNames = make_names();

constexpr uint8_t header_size_sum(uint16_t headers) {
    uint8_t total = 0;
    for (auto [bit, size] : kExtHeaderSizes)
        if (headers & bit) total = uint8_t(total + size);
    return total;
}

constexpr std::string_view name_of(int op) {
    const auto& t = kNames.text[op];
    size_t len = 0;
    while (len < t.size() && t[len]) ++len;
    return std::string_view(t.data(), len);
}

// Per low-5-bit operation code: what it is regardless of transport.
struct OpShape {
    Operation operation;
    Position position;
    uint16_t headers;
    bool payload;
    bool response;
    bool request_with_transport_headers;  // gets RDETH+DETH (RD) / XRCETH (XRC)
};

constexpr OpShape shape_of(int low) {
    using O = Operation;
    using P = Position;
    switch (low) {
        case 0:
            return {O::Send, P::First, 0, true, false, true};
        case 1:
            return {O::Send, P::Middle, 0, true, false, true};
        case 2:
            return {O::Send, P::Last, 0, true, false, true};
        case 3:
            return {O::Send, P::Last, kImmDt, true, false, true};
        case 4:
            return {O::Send, P::Only, 0, true, false, true};
        case 5:
            return {O::Send, P::Only, kImmDt, true, false, true};
        case 6:
            return {O::Write, P::First, kReth, true, false, true};
        case 7:
            return {O::Write, P::Middle, 0, true, false, true};
        case 8:
            return {O::Write, P::Last, 0, true, false, true};
        case 9:
            return {O::Write, P::Last, kImmDt, true, false, true};
        case 10:
            return {O::Write, P::Only, kReth, true, false, true};
        case 11:
            return {O::Write, P::Only, kReth | kImmDt, true, false, true};
        case 12:
            return {O::ReadRequest, P::Only, kReth, false, false, true};
        case 13:
            return {O::ReadResponse, P::First, kAeth, true, true, false};
        case 14:
            return {O::ReadResponse, P::Middle, 0, true, true, false};
        case 15:
            return {O::ReadResponse, P::Last, kAeth, true, true, false};
        case 16:
            return {O::ReadResponse, P::Only, kAeth, true, true, false};
        case 17:
            return {O::Acknowledge, P::Only, kAeth, false, true, false};
        case 18:
            return {O::AtomicAcknowledge, P::Only, kAeth | kAtomicAckEth, false, true, false};
        case 19:
            return {O::CompareSwap, P::Only, kAtomicEth, false, false, true};
        case 20:
            return {O::FetchAdd, P::Only, kAtomicEth, false, false, true};
        case 21:
            return {O::Resync, P::Only, 0, false, false, true};
        case 22:
            return {O::Send, P::Last, kIeth, true, false, true};
        case 23:
            return {O::Send, P::Only, kIeth, true, false, true};
        case 28:
            return {O::Flush, P::Only, kFeth | kReth, false, false, true};
        case 29:
            return {O::AtomicWrite, P::Only, kReth, true, false, true};
        default:
            return {O::Invalid, P::None, 0, false, false, false};
    }
}

constexpr bool transport_has(Transport t, int low) {
    switch (t) {
        case Transport::RC:
            return low <= 20 || low == 22 || low == 23 || low == 28 || low == 29;
        case Transport::UC:
            return low <= 11;
        case Transport::RD:
            return low <= 21;
        case Transport::UD:
            return low == 4 || low == 5;
        case Transport::XRC:
            return low <= 20 || low == 22 || low == 23;
        default:
            return false;
    }
}

constexpr std::array<OpcodeInfo, 256> make_table() {
    std::array<OpcodeInfo, 256> table{};
    constexpr std::array<Transport, 8> by_prefix = {
        Transport::RC,  Transport::UC,  Transport::RD,      Transport::UD,
        Transport::CNP, Transport::XRC, Transport::Unknown, Transport::Unknown};
    for (int op = 0; op < 256; ++op) {
        OpcodeInfo& info = table[op];
        info.name = name_of(op);
        Transport t = by_prefix[op >> 5];
        int low = op & 31;
        if (t == Transport::CNP) {
            if (op == 0x81) {
                info = {true,           Transport::CNP, Operation::Cnp,
                        Position::Only, kCnpPad,        header_size_sum(kCnpPad),
                        false,          false,          name_of(op)};
            }
            continue;
        }
        if (t == Transport::Unknown || !transport_has(t, low)) continue;
        OpShape s = shape_of(low);
        uint16_t headers = s.headers;
        if (t == Transport::RD) {
            headers |= kRdeth;
            if (s.request_with_transport_headers) headers |= kDeth;
        } else if (t == Transport::UD) {
            headers |= kDeth;
        } else if (t == Transport::XRC && s.request_with_transport_headers) {
            headers |= kXrceth;
        }
        info = {true,      t,          s.operation, s.position, headers, header_size_sum(headers),
                s.payload, s.response, name_of(op)};
    }
    return table;
}

}  // namespace detail

inline constexpr std::array<OpcodeInfo, 256> kOpcodeTable = detail::make_table();

inline const OpcodeInfo& opcode_info(uint8_t opcode) {
    return kOpcodeTable[opcode];
}

// Named opcodes used by code that builds or matches specific packets.
namespace opcode {
inline constexpr uint8_t kRcSendFirst = 0x00;
inline constexpr uint8_t kRcSendMiddle = 0x01;
inline constexpr uint8_t kRcSendLast = 0x02;
inline constexpr uint8_t kRcSendLastImm = 0x03;
inline constexpr uint8_t kRcSendOnly = 0x04;
inline constexpr uint8_t kRcSendOnlyImm = 0x05;
inline constexpr uint8_t kRcWriteFirst = 0x06;
inline constexpr uint8_t kRcWriteMiddle = 0x07;
inline constexpr uint8_t kRcWriteLast = 0x08;
inline constexpr uint8_t kRcWriteLastImm = 0x09;
inline constexpr uint8_t kRcWriteOnly = 0x0a;
inline constexpr uint8_t kRcWriteOnlyImm = 0x0b;
inline constexpr uint8_t kRcReadRequest = 0x0c;
inline constexpr uint8_t kRcReadResponseFirst = 0x0d;
inline constexpr uint8_t kRcReadResponseMiddle = 0x0e;
inline constexpr uint8_t kRcReadResponseLast = 0x0f;
inline constexpr uint8_t kRcReadResponseOnly = 0x10;
inline constexpr uint8_t kRcAcknowledge = 0x11;
inline constexpr uint8_t kRcAtomicAcknowledge = 0x12;
inline constexpr uint8_t kRcCompareSwap = 0x13;
inline constexpr uint8_t kRcFetchAdd = 0x14;
inline constexpr uint8_t kUdSendOnly = 0x64;
inline constexpr uint8_t kUdSendOnlyImm = 0x65;
inline constexpr uint8_t kCnp = 0x81;
}  // namespace opcode

std::string_view to_string(Transport t);
std::string_view to_string(Operation o);

}  // namespace weft::roce

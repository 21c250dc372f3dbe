// The BTH opcode table against the InfiniBand Architecture Specification (vol. 1, release
// 1.5, BTH opcodes) and the RoCEv2 annex's CNP. The expected table below is written out
// by hand, one line per valid opcode, so it does not share a single derivation with
// weft::roce::kOpcodeTable: every one of the 256 opcodes is checked against it.
#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <optional>
#include <string_view>

#include "weft/roce/opcode.hpp"

namespace weft::roce {
namespace {

struct Expected {
    uint8_t opcode;
    Transport transport;
    Operation operation;
    Position position;
    uint16_t headers;
    bool payload;
    bool response;
    std::string_view name;
};

constexpr Transport RC = Transport::RC, UC = Transport::UC, RD = Transport::RD, UD = Transport::UD,
                    CNP = Transport::CNP, XRC = Transport::XRC;
constexpr Operation Send = Operation::Send, Write = Operation::Write,
                    ReadReq = Operation::ReadRequest, ReadResp = Operation::ReadResponse,
                    Ack = Operation::Acknowledge, AtomicAck = Operation::AtomicAcknowledge,
                    CmpSwap = Operation::CompareSwap, FetchAdd = Operation::FetchAdd,
                    Resync = Operation::Resync, Flush = Operation::Flush,
                    AtomicWrite = Operation::AtomicWrite, Cnp = Operation::Cnp;
constexpr Position First = Position::First, Middle = Position::Middle, Last = Position::Last,
                   Only = Position::Only;
constexpr bool PAY = true, NOPAY = false;  // carries a payload
constexpr bool REQ = false, RSP = true;    // travels requester -> responder, or back

// clang-format off
constexpr Expected kSpec[] = {
    // ---- RC: 0x00-0x14, 0x16, 0x17, 0x1c, 0x1d
    {0x00, RC, Send, First, 0, PAY, REQ, "RC_SEND_FIRST"},
    {0x01, RC, Send, Middle, 0, PAY, REQ, "RC_SEND_MIDDLE"},
    {0x02, RC, Send, Last, 0, PAY, REQ, "RC_SEND_LAST"},
    {0x03, RC, Send, Last, kImmDt, PAY, REQ, "RC_SEND_LAST_WITH_IMMEDIATE"},
    {0x04, RC, Send, Only, 0, PAY, REQ, "RC_SEND_ONLY"},
    {0x05, RC, Send, Only, kImmDt, PAY, REQ, "RC_SEND_ONLY_WITH_IMMEDIATE"},
    {0x06, RC, Write, First, kReth, PAY, REQ, "RC_RDMA_WRITE_FIRST"},
    {0x07, RC, Write, Middle, 0, PAY, REQ, "RC_RDMA_WRITE_MIDDLE"},
    {0x08, RC, Write, Last, 0, PAY, REQ, "RC_RDMA_WRITE_LAST"},
    {0x09, RC, Write, Last, kImmDt, PAY, REQ, "RC_RDMA_WRITE_LAST_WITH_IMMEDIATE"},
    {0x0a, RC, Write, Only, kReth, PAY, REQ, "RC_RDMA_WRITE_ONLY"},
    {0x0b, RC, Write, Only, kReth | kImmDt, PAY, REQ, "RC_RDMA_WRITE_ONLY_WITH_IMMEDIATE"},
    {0x0c, RC, ReadReq, Only, kReth, NOPAY, REQ, "RC_RDMA_READ_REQUEST"},
    {0x0d, RC, ReadResp, First, kAeth, PAY, RSP, "RC_RDMA_READ_RESPONSE_FIRST"},
    {0x0e, RC, ReadResp, Middle, 0, PAY, RSP, "RC_RDMA_READ_RESPONSE_MIDDLE"},
    {0x0f, RC, ReadResp, Last, kAeth, PAY, RSP, "RC_RDMA_READ_RESPONSE_LAST"},
    {0x10, RC, ReadResp, Only, kAeth, PAY, RSP, "RC_RDMA_READ_RESPONSE_ONLY"},
    {0x11, RC, Ack, Only, kAeth, NOPAY, RSP, "RC_ACKNOWLEDGE"},
    {0x12, RC, AtomicAck, Only, kAeth | kAtomicAckEth, NOPAY, RSP, "RC_ATOMIC_ACKNOWLEDGE"},
    {0x13, RC, CmpSwap, Only, kAtomicEth, NOPAY, REQ, "RC_COMPARE_SWAP"},
    {0x14, RC, FetchAdd, Only, kAtomicEth, NOPAY, REQ, "RC_FETCH_ADD"},
    {0x16, RC, Send, Last, kIeth, PAY, REQ, "RC_SEND_LAST_WITH_INVALIDATE"},
    {0x17, RC, Send, Only, kIeth, PAY, REQ, "RC_SEND_ONLY_WITH_INVALIDATE"},
    {0x1c, RC, Flush, Only, kFeth | kReth, NOPAY, REQ, "RC_FLUSH"},
    {0x1d, RC, AtomicWrite, Only, kReth, PAY, REQ, "RC_ATOMIC_WRITE"},

    // ---- UC: 0x20-0x2b (SEND and RDMA WRITE only)
    {0x20, UC, Send, First, 0, PAY, REQ, "UC_SEND_FIRST"},
    {0x21, UC, Send, Middle, 0, PAY, REQ, "UC_SEND_MIDDLE"},
    {0x22, UC, Send, Last, 0, PAY, REQ, "UC_SEND_LAST"},
    {0x23, UC, Send, Last, kImmDt, PAY, REQ, "UC_SEND_LAST_WITH_IMMEDIATE"},
    {0x24, UC, Send, Only, 0, PAY, REQ, "UC_SEND_ONLY"},
    {0x25, UC, Send, Only, kImmDt, PAY, REQ, "UC_SEND_ONLY_WITH_IMMEDIATE"},
    {0x26, UC, Write, First, kReth, PAY, REQ, "UC_RDMA_WRITE_FIRST"},
    {0x27, UC, Write, Middle, 0, PAY, REQ, "UC_RDMA_WRITE_MIDDLE"},
    {0x28, UC, Write, Last, 0, PAY, REQ, "UC_RDMA_WRITE_LAST"},
    {0x29, UC, Write, Last, kImmDt, PAY, REQ, "UC_RDMA_WRITE_LAST_WITH_IMMEDIATE"},
    {0x2a, UC, Write, Only, kReth, PAY, REQ, "UC_RDMA_WRITE_ONLY"},
    {0x2b, UC, Write, Only, kReth | kImmDt, PAY, REQ, "UC_RDMA_WRITE_ONLY_WITH_IMMEDIATE"},

    // ---- RD: 0x40-0x55; RDETH on all, DETH on requests only (not on 0x4d-0x52)
    {0x40, RD, Send, First, kRdeth | kDeth, PAY, REQ, "RD_SEND_FIRST"},
    {0x41, RD, Send, Middle, kRdeth | kDeth, PAY, REQ, "RD_SEND_MIDDLE"},
    {0x42, RD, Send, Last, kRdeth | kDeth, PAY, REQ, "RD_SEND_LAST"},
    {0x43, RD, Send, Last, kRdeth | kDeth | kImmDt, PAY, REQ, "RD_SEND_LAST_WITH_IMMEDIATE"},
    {0x44, RD, Send, Only, kRdeth | kDeth, PAY, REQ, "RD_SEND_ONLY"},
    {0x45, RD, Send, Only, kRdeth | kDeth | kImmDt, PAY, REQ, "RD_SEND_ONLY_WITH_IMMEDIATE"},
    {0x46, RD, Write, First, kRdeth | kDeth | kReth, PAY, REQ, "RD_RDMA_WRITE_FIRST"},
    {0x47, RD, Write, Middle, kRdeth | kDeth, PAY, REQ, "RD_RDMA_WRITE_MIDDLE"},
    {0x48, RD, Write, Last, kRdeth | kDeth, PAY, REQ, "RD_RDMA_WRITE_LAST"},
    {0x49, RD, Write, Last, kRdeth | kDeth | kImmDt, PAY, REQ,
     "RD_RDMA_WRITE_LAST_WITH_IMMEDIATE"},
    {0x4a, RD, Write, Only, kRdeth | kDeth | kReth, PAY, REQ, "RD_RDMA_WRITE_ONLY"},
    {0x4b, RD, Write, Only, kRdeth | kDeth | kReth | kImmDt, PAY, REQ,
     "RD_RDMA_WRITE_ONLY_WITH_IMMEDIATE"},
    {0x4c, RD, ReadReq, Only, kRdeth | kDeth | kReth, NOPAY, REQ, "RD_RDMA_READ_REQUEST"},
    {0x4d, RD, ReadResp, First, kRdeth | kAeth, PAY, RSP, "RD_RDMA_READ_RESPONSE_FIRST"},
    {0x4e, RD, ReadResp, Middle, kRdeth, PAY, RSP, "RD_RDMA_READ_RESPONSE_MIDDLE"},
    {0x4f, RD, ReadResp, Last, kRdeth | kAeth, PAY, RSP, "RD_RDMA_READ_RESPONSE_LAST"},
    {0x50, RD, ReadResp, Only, kRdeth | kAeth, PAY, RSP, "RD_RDMA_READ_RESPONSE_ONLY"},
    {0x51, RD, Ack, Only, kRdeth | kAeth, NOPAY, RSP, "RD_ACKNOWLEDGE"},
    {0x52, RD, AtomicAck, Only, kRdeth | kAeth | kAtomicAckEth, NOPAY, RSP,
     "RD_ATOMIC_ACKNOWLEDGE"},
    {0x53, RD, CmpSwap, Only, kRdeth | kDeth | kAtomicEth, NOPAY, REQ, "RD_COMPARE_SWAP"},
    {0x54, RD, FetchAdd, Only, kRdeth | kDeth | kAtomicEth, NOPAY, REQ, "RD_FETCH_ADD"},
    {0x55, RD, Resync, Only, kRdeth | kDeth, NOPAY, REQ, "RD_RESYNC"},

    // ---- UD: 0x64, 0x65
    {0x64, UD, Send, Only, kDeth, PAY, REQ, "UD_SEND_ONLY"},
    {0x65, UD, Send, Only, kDeth | kImmDt, PAY, REQ, "UD_SEND_ONLY_WITH_IMMEDIATE"},

    // ---- RoCEv2 congestion notification packet: 16 reserved bytes after the BTH
    {0x81, CNP, Cnp, Only, kCnpPad, NOPAY, REQ, "CNP"},

    // ---- XRC: 0xa0-0xb4, 0xb6, 0xb7; XRCETH on requests, not on responses 0xad-0xb2
    {0xa0, XRC, Send, First, kXrceth, PAY, REQ, "XRC_SEND_FIRST"},
    {0xa1, XRC, Send, Middle, kXrceth, PAY, REQ, "XRC_SEND_MIDDLE"},
    {0xa2, XRC, Send, Last, kXrceth, PAY, REQ, "XRC_SEND_LAST"},
    {0xa3, XRC, Send, Last, kXrceth | kImmDt, PAY, REQ, "XRC_SEND_LAST_WITH_IMMEDIATE"},
    {0xa4, XRC, Send, Only, kXrceth, PAY, REQ, "XRC_SEND_ONLY"},
    {0xa5, XRC, Send, Only, kXrceth | kImmDt, PAY, REQ, "XRC_SEND_ONLY_WITH_IMMEDIATE"},
    {0xa6, XRC, Write, First, kXrceth | kReth, PAY, REQ, "XRC_RDMA_WRITE_FIRST"},
    {0xa7, XRC, Write, Middle, kXrceth, PAY, REQ, "XRC_RDMA_WRITE_MIDDLE"},
    {0xa8, XRC, Write, Last, kXrceth, PAY, REQ, "XRC_RDMA_WRITE_LAST"},
    {0xa9, XRC, Write, Last, kXrceth | kImmDt, PAY, REQ, "XRC_RDMA_WRITE_LAST_WITH_IMMEDIATE"},
    {0xaa, XRC, Write, Only, kXrceth | kReth, PAY, REQ, "XRC_RDMA_WRITE_ONLY"},
    {0xab, XRC, Write, Only, kXrceth | kReth | kImmDt, PAY, REQ,
     "XRC_RDMA_WRITE_ONLY_WITH_IMMEDIATE"},
    {0xac, XRC, ReadReq, Only, kXrceth | kReth, NOPAY, REQ, "XRC_RDMA_READ_REQUEST"},
    {0xad, XRC, ReadResp, First, kAeth, PAY, RSP, "XRC_RDMA_READ_RESPONSE_FIRST"},
    {0xae, XRC, ReadResp, Middle, 0, PAY, RSP, "XRC_RDMA_READ_RESPONSE_MIDDLE"},
    {0xaf, XRC, ReadResp, Last, kAeth, PAY, RSP, "XRC_RDMA_READ_RESPONSE_LAST"},
    {0xb0, XRC, ReadResp, Only, kAeth, PAY, RSP, "XRC_RDMA_READ_RESPONSE_ONLY"},
    {0xb1, XRC, Ack, Only, kAeth, NOPAY, RSP, "XRC_ACKNOWLEDGE"},
    {0xb2, XRC, AtomicAck, Only, kAeth | kAtomicAckEth, NOPAY, RSP, "XRC_ATOMIC_ACKNOWLEDGE"},
    {0xb3, XRC, CmpSwap, Only, kXrceth | kAtomicEth, NOPAY, REQ, "XRC_COMPARE_SWAP"},
    {0xb4, XRC, FetchAdd, Only, kXrceth | kAtomicEth, NOPAY, REQ, "XRC_FETCH_ADD"},
    {0xb6, XRC, Send, Last, kXrceth | kIeth, PAY, REQ, "XRC_SEND_LAST_WITH_INVALIDATE"},
    {0xb7, XRC, Send, Only, kXrceth | kIeth, PAY, REQ, "XRC_SEND_ONLY_WITH_INVALIDATE"},
};
// clang-format on

// Sizes of the extension headers in bytes, from the IBA header layouts.
unsigned expected_header_bytes(uint16_t headers) {
    constexpr std::pair<uint16_t, unsigned> kSizes[] = {
        {kRdeth, 4}, {kDeth, 8},         {kXrceth, 4}, {kFeth, 4}, {kReth, 16},  {kAtomicEth, 28},
        {kAeth, 4},  {kAtomicAckEth, 8}, {kImmDt, 4},  {kIeth, 4}, {kCnpPad, 16}};
    unsigned total = 0;
    for (auto [bit, size] : kSizes)
        if (headers & bit) total += size;
    return total;
}

std::optional<Expected> expected_for(int op) {
    for (const Expected& e : kSpec)
        if (e.opcode == op) return e;
    return std::nullopt;
}

TEST(OpcodeTable, ExpectedTableIsSortedAndHasEightyFiveOpcodes) {
    // 25 RC + 12 UC + 22 RD + 2 UD + 1 CNP + 23 XRC.
    EXPECT_EQ(std::size(kSpec), 85u);
    for (size_t i = 1; i < std::size(kSpec); ++i) EXPECT_LT(kSpec[i - 1].opcode, kSpec[i].opcode);
}

TEST(OpcodeTable, EveryOneOf256OpcodesMatchesTheSpecification) {
    unsigned valid = 0;
    for (int op = 0; op < 256; ++op) {
        SCOPED_TRACE(testing::Message() << "opcode 0x" << std::hex << op);
        const OpcodeInfo& info = opcode_info(uint8_t(op));
        EXPECT_EQ(&info, &kOpcodeTable[op]);
        const std::optional<Expected> e = expected_for(op);
        if (!e) {
            EXPECT_FALSE(info.valid);
            EXPECT_EQ(info.transport, Transport::Unknown);
            EXPECT_EQ(info.operation, Operation::Invalid);
            EXPECT_EQ(info.position, Position::None);
            EXPECT_EQ(info.headers, 0);
            EXPECT_EQ(info.header_bytes, 0);
            EXPECT_FALSE(info.payload);
            EXPECT_FALSE(info.response);
            continue;
        }
        ++valid;
        EXPECT_TRUE(info.valid);
        EXPECT_EQ(info.transport, e->transport) << to_string(info.transport);
        EXPECT_EQ(info.operation, e->operation) << to_string(info.operation);
        EXPECT_EQ(info.position, e->position);
        EXPECT_EQ(info.headers, e->headers) << "header bits 0x" << std::hex << info.headers;
        EXPECT_EQ(info.header_bytes, expected_header_bytes(e->headers));
        EXPECT_EQ(info.payload, e->payload);
        EXPECT_EQ(info.response, e->response);
        EXPECT_EQ(info.name, e->name);
    }
    EXPECT_EQ(valid, 85u);
}

TEST(OpcodeTable, HeaderBytesOfRepresentativeOpcodesAsLiterals) {
    // Spelled out so a wrong size in both the table and the helper above still shows.
    EXPECT_EQ(opcode_info(0x04).header_bytes, 0);   // RC SEND ONLY
    EXPECT_EQ(opcode_info(0x06).header_bytes, 16);  // RETH
    EXPECT_EQ(opcode_info(0x0b).header_bytes, 20);  // RETH + ImmDt
    EXPECT_EQ(opcode_info(0x11).header_bytes, 4);   // AETH
    EXPECT_EQ(opcode_info(0x12).header_bytes, 12);  // AETH + AtomicAckETH
    EXPECT_EQ(opcode_info(0x13).header_bytes, 28);  // AtomicETH
    EXPECT_EQ(opcode_info(0x16).header_bytes, 4);   // IETH
    EXPECT_EQ(opcode_info(0x1c).header_bytes, 20);  // FETH + RETH
    EXPECT_EQ(opcode_info(0x1d).header_bytes, 16);  // RETH
    EXPECT_EQ(opcode_info(0x44).header_bytes, 12);  // RDETH + DETH
    EXPECT_EQ(opcode_info(0x4b).header_bytes, 32);  // RDETH + DETH + RETH + ImmDt
    EXPECT_EQ(opcode_info(0x4e).header_bytes, 4);   // RDETH
    EXPECT_EQ(opcode_info(0x52).header_bytes, 16);  // RDETH + AETH + AtomicAckETH
    EXPECT_EQ(opcode_info(0x53).header_bytes, 40);  // RDETH + DETH + AtomicETH
    EXPECT_EQ(opcode_info(0x65).header_bytes, 12);  // DETH + ImmDt
    EXPECT_EQ(opcode_info(0x81).header_bytes, 16);  // CNP reserved bytes
    EXPECT_EQ(opcode_info(0xab).header_bytes, 24);  // XRCETH + RETH + ImmDt
    EXPECT_EQ(opcode_info(0xb3).header_bytes, 32);  // XRCETH + AtomicETH
    EXPECT_EQ(opcode_info(0xb7).header_bytes, 8);   // XRCETH + IETH
}

TEST(OpcodeTable, ExtensionHeaderSizeListMatchesIbaLayouts) {
    unsigned seen = 0;
    for (auto [bit, size] : kExtHeaderSizes) {
        SCOPED_TRACE(testing::Message() << "header bit 0x" << std::hex << bit);
        EXPECT_EQ(size, expected_header_bytes(bit));
        EXPECT_EQ(seen & bit, 0u) << "listed twice";
        seen |= bit;
    }
    EXPECT_EQ(seen, 0x7ffu);
}

TEST(OpcodeTable, NamedOpcodeConstantsAgreeWithTheTable) {
    EXPECT_EQ(opcode_info(opcode::kRcSendFirst).name, "RC_SEND_FIRST");
    EXPECT_EQ(opcode_info(opcode::kRcSendOnlyImm).name, "RC_SEND_ONLY_WITH_IMMEDIATE");
    EXPECT_EQ(opcode_info(opcode::kRcWriteFirst).name, "RC_RDMA_WRITE_FIRST");
    EXPECT_EQ(opcode_info(opcode::kRcWriteOnlyImm).name, "RC_RDMA_WRITE_ONLY_WITH_IMMEDIATE");
    EXPECT_EQ(opcode_info(opcode::kRcReadRequest).name, "RC_RDMA_READ_REQUEST");
    EXPECT_EQ(opcode_info(opcode::kRcReadResponseOnly).name, "RC_RDMA_READ_RESPONSE_ONLY");
    EXPECT_EQ(opcode_info(opcode::kRcAcknowledge).name, "RC_ACKNOWLEDGE");
    EXPECT_EQ(opcode_info(opcode::kRcAtomicAcknowledge).name, "RC_ATOMIC_ACKNOWLEDGE");
    EXPECT_EQ(opcode_info(opcode::kRcCompareSwap).name, "RC_COMPARE_SWAP");
    EXPECT_EQ(opcode_info(opcode::kRcFetchAdd).name, "RC_FETCH_ADD");
    EXPECT_EQ(opcode_info(opcode::kUdSendOnly).name, "UD_SEND_ONLY");
    EXPECT_EQ(opcode_info(opcode::kUdSendOnlyImm).name, "UD_SEND_ONLY_WITH_IMMEDIATE");
    EXPECT_EQ(opcode_info(opcode::kCnp).name, "CNP");
}

TEST(OpcodeTable, TransportAndOperationNames) {
    EXPECT_EQ(to_string(Transport::RC), "RC");
    EXPECT_EQ(to_string(Transport::UC), "UC");
    EXPECT_EQ(to_string(Transport::RD), "RD");
    EXPECT_EQ(to_string(Transport::UD), "UD");
    EXPECT_EQ(to_string(Transport::CNP), "CNP");
    EXPECT_EQ(to_string(Transport::XRC), "XRC");
    EXPECT_EQ(to_string(Transport::Unknown), "unknown");
    const std::pair<Operation, std::string_view> ops[] = {
        {Operation::Send, "send"},
        {Operation::Write, "write"},
        {Operation::ReadRequest, "read_request"},
        {Operation::ReadResponse, "read_response"},
        {Operation::Acknowledge, "acknowledge"},
        {Operation::AtomicAcknowledge, "atomic_acknowledge"},
        {Operation::CompareSwap, "compare_swap"},
        {Operation::FetchAdd, "fetch_add"},
        {Operation::Resync, "resync"},
        {Operation::Flush, "flush"},
        {Operation::AtomicWrite, "atomic_write"},
        {Operation::Cnp, "cnp"},
        {Operation::Invalid, "invalid"},
    };
    for (auto [op, name] : ops) EXPECT_EQ(to_string(op), name);
}

}  // namespace
}  // namespace weft::roce

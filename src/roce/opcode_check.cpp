// Compile-time checks of the opcode table against the IBA specification's numbering:
// if any of these breaks, the table (the one source of truth) is wrong.
#include "weft/roce/opcode.hpp"

namespace weft::roce {
namespace {
constexpr const OpcodeInfo& at(int op) {
    return kOpcodeTable[op];
}
static_assert(at(0x00).valid && at(0x00).operation == Operation::Send &&
              at(0x00).position == Position::First && at(0x00).header_bytes == 0);
static_assert(at(0x06).headers == kReth && at(0x06).header_bytes == 16);
static_assert(at(0x0b).headers == (kReth | kImmDt) && at(0x0b).header_bytes == 20);
static_assert(at(0x0c).operation == Operation::ReadRequest && !at(0x0c).payload);
static_assert(at(0x0e).headers == 0 && at(0x0e).response);
static_assert(at(0x11).operation == Operation::Acknowledge && at(0x11).header_bytes == 4);
static_assert(at(0x12).header_bytes == 12);
static_assert(at(0x13).header_bytes == 28);
static_assert(!at(0x15).valid && !at(0x18).valid);
static_assert(at(0x17).headers == kIeth);
static_assert(at(0x26).transport == Transport::UC && at(0x26).headers == kReth);
static_assert(!at(0x2c).valid);  // UC has no READ
static_assert(at(0x44).headers == (kRdeth | kDeth) && at(0x44).header_bytes == 12);
static_assert(at(0x51).headers == (kRdeth | kAeth));
static_assert(at(0x64).headers == kDeth && at(0x64).transport == Transport::UD);
static_assert(at(0x65).headers == (kDeth | kImmDt));
static_assert(!at(0x60).valid);
static_assert(at(0x81).operation == Operation::Cnp && at(0x81).header_bytes == 16);
static_assert(!at(0x80).valid && !at(0xff).valid && !at(0xc0).valid);
static_assert(at(0xa6).headers == (kXrceth | kReth));
static_assert(at(0xad).headers == kAeth);
}  // namespace
}  // namespace weft::roce

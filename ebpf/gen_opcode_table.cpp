// Build-time generator: writes the BPF programs' opcode tables from Weft's one opcode
// table (include/weft/roce/opcode.hpp), so the kernel side never re-encodes wire facts.
// usage: gen-opcode-table OUT.h
#include <cstdio>
#include <string>

#include "weft/probe/abi.h"
#include "weft/roce/headers.hpp"
#include "weft/roce/opcode.hpp"

namespace {

using namespace weft::roce;

unsigned op_class(const OpcodeInfo& i) {
    if (!i.valid) return WP_OP_INVALID;
    switch (i.operation) {
        case Operation::Send:
            return WP_OP_SEND;
        case Operation::Write:
            return WP_OP_WRITE;
        case Operation::ReadRequest:
            return WP_OP_READ_REQUEST;
        case Operation::ReadResponse:
            return WP_OP_READ_RESPONSE;
        case Operation::Acknowledge:
            return WP_OP_ACK;
        case Operation::CompareSwap:
        case Operation::FetchAdd:
        case Operation::AtomicWrite:
            return WP_OP_ATOMIC;
        case Operation::AtomicAcknowledge:
            return WP_OP_ATOMIC_ACK;
        case Operation::Cnp:
            return WP_OP_CNP;
        default:
            return WP_OP_OTHER;
    }
}

// Offset after the BTH of extension header `h`, or 0xff when the opcode lacks it.
unsigned offset_of(const OpcodeInfo& i, ExtHeader h) {
    if (!i.valid || !(i.headers & h)) return 0xff;
    unsigned off = 0;
    for (auto [header, size] : kExtHeaderSizes) {
        if (header == h) return off;
        if (i.headers & header) off += size;
    }
    return 0xff;
}

void table(FILE* f, const char* type, const char* name, const char* what,
           unsigned (*value)(unsigned)) {
    std::fprintf(f, "/* %s */\nstatic const %s %s[256] = {", what, type, name);
    for (unsigned i = 0; i < 256; ++i)
        std::fprintf(f, "%s%u%s", i % 16 == 0 ? "\n    " : "", value(i), i == 255 ? "" : ", ");
    std::fprintf(f, "\n};\n\n");
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: gen-opcode-table OUT.h\n");
        return 2;
    }
    FILE* f = std::fopen(argv[1], "w");
    if (!f) {
        std::perror(argv[1]);
        return 1;
    }
    std::fprintf(f,
                 "/* Generated at build time by ebpf/gen_opcode_table.cpp from\n"
                 " * include/weft/roce/opcode.hpp: do not edit. Indexed by BTH opcode (or AETH\n"
                 " * syndrome for weft_ack_kind). */\n#pragma once\n\n");
    table(f, "__u8", "weft_op_class", "enum weft_probe_op_class; WP_OP_INVALID: undefined opcode",
          [](unsigned o) { return op_class(opcode_info(uint8_t(o))); });
    table(f, "__u8", "weft_op_ext_bytes", "bytes of extension headers after the 12-byte BTH",
          [](unsigned o) { return unsigned(opcode_info(uint8_t(o)).header_bytes); });
    table(f, "__u8", "weft_op_payload", "1: the opcode may carry a payload",
          [](unsigned o) { return unsigned(opcode_info(uint8_t(o)).payload); });
    table(f, "__u8", "weft_op_aeth_offset", "AETH offset after the BTH; 0xff: none",
          [](unsigned o) { return offset_of(opcode_info(uint8_t(o)), kAeth); });
    table(f, "__u8", "weft_op_reth_offset", "RETH offset after the BTH; 0xff: none",
          [](unsigned o) { return offset_of(opcode_info(uint8_t(o)), kReth); });
    table(f, "__u8", "weft_ack_kind", "AETH syndrome -> AckKind index (0 ACK, 1 RNR NAK, 2.. NAKs)",
          [](unsigned s) {
              return unsigned(Aeth{uint8_t(s), 0}.kind());
          });
    return std::fclose(f) == 0 ? 0 : 1;
}

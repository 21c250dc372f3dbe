// The human flow table's layout, chosen by the reader (weftctl, from its terminal) and
// sent to weftd with a flows request, so the server renders for the client's screen.
#pragma once

namespace weft::flow {

// How the human table is laid out: columns are taken in order of importance while they
// fit `width` (SRC, DST and DQPN always); `wide` shows every column and the opcode mix.
struct TableStyle {
    static constexpr unsigned kMinWidth = 40, kMaxWidth = 10000;
    unsigned width = 80;
    bool wide = false;
};

}  // namespace weft::flow

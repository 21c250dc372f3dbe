// The input format the packet fuzz targets share: a sequence of frames, each as a 2-byte
// little-endian header and that many bytes (a trailing partial frame is used as is), so
// one input drives the flow table across packets as a capture would. The header's low 15
// bits are the frame's length; its top bit says "do not verify the ICRC" (as `weftctl
// analyze --no-icrc` and weftd with verification off run), so frames the fuzzer made
// up, whose ICRC is almost never right, still reach PSN and message tracking.
// test/fuzz/make_corpus.py writes seeds in this format.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace weft::fuzz {

// Calls f(frame, verify_icrc) for each frame of the input, in order.
template <class F>
void for_each_frame(const uint8_t* data, size_t size, F&& f) {
    size_t at = 0;
    while (at + 2 <= size) {
        const unsigned header = unsigned(data[at]) | unsigned(data[at + 1]) << 8;
        at += 2;
        size_t len = header & 0x7fff;
        if (len > size - at) len = size - at;
        f(std::span<const uint8_t>(data + at, len), (header & 0x8000) == 0);
        at += len;
    }
}

}  // namespace weft::fuzz

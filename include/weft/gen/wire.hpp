// The generator's wire: builds frames through roce::build_frame, stamps them with the
// time a link of the chosen speed needs to serialise them, and hands them to a sink.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "weft/roce/builder.hpp"

namespace weft::gen {

class FrameSink {
  public:
    virtual ~FrameSink() = default;
    virtual void put(std::span<const uint8_t> frame, uint64_t timestamp_ns) = 0;
};

class Wire {
  public:
    // link_gbps > 0; frame_limit 0 = unlimited.
    Wire(FrameSink& sink, double link_gbps, uint64_t start_ns, uint64_t frame_limit);

    // Builds and emits one frame; returns false (and emits nothing) once the limit is hit.
    bool emit(const roce::FrameSpec& spec);
    // Emits bytes as they are (malformed frames are made by editing a built frame).
    bool emit_raw(std::span<const uint8_t> frame);
    // Builds without emitting, for callers that corrupt the frame first.
    std::vector<uint8_t> build(const roce::FrameSpec& spec) const;
    void idle(uint64_t ns) { now_ns_ += ns; }

    uint64_t now_ns() const { return now_ns_; }
    uint64_t frames() const { return frames_; }
    uint64_t bytes() const { return bytes_; }
    bool full() const { return limit_ && frames_ >= limit_; }

  private:
    FrameSink& sink_;
    double ns_per_byte_;
    uint64_t now_ns_;
    uint64_t limit_;
    uint64_t frames_ = 0;
    uint64_t bytes_ = 0;
    std::vector<uint8_t> buffer_;
};

}  // namespace weft::gen

#include "weft/gen/wire.hpp"

#include <stdexcept>

namespace weft::gen {

namespace {
// Preamble + start delimiter (8), FCS (4) and the minimum inter-frame gap (12) occupy
// the link as well as the frame the capture shows.
constexpr uint64_t kPerFrameOverhead = 24;
}  // namespace

Wire::Wire(FrameSink& sink, double link_gbps, uint64_t start_ns, uint64_t frame_limit)
    : sink_(sink), ns_per_byte_(8.0 / link_gbps), now_ns_(start_ns), limit_(frame_limit) {
    if (!(link_gbps > 0)) throw std::invalid_argument("link speed must be positive");
    buffer_.resize(65536);
}

bool Wire::emit_raw(std::span<const uint8_t> frame) {
    if (full()) return false;
    sink_.put(frame, now_ns_);
    now_ns_ += uint64_t(double(frame.size() + kPerFrameOverhead) * ns_per_byte_ + 0.5);
    ++frames_;
    bytes_ += frame.size();
    return true;
}

std::vector<uint8_t> Wire::build(const roce::FrameSpec& spec) const {
    std::vector<uint8_t> f(roce::frame_size(spec));
    if (roce::build_frame(spec, f) == 0)
        throw std::logic_error("generator built an impossible frame");
    return f;
}

bool Wire::emit(const roce::FrameSpec& spec) {
    if (full()) return false;
    size_t n = roce::build_frame(spec, buffer_);
    if (n == 0) throw std::logic_error("generator built an impossible frame");
    return emit_raw(std::span<const uint8_t>(buffer_.data(), n));
}

}  // namespace weft::gen

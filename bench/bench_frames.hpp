// Realistic frames for the micro-benchmarks, made in memory by weft-gen's scenarios.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "weft/gen/scenario.hpp"

namespace weft::bench {

struct Frames {
    std::vector<std::vector<uint8_t>> frames;
};

class MemorySink : public gen::FrameSink {
  public:
    explicit MemorySink(Frames& out) : out_(out) {}
    void put(std::span<const uint8_t> f, uint64_t) override {
        out_.frames.emplace_back(f.begin(), f.end());
    }

  private:
    Frames& out_;
};

inline Frames make_frames(std::string_view scenario, uint64_t count, uint32_t mtu = 4096) {
    Frames out;
    MemorySink sink(out);
    gen::Wire wire(sink, 400, 0, count);
    gen::ScenarioOptions o;
    o.fabric.mtu = mtu;
    o.iterations = 0;
    o.requests = 0;
    gen::run_scenario(scenario, o, wire);
    return out;
}

}  // namespace weft::bench

// How a worker's state reaches the control plane without slowing the worker or sharing
// anything it writes per packet:
//  - counters: the worker keeps plain counters and, about once a millisecond, publishes
//    a copy word by word through relaxed atomics (a plain store on x86). Readers get each
//    counter exact as of its publication, no lock and no torn word; the set may mix two
//    publications a millisecond apart, which monotonic counters tolerate.
//  - flows: a reader posts a request with a buffer it allocated; the worker copies its
//    table into it a bounded step per poll loop (flow::TableCopier: 64 records after a
//    busy poll, 4096 after an idle one) and then answers. Nothing is paid while no
//    snapshot is pending but one relaxed load per loop.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <span>
#include <type_traits>

#include "weft/balance/flowlet.hpp"
#include "weft/flow/snapshot.hpp"
#include "weft/roce/ip_address.hpp"

namespace weft::dataplane {

template <class T>
class Published {
    static_assert(std::is_trivially_copyable_v<T> && sizeof(T) % sizeof(uint64_t) == 0,
                  "published as whole 64-bit words");
    static constexpr size_t kWords = sizeof(T) / sizeof(uint64_t);

  public:
    void store(const T& value) {
        std::array<uint64_t, kWords> w;
        std::memcpy(w.data(), &value, sizeof value);
        for (size_t i = 0; i < kWords; ++i) words_[i].store(w[i], std::memory_order_relaxed);
    }
    T load() const {
        std::array<uint64_t, kWords> w;
        for (size_t i = 0; i < kWords; ++i) w[i] = words_[i].load(std::memory_order_relaxed);
        T value;
        std::memcpy(static_cast<void*>(&value), w.data(), sizeof value);  // trivially copyable
        return value;
    }

  private:
    std::array<std::atomic<uint64_t>, kWords> words_{};
};

// One outstanding flow snapshot request per worker; requests come from one control
// thread at a time (Instance serialises them).
struct FlowRequest {
    // Written by the reader before it bumps `requested` (release), read by the worker
    // after it sees the bump (acquire).
    std::span<flow::FlowCopy> buffer;
    std::atomic<uint64_t> requested{0};
    // Written by the worker before it bumps `answered` (release).
    size_t copied = 0;
    size_t missed = 0;
    std::atomic<uint64_t> answered{0};
};

// One outstanding explain-path query per worker (`weftctl explain-path`): which path a
// host -> fabric flow is on and why. Serialised by Instance like snapshots.
struct PathQuery {
    // Written by the reader before it bumps `requested` (release).
    roce::IpAddress src{}, dst{};
    uint32_t dest_qp = 0;
    std::atomic<uint64_t> requested{0};
    // Written by the worker before it bumps `answered` (release).
    bool found = false;
    balance::FlowletState state{};
    uint64_t packets = 0, bytes = 0, first_ns = 0, last_ns = 0;
    std::atomic<uint64_t> answered{0};
};

}  // namespace weft::dataplane

// The receiving side of spraying: a sprayed QP's requests arrive over several paths, so
// out of PSN order, and an RNIC answers a PSN gap with a NAK and go-back-N. The receiving
// weftd holds a QP's frames that arrive ahead of the next expected PSN in a bounded
// buffer and releases them in PSN order as the gap fills (24-bit PSNs, wrapping). A gap
// that does not fill within `timeout_ns` (the frame was lost, not late) is released as
// is: the RNIC then NAKs it as it would have. A frame too far ahead for the buffer
// releases everything held first (overflow). Frames behind the expected PSN (resent, or
// duplicated) pass at once.
//
// Buffers come from a fixed pool of `flows` slots of `depth` frames each, taken by a QP
// while it has something held; a QP that finds the pool empty passes its frames unheld
// (counted). Nothing is allocated per packet. Frames are opaque pointers (mbufs in weftd):
// free of DPDK types, as the simulator issue wants.
#pragma once

#include <cstdint>
#include <vector>

#include "weft/flow/side_array.hpp"

namespace weft::balance {

struct ReorderSettings {
    uint32_t depth = 64;  // frames held per QP, a power of two (2 .. 1024)
    uint32_t flows = 256;  // QPs holding frames at once, per worker
    uint64_t timeout_ns = 1'000'000;
};

struct ReorderCounters {
    uint64_t in_order = 0;       // arrived in PSN order, passed at once
    uint64_t held = 0;           // arrived ahead of a gap: held
    uint64_t released_in_order = 0;  // held, released once the gap before them filled
    uint64_t timeouts = 0;       // gaps given up on (the frames after them released)
    uint64_t released_on_timeout = 0;
    uint64_t overflows = 0;      // a frame too far ahead: everything held released first
    uint64_t released_on_overflow = 0;
    uint64_t behind = 0;         // behind the expected PSN (resent or duplicated): passed
    uint64_t no_slot = 0;        // ahead of a gap, but every buffer was taken: passed
};

class Reorderer {
  public:
    // `max_flows`: the flow table's size (flow indices are below it).
    Reorderer(ReorderSettings settings, uint32_t max_flows);

    // The request frame `frame` with `psn` of flow `flow` (`created`: the flow is new) at
    // `now_ns`: calls emit(frame) for every frame that may go now, in PSN order.
    template <class Emit>
    void push(uint32_t flow, bool created, uint32_t psn, void* frame, uint64_t now_ns, Emit&& emit);
    // Releases what every QP holds behind a gap older than the timeout.
    template <class Emit>
    void expire(uint64_t now_ns, Emit&& emit);
    // Releases everything held (at shutdown).
    template <class Emit>
    void release_all(Emit&& emit);

    uint64_t frames_held() const { return frames_held_; }
    uint32_t flows_holding() const { return uint32_t(active_.size()); }
    const ReorderCounters& counters() const { return counters_; }
    const ReorderSettings& settings() const { return settings_; }

  private:
    struct FlowState {
        uint32_t expected = 0;  // the next PSN to release
        uint32_t slot = 0;      // index + 1 of the buffer it holds frames in; 0: none
        bool valid = false;
    };
    struct Slot {
        uint32_t flow = 0;
        uint32_t count = 0;
        uint64_t since_ns = 0;  // when the oldest gap started waiting (reset on progress)
        uint32_t active_index = 0;
    };

    void* const& frame_at(uint32_t slot, uint32_t psn) const {
        return frames_[size_t(slot) * settings_.depth + (psn & (settings_.depth - 1))];
    }
    void*& frame_at(uint32_t slot, uint32_t psn) {
        return frames_[size_t(slot) * settings_.depth + (psn & (settings_.depth - 1))];
    }
    void free_slot(FlowState& st);
    // Emits what follows st.expected without a gap; frees the slot when it empties.
    template <class Emit>
    void drain(FlowState& st, uint64_t now_ns, Emit& emit);
    // Emits everything the flow holds, in PSN order, skipping the gaps.
    template <class Emit>
    void flush(FlowState& st, Emit& emit, uint64_t& released);

    ReorderSettings settings_;
    flow::SideArray<FlowState> flows_;
    std::vector<Slot> slots_;
    std::vector<void*> frames_;       // slots x depth
    std::vector<uint32_t> free_;      // free slot indices
    std::vector<uint32_t> active_;    // slot indices holding frames
    uint64_t frames_held_ = 0;
    ReorderCounters counters_;
};

// ---- templates ----

inline constexpr uint32_t kPsnMask = 0xffffff;

template <class Emit>
void Reorderer::drain(FlowState& st, uint64_t now_ns, Emit& emit) {
    const uint32_t s = st.slot - 1;
    Slot& slot = slots_[s];
    bool progressed = false;
    while (slot.count) {
        void*& f = frame_at(s, st.expected);
        if (!f) break;
        emit(f);
        f = nullptr;
        --slot.count;
        --frames_held_;
        ++counters_.released_in_order;
        st.expected = (st.expected + 1) & kPsnMask;
        progressed = true;
    }
    if (slot.count == 0)
        free_slot(st);
    else if (progressed)
        slot.since_ns = now_ns;
}

template <class Emit>
void Reorderer::flush(FlowState& st, Emit& emit, uint64_t& released) {
    const uint32_t s = st.slot - 1;
    Slot& slot = slots_[s];
    uint32_t psn = st.expected;
    for (uint32_t i = 0; i < settings_.depth && slot.count; ++i, psn = (psn + 1) & kPsnMask) {
        void*& f = frame_at(s, psn);
        if (!f) continue;
        emit(f);
        f = nullptr;
        --slot.count;
        --frames_held_;
        ++released;
        st.expected = (psn + 1) & kPsnMask;
    }
    free_slot(st);
}

template <class Emit>
void Reorderer::push(uint32_t flow, bool created, uint32_t psn, void* frame, uint64_t now_ns,
                     Emit&& emit) {
    FlowState& st = flows_.at(flow, created);
    psn &= kPsnMask;
    if (!st.valid) {
        st.valid = true;
        st.expected = (psn + 1) & kPsnMask;
        ++counters_.in_order;
        emit(frame);
        return;
    }
    const uint32_t ahead = (psn - st.expected) & kPsnMask;
    if (ahead == 0) {
        ++counters_.in_order;
        emit(frame);
        st.expected = (psn + 1) & kPsnMask;
        if (st.slot) drain(st, now_ns, emit);
        return;
    }
    if (ahead >= 0x800000) {  // behind: half the PSN space back
        ++counters_.behind;
        emit(frame);
        return;
    }
    if (ahead >= settings_.depth) {
        // too far ahead to hold: what is held goes first, then this frame, and the QP
        // expects what follows it
        ++counters_.overflows;
        uint64_t released = 0;
        if (st.slot) flush(st, emit, released);
        counters_.released_on_overflow += released;
        emit(frame);
        st.expected = (psn + 1) & kPsnMask;
        return;
    }
    if (!st.slot) {
        if (free_.empty()) {
            ++counters_.no_slot;
            emit(frame);
            return;
        }
        const uint32_t s = free_.back();
        free_.pop_back();
        slots_[s] = Slot{flow, 0, now_ns, uint32_t(active_.size())};
        active_.push_back(s);
        st.slot = s + 1;
    }
    void*& f = frame_at(st.slot - 1, psn);
    if (f) {  // the same PSN twice while held: the copy passes
        ++counters_.behind;
        emit(frame);
        return;
    }
    f = frame;
    ++slots_[st.slot - 1].count;
    ++frames_held_;
    ++counters_.held;
}

template <class Emit>
void Reorderer::expire(uint64_t now_ns, Emit&& emit) {
    for (size_t i = 0; i < active_.size();) {
        Slot& slot = slots_[active_[i]];
        if (now_ns - slot.since_ns <= settings_.timeout_ns) {
            ++i;
            continue;
        }
        FlowState& st = flows_.at(slot.flow, false);
        ++counters_.timeouts;
        flush(st, emit, counters_.released_on_timeout);  // removes active_[i]
    }
}

template <class Emit>
void Reorderer::release_all(Emit&& emit) {
    while (!active_.empty()) {
        FlowState& st = flows_.at(slots_[active_.back()].flow, false);
        flush(st, emit, counters_.released_on_timeout);
    }
}

}  // namespace weft::balance

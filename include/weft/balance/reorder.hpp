// The receiving side of spraying: a sprayed QP's requests arrive over several paths, so
// out of PSN order, and an RNIC answers a PSN gap with a NAK and go-back-N. The receiving
// weftd holds a QP's frames that arrive ahead of the next expected PSN in a bounded
// buffer and releases them in PSN order as the gap fills (24-bit PSNs, wrapping). A gap
// that does not fill within `timeout_ns` (the frame was lost, not late) is released as
// is: the RNIC then NAKs it as it would have. A frame too far ahead for the buffer
// releases everything held first (overflow). A frame behind the expected PSN is the RNIC's
// go-back-N restarting there (or a duplicate): what is held is released, the frame passes,
// and the QP's order restarts after it, so the resent frames, sprayed too, are put in
// order as the first ones were (without the restart they would all pass as "behind", out
// of order, and every gap they leave would draw another NAK: a go-back-N storm).
//
// A QP's first PSN is not known until its first frames are in: sprayed, the second may
// come before the first. So a new QP's frames are held (within the depth, the lowest PSN
// seen taken as the start) until `timeout_ns` after the first, then released in order:
// each new QP waits that long once (counted as `starts`).
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
    uint32_t depth = 64;   // frames held per QP, a power of two (2 .. 1024)
    uint32_t flows = 256;  // QPs holding frames at once, per worker
    uint64_t timeout_ns = 1'000'000;
};

struct ReorderCounters {
    uint64_t in_order = 0;           // arrived in PSN order, passed at once
    uint64_t held = 0;               // arrived ahead of a gap: held
    uint64_t released_in_order = 0;  // held, released once the gap before them filled
    uint64_t timeouts = 0;           // gaps given up on (the frames after them released)
    uint64_t released_on_timeout = 0;
    uint64_t overflows = 0;  // a frame too far ahead: everything held released first
    uint64_t released_on_overflow = 0;
    uint64_t behind = 0;               // behind the expected PSN (go-back-N or a duplicate): the
                                       // order restarts after it
    uint64_t released_on_restart = 0;  // held frames released by such a restart
    uint64_t starts = 0;               // new QPs whose first frames were held, then
                                       // released in order (in released_in_order)
    uint64_t no_slot = 0;              // ahead of a gap, but every buffer was taken: passed
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
        uint32_t expected = 0;  // the next PSN to release (starting: the lowest held)
        uint32_t slot = 0;      // index + 1 of the buffer it holds frames in; 0: none
        bool valid = false;
        bool starting = false;  // its first frames are being held to find its first PSN
    };
    struct Slot {
        uint32_t flow = 0;
        uint32_t count = 0;
        uint64_t since_ns = 0;  // when the oldest gap started waiting (reset on progress)
        uint32_t active_index = 0;
        uint32_t top = 0;  // starting: the highest PSN held
    };
    bool take_slot(FlowState& st, uint32_t flow, uint64_t now_ns);
    void hold(FlowState& st, uint32_t psn, void* frame);

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
    std::vector<void*> frames_;     // slots x depth
    std::vector<uint32_t> free_;    // free slot indices
    std::vector<uint32_t> active_;  // slot indices holding frames
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
    st.starting = false;
}

template <class Emit>
void Reorderer::push(uint32_t flow, bool created, uint32_t psn, void* frame, uint64_t now_ns,
                     Emit&& emit) {
    FlowState& st = flows_.at(flow, created);
    psn &= kPsnMask;
    if (!st.valid) {
        st.valid = true;
        if (!take_slot(st, flow, now_ns)) {
            ++counters_.no_slot;
            st.expected = (psn + 1) & kPsnMask;
            emit(frame);
            return;
        }
        st.starting = true;
        st.expected = psn;
        slots_[st.slot - 1].top = psn;
        hold(st, psn, frame);
        return;
    }
    const uint32_t ahead = (psn - st.expected) & kPsnMask;
    if (st.starting) {
        Slot& slot = slots_[st.slot - 1];
        const uint32_t below = (st.expected - psn) & kPsnMask;
        if (ahead < settings_.depth) {
            if (frame_at(st.slot - 1, psn)) {  // a copy of one held
                ++counters_.behind;
                emit(frame);
                return;
            }
            if (((psn - slot.top) & kPsnMask) < settings_.depth) slot.top = psn;
            hold(st, psn, frame);
            return;
        }
        if (below < settings_.depth && ((slot.top - psn) & kPsnMask) < settings_.depth) {
            st.expected = psn;  // a lower first PSN, still within the depth of the highest
            hold(st, psn, frame);
            return;
        }
        // beyond the buffer: the start ends here, with the lowest PSN held as the first;
        // what follows it without a gap goes now, and this frame as any other
        ++counters_.starts;
        st.starting = false;
        drain(st, now_ns, emit);
        push(flow, false, psn, frame, now_ns, emit);
        return;
    }
    if (ahead == 0) {
        ++counters_.in_order;
        emit(frame);
        st.expected = (psn + 1) & kPsnMask;
        if (st.slot) drain(st, now_ns, emit);
        return;
    }
    if (ahead >= 0x800000) {  // behind: half the PSN space back
        ++counters_.behind;
        if (st.slot) flush(st, emit, counters_.released_on_restart);
        emit(frame);
        st.expected = (psn + 1) & kPsnMask;
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
    if (!st.slot && !take_slot(st, flow, now_ns)) {
        ++counters_.no_slot;
        emit(frame);
        return;
    }
    if (frame_at(st.slot - 1, psn)) {  // the same PSN twice while held: the copy passes
        ++counters_.behind;
        emit(frame);
        return;
    }
    hold(st, psn, frame);
}

template <class Emit>
void Reorderer::expire(uint64_t now_ns, Emit&& emit) {
    for (size_t i = 0; i < active_.size();) {
        Slot& slot = slots_[active_[i]];
        if (now_ns <= slot.since_ns || now_ns - slot.since_ns <= settings_.timeout_ns) {
            ++i;
            continue;
        }
        FlowState& st = flows_.at(slot.flow, false);
        if (st.starting) {
            ++counters_.starts;
            flush(st, emit, counters_.released_in_order);  // removes active_[i]
        } else {
            ++counters_.timeouts;
            flush(st, emit, counters_.released_on_timeout);  // removes active_[i]
        }
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

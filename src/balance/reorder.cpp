#include "weft/balance/reorder.hpp"

namespace weft::balance {

Reorderer::Reorderer(ReorderSettings settings, uint32_t max_flows)
    : settings_(settings),
      flows_(max_flows),
      slots_(settings.flows),
      frames_(size_t(settings.flows) * settings.depth, nullptr) {
    free_.reserve(settings.flows);
    active_.reserve(settings.flows);
    for (uint32_t s = settings.flows; s-- > 0;) free_.push_back(s);
}

bool Reorderer::take_slot(FlowState& st, uint32_t flow, uint64_t now_ns) {
    if (free_.empty()) return false;
    const uint32_t s = free_.back();
    free_.pop_back();
    slots_[s] = Slot{flow, 0, now_ns, uint32_t(active_.size()), 0};
    active_.push_back(s);
    st.slot = s + 1;
    return true;
}

void Reorderer::hold(FlowState& st, uint32_t psn, void* frame) {
    frame_at(st.slot - 1, psn) = frame;
    ++slots_[st.slot - 1].count;
    ++frames_held_;
    ++counters_.held;
}

void Reorderer::free_slot(FlowState& st) {
    const uint32_t s = st.slot - 1;
    // the last active slot takes this one's place in the list
    const uint32_t at = slots_[s].active_index;
    const uint32_t last = active_.back();
    active_[at] = last;
    slots_[last].active_index = at;
    active_.pop_back();
    slots_[s].count = 0;
    free_.push_back(s);
    st.slot = 0;
}

}  // namespace weft::balance

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

// Per-flow state a later pipeline stage keeps beside the flow table, indexed by the flow's
// record index, so the 112-byte record stays what every packet touches: a balancer's
// current path and flowlet clock, a reorder buffer's head, an SA's replay window. Flow
// indices are reused after eviction, so a stage asks for its entry with the packet's
// `flow_created` (Table::Touched::created) and gets it reset to T{} when the index now
// belongs to a new flow. Preallocated, zeroed lazily (calloc): nothing per packet.
#pragma once

#include <cstdint>

#include "weft/flow/record.hpp"
#include "weft/flow/zeroed_array.hpp"

namespace weft::flow {

template <class T>
class SideArray {
  public:
    // One entry per record of a table of `max_flows` (TableConfig::max_flows).
    explicit SideArray(uint32_t max_flows) : entries_(max_flows) {}

    // The entry of flow `index` (< max_flows); reset first when the packet created the flow.
    T& at(uint32_t index, bool created) {
        T& e = entries_[index];
        if (created) e = T{};
        return e;
    }
    const T& operator[](uint32_t index) const { return entries_[index]; }
    // For a prefetch a few packets ahead: at 1 M flows an entry is a cache miss.
    const T* address(uint32_t index) const { return &entries_[index]; }
    uint32_t size() const { return uint32_t(entries_.size()); }

  private:
    ZeroedArray<T> entries_;
};

}  // namespace weft::flow

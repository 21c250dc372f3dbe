// Counter lists: one X-macro list per stage names each counter once, with what it counts,
// and generates everything else — the struct the hot path increments, the sum across
// workers, the JSON object, the text line and the Prometheus series
// (telemetry/render.hpp). A new counter is one line in its list.
//
//   #define WEFT_FIREWALL_COUNTERS(COUNTER, ARRAY)   (continued with backslashes)
//       COUNTER(passed, "frames the firewall let through")
//       COUNTER(dropped_malformed, "malformed RoCEv2 dropped")
//   struct FirewallCounters {
//       WEFT_COUNTER_LIST(FirewallCounters, WEFT_FIREWALL_COUNTERS)
//   };
//
// ARRAY(name, help, label, size, label_of) is a counter with one value per label value
// (verdicts by name): a std::array member, label_of(i) names element i.
//
// This header has no dependency but the standard library: hot-path headers include it.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace weft::telemetry {

template <class S>
struct Counter {
    std::string_view name;  // JSON key, text label, Prometheus series (<prefix>_<name>_total)
    std::string_view help;  // one line: what is counted
    uint64_t S::*scalar = nullptr;
    // An array counter: its values, the label that tells them apart, and each value's name.
    std::span<uint64_t> (*values)(S&) = nullptr;
    std::string_view label;
    std::string_view (*label_of)(size_t) = nullptr;

    bool is_array() const { return values != nullptr; }
};

// Every counter of `s` in list order: f(counter, value) for scalars, and for arrays
// f(counter, i, value) per element.
template <class S, class Scalar, class Element>
void visit(const S& s, Scalar&& on_scalar, Element&& on_element) {
    for (const Counter<S>& c : S::counter_list()) {
        if (!c.is_array()) {
            on_scalar(c, s.*c.scalar);
            continue;
        }
        std::span<uint64_t> v = c.values(const_cast<S&>(s));  // read only
        for (size_t i = 0; i < v.size(); ++i) on_element(c, i, v[i]);
    }
}

}  // namespace weft::telemetry

#define WEFT_COUNTER_MEMBER_(name, help) uint64_t name = 0;
#define WEFT_COUNTER_ARRAY_MEMBER_(name, help, label, size, label_of) \
    std::array<uint64_t, size> name{};
#define WEFT_COUNTER_ENTRY_(name, help) \
    ::weft::telemetry::Counter<Self_>{#name, help, &Self_::name},
#define WEFT_COUNTER_ARRAY_ENTRY_(name, help, label, size, label_of) \
    ::weft::telemetry::Counter<Self_>{#name,   help,                 \
                                      nullptr, [](Self_& s) { return std::span<uint64_t>(s.name); },     \
                                      label,   label_of},
#define WEFT_COUNTER_NONE_(...)

// The body of a counter struct: its members, the list that describes them, and +=.
#define WEFT_COUNTER_LIST(Struct, LIST)                                       \
    LIST(WEFT_COUNTER_MEMBER_, WEFT_COUNTER_ARRAY_MEMBER_)                    \
    using Self_ = Struct;                                                     \
    static constexpr auto counter_list() {                                    \
        return std::to_array<::weft::telemetry::Counter<Self_>>(              \
            {LIST(WEFT_COUNTER_ENTRY_, WEFT_COUNTER_ARRAY_ENTRY_)});          \
    }                                                                         \
    Struct& operator+=(const Struct& other) {                                 \
        for (const auto& c : counter_list()) {                                \
            if (!c.is_array()) {                                              \
                this->*c.scalar += other.*c.scalar;                           \
                continue;                                                     \
            }                                                                 \
            std::span<uint64_t> mine = c.values(*this);                       \
            std::span<uint64_t> theirs = c.values(const_cast<Self_&>(other)); \
            for (size_t i = 0; i < mine.size(); ++i) mine[i] += theirs[i];    \
        }                                                                     \
        return *this;                                                         \
    }                                                                         \
    friend bool operator==(const Struct&, const Struct&) = default;

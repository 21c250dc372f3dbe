// Renderings of counter lists (counters.hpp): a JSON object, a line of text and Prometheus
// series, each made from the list itself, so every counter appears in all three by being
// declared once. Off the hot path: this header pulls in JSON and fmt.
#pragma once

#include <fmt/format.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "weft/telemetry/counters.hpp"

namespace weft::telemetry {

// {"name": value, ..., "array": {"label value": value, ...}}
template <class S>
nlohmann::json to_json(const S& s) {
    nlohmann::json j = nlohmann::json::object();
    visit(
        s, [&](const Counter<S>& c, uint64_t v) { j[std::string(c.name)] = v; },
        [&](const Counter<S>& c, size_t i, uint64_t v) {
            j[std::string(c.name)][std::string(c.label_of(i))] = v;
        });
    return j;
}

// "name 1, other 2" — every scalar, and the non-zero elements of arrays as name[label].
// With skip_zero, zero scalars are left out too.
template <class S>
std::string to_text(const S& s, bool skip_zero = false) {
    std::string out;
    auto add = [&](std::string_view label, uint64_t v) {
        if (!out.empty()) out += ", ";
        out += fmt::format("{} {}", label, v);
    };
    visit(
        s,
        [&](const Counter<S>& c, uint64_t v) {
            if (!skip_zero || v) add(c.name, v);
        },
        [&](const Counter<S>& c, size_t i, uint64_t v) {
            if (v) add(fmt::format("{}[{}]", c.name, c.label_of(i)), v);
        });
    return out;
}

// The Prometheus text exposition format 0.0.4: families of samples, each family's HELP and
// TYPE once, its samples together.
class PrometheusWriter {
  public:
    void family(std::string_view name, std::string_view type, std::string_view help);
    // `labels` as written inside the braces (name="value",...), "" for none.
    void sample(std::string_view labels, uint64_t value);
    void sample(std::string_view labels, double value);
    const std::string& text() const { return out_; }

  private:
    std::string out_;
    std::string name_;
};

// A label value as the format requires it: backslash, quote and newline escaped.
std::string escape_label_value(std::string_view v);

// One family per counter of S, named <prefix>_<counter>_total, with a sample for each of
// `sources`: {labels, const S*}. Array counters add their own label to each sample.
template <class S>
struct LabelledCounters {
    std::string labels;
    const S* counters;
};
template <class S>
void write_prometheus(PrometheusWriter& out, std::string_view prefix,
                      const std::vector<LabelledCounters<S>>& sources) {
    for (const Counter<S>& c : S::counter_list()) {
        out.family(fmt::format("{}_{}_total", prefix, c.name), "counter", c.help);
        for (const auto& src : sources) {
            const S& s = *src.counters;
            if (!c.is_array()) {
                out.sample(src.labels, s.*c.scalar);
                continue;
            }
            std::span<uint64_t> v = c.values(const_cast<S&>(s));  // read only
            for (size_t i = 0; i < v.size(); ++i)
                out.sample(fmt::format("{}{}{}=\"{}\"", src.labels, src.labels.empty() ? "" : ",",
                                       c.label, escape_label_value(c.label_of(i))),
                           v[i]);
        }
    }
}

}  // namespace weft::telemetry

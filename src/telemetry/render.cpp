#include "weft/telemetry/render.hpp"

namespace weft::telemetry {

void PrometheusWriter::family(std::string_view name, std::string_view type, std::string_view help) {
    name_ = name;
    out_ += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
}

void PrometheusWriter::sample(std::string_view labels, uint64_t value) {
    out_ += labels.empty() ? fmt::format("{} {}\n", name_, value)
                           : fmt::format("{}{{{}}} {}\n", name_, labels, value);
}

void PrometheusWriter::sample(std::string_view labels, double value) {
    out_ += labels.empty() ? fmt::format("{} {}\n", name_, value)
                           : fmt::format("{}{{{}}} {}\n", name_, labels, value);
}

std::string escape_label_value(std::string_view v) {
    std::string s;
    for (char c : v) {
        if (c == '\n') {
            s += "\\n";
            continue;
        }
        if (c == '\\' || c == '"') s += '\\';
        s += c;
    }
    return s;
}

}  // namespace weft::telemetry

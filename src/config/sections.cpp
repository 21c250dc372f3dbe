#include "weft/config/sections.hpp"

#include <fmt/format.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace weft::config {

namespace {

std::string qualified(std::string_view section, std::string_view key) {
    return section.empty() ? std::string(key) : fmt::format("{}.{}", section, key);
}

}  // namespace

void Problems::add(std::string_view key, std::string_view what) {
    lines_.push_back(fmt::format("{}: {}: {}", file_, key, what));
}

namespace {

// TOML integers are signed 64-bit: anything larger is a parse error already, and a
// negative number, a float or a string is refused here with the range it must be in.
bool read_uint_value(const toml::node& n, const std::string& name, uint64_t min, uint64_t max,
                     uint64_t& out, Problems& problems) {
    std::optional<int64_t> v = n.is_integer() ? n.value<int64_t>() : std::nullopt;
    if (!v || *v < 0 || uint64_t(*v) < min || uint64_t(*v) > max) {
        problems.add(name, fmt::format("must be an integer from {} to {}", min, max));
        return false;
    }
    out = uint64_t(*v);
    return true;
}

}  // namespace

bool read_uint(const toml::table& table, std::string_view section, std::string_view key,
               uint64_t min, uint64_t max, uint64_t& out, Problems& problems) {
    const toml::node* n = table.get(key);
    return n && read_uint_value(*n, qualified(section, key), min, max, out, problems);
}

bool read_uint(const toml::node& node, std::string_view key, uint32_t min, uint32_t max,
               uint32_t& out, Problems& problems) {
    uint64_t v = out;
    if (!read_uint_value(node, std::string(key), min, max, v, problems)) return false;
    out = uint32_t(v);
    return true;
}

bool read_uint(const toml::table& table, std::string_view section, std::string_view key,
               uint32_t min, uint32_t max, uint32_t& out, Problems& problems) {
    uint64_t v = out;
    if (!read_uint(table, section, key, uint64_t(min), uint64_t(max), v, problems)) return false;
    out = uint32_t(v);
    return true;
}

bool read_bool(const toml::table& table, std::string_view section, std::string_view key, bool& out,
               Problems& problems) {
    const toml::node* n = table.get(key);
    if (!n) return false;
    if (!n->is_boolean()) {
        problems.add(qualified(section, key), "must be true or false");
        return false;
    }
    out = *n->value<bool>();
    return true;
}

bool read_string(const toml::table& table, std::string_view section, std::string_view key,
                 std::string& out, Problems& problems) {
    const toml::node* n = table.get(key);
    if (!n) return false;
    if (!n->is_string()) {
        problems.add(qualified(section, key), "must be a string");
        return false;
    }
    out = *n->value<std::string>();
    return true;
}

void refuse_unknown_keys(const toml::table& table, std::string_view section,
                         std::span<const std::string_view> known, Problems& problems) {
    for (const auto& [key, node] : table) {
        bool ok = false;
        for (std::string_view k : known) ok = ok || k == key.str();
        if (!ok)
            problems.add(qualified(section, key.str()),
                         fmt::format("unknown key; known: {}", fmt::join(known, ", ")));
    }
}

const toml::table* as_table(const toml::node& node, std::string_view section, Problems& problems) {
    const toml::table* t = node.as_table();
    if (!t) problems.add(section, fmt::format("must be a table ([{}])", section));
    return t;
}

namespace detail {

constexpr size_t kMaxConfigBytes = 1 << 20;

std::optional<std::string> read_file(const std::string& path, Problems& problems) {
    // C stdio rather than a stream: a directory opens but fails to read, and errno says so.
    std::FILE* f = std::fopen(path.c_str(), "rb");
    if (!f) {
        problems.add_raw(fmt::format("{}: cannot read: {}", path, std::strerror(errno)));
        return std::nullopt;
    }
    // A configuration is a few KB: anything past kMaxConfigBytes (a device such as
    // /dev/zero, a log given by mistake) is refused instead of read into memory whole.
    std::string text;
    char buf[65536];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) {
        if (text.size() + n > kMaxConfigBytes) {
            std::fclose(f);
            problems.add_raw(fmt::format("{}: longer than {} bytes: not a configuration file", path,
                                         kMaxConfigBytes));
            return std::nullopt;
        }
        text.append(buf, n);
    }
    const int error = std::ferror(f) ? errno : 0;
    std::fclose(f);
    if (error) {
        problems.add_raw(fmt::format("{}: cannot read: {}", path, std::strerror(error)));
        return std::nullopt;
    }
    return text;
}

std::optional<toml::table> parse_text(std::string_view text, const std::string& name,
                                      Problems& problems) {
    try {
        return toml::parse(text, name);
    } catch (const toml::parse_error& e) {
        const auto& where = e.source().begin;
        problems.add_raw(
            fmt::format("{}:{}:{}: {}", name, where.line, where.column, e.description()));
        return std::nullopt;
    }
}

void unknown_section(std::string_view key, std::span<const std::string_view> known,
                     Problems& problems) {
    problems.add(key, fmt::format("unknown key; a file holds {}", fmt::join(known, ", ")));
}

}  // namespace detail

}  // namespace weft::config

// Configuration files made of sections, each parsed and validated by the module that owns
// its settings. A program lists its sections once (a name and a parse function); the
// top-level keys a file may hold are exactly those names, so a typo anywhere is refused
// with the list of what is known, never silently left at a default.
//
// Every problem becomes one line "FILE: KEY: what is wrong" (or "FILE:LINE:COL: why" for
// a file that is not TOML), all of them at once, so an operator fixes a file in one pass.
// Numbers are range-checked and a refusal states the range.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <toml++/toml.h>

namespace weft::config {

class Problems {
  public:
    explicit Problems(std::string file) : file_(std::move(file)) {}
    void add(std::string_view key, std::string_view what);
    // A line that already says where (the TOML parser's "FILE:LINE:COL: why").
    void add_raw(std::string line) { lines_.push_back(std::move(line)); }
    bool empty() const { return lines_.empty(); }
    const std::vector<std::string>& lines() const { return lines_; }
    std::vector<std::string> take() { return std::move(lines_); }

  private:
    std::string file_;
    std::vector<std::string> lines_;
};

// One top-level key of a file: a table ([name]), an array of tables ([[name]]) or a
// value (name = ...), and the function that reads it into the program's configuration.
template <class Config>
struct Section {
    std::string_view name;
    void (*parse)(const toml::node& node, Config& out, Problems& problems);
};

// Readers for the values inside a section. Each reads `table[key]` when present (absent:
// `out` keeps its value and nothing is reported), reports a wrong type or range against
// "<section>.<key>", and returns whether it set `out`.
bool read_uint(const toml::table& table, std::string_view section, std::string_view key,
               uint64_t min, uint64_t max, uint64_t& out, Problems& problems);
bool read_uint(const toml::table& table, std::string_view section, std::string_view key,
               uint32_t min, uint32_t max, uint32_t& out, Problems& problems);
bool read_bool(const toml::table& table, std::string_view section, std::string_view key, bool& out,
               Problems& problems);
bool read_string(const toml::table& table, std::string_view section, std::string_view key,
                 std::string& out, Problems& problems);

// The same for a top-level value (workers = 4): `key` names it in problems.
bool read_uint(const toml::node& node, std::string_view key, uint32_t min, uint32_t max,
               uint32_t& out, Problems& problems);

// Reports every key of `table` not in `known` ("<section>.<key>: unknown key; known: ...").
void refuse_unknown_keys(const toml::table& table, std::string_view section,
                         std::span<const std::string_view> known, Problems& problems);

// The node of a section as a table, or null after reporting that it must be one.
const toml::table* as_table(const toml::node& node, std::string_view section, Problems& problems);

namespace detail {
// The contents of `path`, or nullopt after reporting why it cannot be read.
std::optional<std::string> read_file(const std::string& path, Problems& problems);
// `text` as TOML, or nullopt after reporting "NAME:LINE:COL: why" where the parser stopped.
std::optional<toml::table> parse_text(std::string_view text, const std::string& name,
                                      Problems& problems);
void unknown_section(std::string_view key, std::span<const std::string_view> known,
                     Problems& problems);
}  // namespace detail

// Reads `text`, the contents of a file called `name` (problems name it), into `out` section
// by section. Returns the problems (empty: the document is good; settings it does not name
// keep their values). Pure: no I/O, and nothing thrown for any text.
template <class Config>
std::vector<std::string> load_string(std::string_view text, const std::string& name,
                                     std::span<const Section<Config>> sections, Config& out) {
    Problems problems(name);
    std::optional<toml::table> doc = detail::parse_text(text, name, problems);
    if (!doc) return problems.take();
    std::vector<std::string_view> names;
    for (const auto& s : sections) names.push_back(s.name);
    for (const auto& [key, node] : *doc) {
        const Section<Config>* section = nullptr;
        for (const auto& s : sections)
            if (s.name == key.str()) section = &s;
        if (section)
            section->parse(node, out, problems);
        else
            detail::unknown_section(key.str(), names, problems);
    }
    return problems.take();
}

// The same for the file at `path`: its contents through load_string, or the one problem
// saying why it cannot be read.
template <class Config>
std::vector<std::string> load_file(const std::string& path,
                                   std::span<const Section<Config>> sections, Config& out) {
    Problems problems(path);
    std::optional<std::string> text = detail::read_file(path, problems);
    if (!text) return problems.take();
    return load_string(*text, path, sections, out);
}

}  // namespace weft::config

// Reading a TOML configuration file the way every Weft daemon reports it: a file that is
// not TOML is one error, "FILE:LINE:COL: why", where the parser stopped.
#pragma once

#include <fmt/format.h>

#include <optional>
#include <string>

#include <toml++/toml.h>

namespace weft::config {

// The parsed file, or nullopt with the parser's complaint in `error`.
inline std::optional<toml::table> parse_toml_file(const std::string& path, std::string& error) {
    try {
        return toml::parse_file(path);
    } catch (const toml::parse_error& e) {
        const auto& where = e.source().begin;
        error = fmt::format("{}:{}:{}: {}", path, where.line, where.column, e.description());
        return std::nullopt;
    }
}

}  // namespace weft::config

// What every Weft command line shares: CLI11 parsing with Weft's exit codes, and a
// progress line on stderr. Header-only; used by the thin main()s in tools/.
#pragma once

#include <fmt/format.h>
#include <unistd.h>
#include <CLI/CLI.hpp>

#include <charconv>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <optional>
#include <string>
#include <type_traits>

namespace weft::tools {

inline constexpr int kExitUsage = 2;

// Parses argv. Returns the exit status to stop with (0 after --help, kExitUsage after a
// usage error, with CLI11's message on stderr), or nullopt to carry on.
inline std::optional<int> parse_command_line(CLI::App& app, int argc, char** argv) {
    try {
        app.parse(argc, argv);
    } catch (const CLI::CallForHelp& e) {
        return app.exit(e);
    } catch (const CLI::ParseError& e) {
        app.exit(e);
        return kExitUsage;
    }
    return std::nullopt;
}

// Parses a whole decimal integer (or 0x hex when allow_hex) of type T within [min, max].
// Nothing else is accepted: no sign on unsigned types, no wrap, no trailing text, no
// silent fallback to a default.
template <class T>
std::optional<T> parse_bounded(const std::string& text, T min, T max, bool allow_hex = false) {
    static_assert(std::is_integral_v<T>);
    const char* first = text.data();
    const char* last = first + text.size();
    int base = 10;
    if (allow_hex && text.size() > 2 && text[0] == '0' && (text[1] == 'x' || text[1] == 'X')) {
        base = 16;
        first += 2;
    }
    if (first == last || *first == '+' || (std::is_unsigned_v<T> && *first == '-'))
        return std::nullopt;
    T value{};
    auto [end, ec] = std::from_chars(first, last, value, base);
    if (ec != std::errc{} || end != last || value < min || value > max) return std::nullopt;
    return value;
}

// "an integer from MIN to MAX": the words every range error uses.
template <class T>
std::string range_words(T min, T max) {
    return fmt::format("an integer from {} to {}", min, max);
}

// Adds an option taking an integer within [min, max]; anything else is a usage error that
// names the option, the valid range and what was given. The range is shown in --help.
template <class T>
CLI::Option* add_bounded(CLI::App* app, const std::string& names, T& value, T min, T max,
                         const std::string& help, bool allow_hex = false) {
    auto* option = app->add_option(
        names,
        [&value, min, max, allow_hex, names](const CLI::results_t& results) {
            const std::string& text = results.back();
            auto parsed = parse_bounded<T>(text, min, max, allow_hex);
            if (!parsed)
                throw CLI::ValidationError(
                    names, fmt::format("must be {}{}, not '{}'", range_words(min, max),
                                       allow_hex ? " (decimal or 0x hex)" : "", text));
            value = *parsed;
            return true;
        },
        fmt::format("{} [{}-{}]", help, min, max));
    option->type_name("INT");
    return option;
}

// The same for a real number within [min, max] (finite, no trailing text).
inline CLI::Option* add_bounded_real(CLI::App* app, const std::string& names, double& value,
                                     double min, double max, const std::string& help) {
    auto* option = app->add_option(
        names,
        [&value, min, max, names](const CLI::results_t& results) {
            const std::string& text = results.back();
            char* end = nullptr;
            double v = text.empty() ? NAN : std::strtod(text.c_str(), &end);
            if (text.empty() || end != text.c_str() + text.size() || !std::isfinite(v) || v < min ||
                v > max)
                throw CLI::ValidationError(
                    names, fmt::format("must be a number from {} to {}, not '{}'", min, max, text));
            value = v;
            return true;
        },
        fmt::format("{} [{}-{}]", help, min, max));
    option->type_name("NUM");
    return option;
}

// A progress report on stderr: rewritten in place on a terminal, one line per report
// when stderr is a file or a pipe (so logs stay readable).
class ProgressLine {
  public:
    ProgressLine() : tty_(isatty(STDERR_FILENO) != 0) {}
    void show(const std::string& text) {
        fmt::print(stderr, "{}{}{}", tty_ ? "\r" : "", text, tty_ ? "" : "\n");
        shown_ = true;
    }
    // Ends an in-place line so what follows starts on its own line.
    void finish() {
        if (tty_ && shown_) fmt::print(stderr, "\n");
        shown_ = false;
    }

  private:
    bool tty_;
    bool shown_ = false;
};

}  // namespace weft::tools

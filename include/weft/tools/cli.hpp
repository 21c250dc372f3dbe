// What every Weft command line shares: CLI11 parsing with Weft's exit codes, and a
// progress line on stderr. Header-only; used by the thin main()s in tools/.
#pragma once

#include <fmt/format.h>
#include <sys/ioctl.h>
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
    // An app with subcommands: a first word that names none is the error to report
    // (CLI11 would say only "A subcommand is required").
    if (!app.get_subcommands({}).empty()) {
        for (int i = 1; i < argc; ++i) {
            const std::string word = argv[i];
            if (word == "--") break;
            if (!word.empty() && word[0] == '-') {
                // an option of the app's own that takes a value: skip the value too
                if (word.find('=') == std::string::npos)
                    if (const CLI::Option* o = app.get_option_no_throw(word);
                        o && o->get_type_size() != 0 && i + 1 < argc)
                        ++i;
                continue;
            }
            bool known = false;
            std::string names;
            for (CLI::App* sub : app.get_subcommands({})) {
                known |= sub->check_name(word);
                names += (names.empty() ? "" : ", ") + sub->get_name();
            }
            if (!known) {
                std::string program = argv[0];
                program = program.substr(program.rfind('/') + 1);
                fmt::print(stderr, "{}: unknown command '{}' (commands: {}; see --help)\n", program,
                           word, names);
                return kExitUsage;
            }
            break;
        }
    }
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

// For string options: an empty value is refused, never taken to mean the default
// (`--control-socket ''` used to mean the default socket, `--dump-flows ''` no dump).
inline const CLI::Validator& non_empty() {
    static const CLI::Validator v(
        [](std::string& value) {
            return value.empty() ? std::string("must not be empty") : std::string();
        },
        "", "NonEmpty");
    return v;
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

// An option taking a size in bytes (K, M, G suffixes: powers of 1024) within [min, max],
// refused as add_bounded refuses a number: naming the option, the range and what was given.
inline CLI::Option* add_size(CLI::App* app, const std::string& names, uint32_t& value, uint32_t min,
                             uint32_t max, const std::string& help) {
    auto* option = app->add_option(
        names,
        [&value, min, max, names](const CLI::results_t& results) {
            std::string text = results.back();
            std::optional<uint32_t> parsed;
            try {
                std::string bytes = text;
                if (CLI::AsSizeValue(false)(bytes).empty())
                    parsed = parse_bounded<uint32_t>(bytes, min, max);
            } catch (const CLI::ValidationError&) {  // not a number, or beyond 64 bits
            }
            if (!parsed)
                throw CLI::ValidationError(
                    names, fmt::format("must be a size from {} to {} bytes (K, M, G suffixes), "
                                       "not '{}'",
                                       min, max, text));
            value = *parsed;
            return true;
        },
        fmt::format("{} [{}-{}]", help, min, max));
    option->type_name("SIZE");
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
            // decimal only: strtod would also take hex floats (0x3), inf and nan
            const bool decimal =
                !text.empty() && text.find_first_not_of("0123456789.eE+-") == std::string::npos;
            double v = decimal ? std::strtod(text.c_str(), &end) : NAN;
            if (!decimal || end != text.c_str() + text.size() || !std::isfinite(v) || v < min ||
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

// Columns available for a table on standard output: the terminal's width when stdout is
// a terminal, else $COLUMNS when set to a number, else 80.
inline unsigned output_width() {
    struct winsize ws {};
    if (::isatty(STDOUT_FILENO) && ::ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
        return ws.ws_col;
    if (const char* columns = std::getenv("COLUMNS"))
        if (auto v = parse_bounded<unsigned>(columns, 1, 100000)) return *v;
    return 80;
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

// What every Weft command line shares: CLI11 parsing with Weft's exit codes, and a
// progress line on stderr. Header-only; used by the thin main()s in tools/.
#pragma once

#include <fmt/format.h>
#include <unistd.h>
#include <CLI/CLI.hpp>

#include <optional>
#include <string>

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

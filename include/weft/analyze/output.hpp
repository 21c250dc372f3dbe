// Reports to a file descriptor with every write checked: a report cut short by a full
// disk or a closed pipe must fail loudly, not exit 0 with half a document.
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>

namespace weft::analyze {

class OutputError : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

class FdOutput {
  public:
    // `name` is how errors call the output (a path, or "standard output").
    FdOutput(int fd, std::string name) : fd_(fd), name_(std::move(name)) {}
    // Writes all of `text` (retrying short writes and EINTR), or throws OutputError
    // "NAME: OS error".
    void write(std::string_view text);
    const std::string& name() const { return name_; }

  private:
    int fd_;
    std::string name_;
};

// "standard output (/dev/full)": what fd 1 is, for error messages.
std::string describe_stdout();

}  // namespace weft::analyze

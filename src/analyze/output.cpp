#include "weft/analyze/output.hpp"

#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace weft::analyze {

void FdOutput::write(std::string_view text) {
    while (!text.empty()) {
        ssize_t n = ::write(fd_, text.data(), text.size());
        if (n < 0) {
            if (errno == EINTR) continue;
            throw OutputError(name_ + ": " + std::strerror(errno));
        }
        if (n == 0) throw OutputError(name_ + ": write returned 0 bytes");
        text.remove_prefix(size_t(n));
    }
}

std::string describe_stdout() {
    char target[4096];
    ssize_t n = ::readlink("/proc/self/fd/1", target, sizeof target - 1);
    if (n <= 0) return "standard output";
    return "standard output (" + std::string(target, size_t(n)) + ")";
}

}  // namespace weft::analyze

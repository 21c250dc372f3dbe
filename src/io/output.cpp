#include "weft/io/output.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <vector>

namespace weft::io {

namespace {

constexpr size_t kBufferBytes = 64 * 1024;

std::string os_error_text(const std::string& name, int e) {
    return name + ": " + std::strerror(e);
}

// Why a file system object cannot be written through, or "" when it can: regular files
// this user owns, and character devices (/dev/null: only root can make one). Never a
// symbolic link, a FIFO or socket (anyone can make one in /tmp and read what we write)
// or a directory.
std::string refuse_existing(const struct stat& st) {
    if (S_ISLNK(st.st_mode))
        return "is a symbolic link; refusing to write through it (standard output is '-')";
    if (S_ISCHR(st.st_mode)) return "";
    if (!S_ISREG(st.st_mode)) return "exists and is not a regular file; refusing to write to it";
    if (st.st_uid != ::geteuid())
        return "is owned by user " + std::to_string(st.st_uid) +
               ", not by this program's user; refusing to write to it";
    return "";
}

}  // namespace

void write_all(int fd, std::string_view text, const std::string& name) {
    while (!text.empty()) {
        ssize_t n = ::write(fd, text.data(), text.size());
        if (n < 0) {
            if (errno == EINTR) continue;
            const int e = errno;
            throw OutputError(os_error_text(name, e), e);
        }
        if (n == 0) throw OutputError(name + ": write returned 0 bytes", EIO);
        text.remove_prefix(size_t(n));
    }
}

bool same_file(const std::string& a, const std::string& b) {
    if (a.empty() || b.empty() || a == "-" || b == "-") return false;
    if (a == b) return true;
    struct stat sa, sb;
    return ::stat(a.c_str(), &sa) == 0 && ::stat(b.c_str(), &sb) == 0 && sa.st_dev == sb.st_dev &&
           sa.st_ino == sb.st_ino;
}

std::string describe_stdout() {
    char target[4096];
    ssize_t n = ::readlink("/proc/self/fd/1", target, sizeof target - 1);
    if (n <= 0) return "standard output";
    return "standard output (" + std::string(target, size_t(n)) + ")";
}

OutputFile::OutputFile(const std::string& path, Mode mode) : path_(path), name_(path), mode_(mode) {
    if (path.empty()) throw OutputError("an output path is empty");
    buffer_.reserve(kBufferBytes);
    if (path == "-") {
        fd_ = STDOUT_FILENO;
        name_ = describe_stdout();
        return;
    }
    if (mode == Mode::replace)
        open_replace();
    else
        open_append();
}

void OutputFile::fail(const std::string& what, int os_error) {
    throw OutputError(path_ + ": " + what, os_error);
}

void OutputFile::open_replace() {
    struct stat st;
    if (::lstat(path_.c_str(), &st) == 0) {
        if (std::string why = refuse_existing(st); !why.empty()) fail(why, 0);
        // A device (/dev/null) is written in place: it cannot be renamed over.
        if (S_ISCHR(st.st_mode)) {
            open_append();
            return;
        }
    } else if (errno != ENOENT) {
        const int e = errno;
        fail(std::strerror(e), e);
    }
    // The temporary file: in the same directory (rename must not cross file systems),
    // hidden, created exclusively with a random name (mkstemp: O_EXCL, mode 0600), so
    // nothing planted in advance can be it.
    const size_t slash = path_.rfind('/');
    const std::string dir = slash == std::string::npos ? "." : path_.substr(0, slash + 1);
    const std::string base = slash == std::string::npos ? path_ : path_.substr(slash + 1);
    if (base.empty()) fail("names a directory, not a file", EISDIR);
    std::string temp = (slash == std::string::npos ? "" : dir) + "." + base + ".weft-XXXXXX";
    std::vector<char> name(temp.begin(), temp.end());
    name.push_back('\0');
    fd_ = ::mkostemp(name.data(), O_CLOEXEC);
    if (fd_ < 0) {
        const int e = errno;
        // ENOENT here is the directory: say so, with the directory's name
        fail(e == ENOENT ? "directory " + dir + " does not exist" : std::strerror(e), e);
    }
    temp_path_ = name.data();
}

void OutputFile::open_append() {
    // Looked at first, so a FIFO or device is named as such (opening one can fail with
    // its own error, or block); the descriptor is checked again below, since the path
    // may change between the two.
    struct stat before;
    if (::lstat(path_.c_str(), &before) == 0)
        if (std::string why = refuse_existing(before); !why.empty()) fail(why, 0);
    // O_NOFOLLOW: a symbolic link at the path is refused (ELOOP), not written through.
    // O_NONBLOCK: a FIFO at the path must not block the open; it is refused below.
    fd_ = ::open(path_.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC,
                 0600);
    if (fd_ < 0) {
        const int e = errno;
        if (e == ELOOP) fail("is a symbolic link; refusing to write through it", e);
        if (e == ENOENT) fail("its directory does not exist", e);
        fail(std::strerror(e), e);
    }
    struct stat st;
    if (::fstat(fd_, &st) != 0) {
        const int e = errno;
        ::close(fd_);
        fd_ = -1;
        fail(std::strerror(e), e);
    }
    if (std::string why = refuse_existing(st); !why.empty()) {
        ::close(fd_);
        fd_ = -1;
        fail(why, 0);
    }
    const int flags = ::fcntl(fd_, F_GETFL);
    if (flags >= 0) ::fcntl(fd_, F_SETFL, flags & ~O_NONBLOCK);
}

OutputFile::~OutputFile() {
    if (fd_ >= 0 && !is_stdout()) ::close(fd_);
    if (!temp_path_.empty() && !committed_) ::unlink(temp_path_.c_str());
}

void OutputFile::write(std::string_view text) {
    if (fd_ < 0) throw OutputError(name_ + ": write after close");
    if (buffer_.size() + text.size() > kBufferBytes) {
        flush();
        if (text.size() >= kBufferBytes) {
            write_all(fd_, text, name_);
            return;
        }
    }
    buffer_.append(text);
}

bool OutputFile::reader_gone() const {
    if (fd_ < 0) return false;
    struct stat st;
    if (::fstat(fd_, &st) != 0 || !(S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode))) return false;
    // the write end of a pipe polls POLLERR once its read end is closed
    pollfd p{fd_, 0, 0};
    return ::poll(&p, 1, 0) == 1 && (p.revents & (POLLERR | POLLHUP)) != 0;
}

void OutputFile::flush() {
    if (buffer_.empty()) return;
    write_all(fd_, buffer_, name_);
    buffer_.clear();
}

void OutputFile::commit() {
    if (committed_) return;
    flush();
    if (is_stdout()) {
        committed_ = true;
        return;
    }
    // Data on disk before the name points at it: a crash must not leave an empty file
    // where the previous document was. (A device cannot be synced: EINVAL.)
    if (::fsync(fd_) != 0 && errno != EINVAL && errno != EROFS) {
        const int e = errno;
        fail(std::strerror(e), e);
    }
    if (::close(fd_) != 0) {
        const int e = errno;
        fd_ = -1;
        fail(std::strerror(e), e);
    }
    fd_ = -1;
    if (!temp_path_.empty()) {
        // rename replaces whatever is at the path now (a symbolic link planted since the
        // check included) without following it.
        if (::rename(temp_path_.c_str(), path_.c_str()) != 0) {
            const int e = errno;
            fail(std::strerror(e), e);
        }
        temp_path_.clear();
    }
    committed_ = true;
}

}  // namespace weft::io

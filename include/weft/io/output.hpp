// Where Weft's programs write: standard output or a file named by the operator. They run
// as root, so a file output is created the way trusted software must create it:
//  - never through a symbolic link planted at the path, never into anything but a regular
//    file (a device, FIFO or directory at the path is refused);
//  - new files are mode 0600 (flows and alerts are as private as the 0600 sockets);
//  - a file appended to must be owned by this user (not one another user left for us);
//  - opened before the work starts, so a bad path fails in the first millisecond, not
//    after an hour's run; every write checked, failures naming the path and the OS error.
#pragma once

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>

namespace weft::io {

class OutputError : public std::runtime_error {
  public:
    OutputError(const std::string& what, int os_error = 0)
        : std::runtime_error(what), os_error_(os_error) {}
    // errno of the failure (EPIPE: the reader went away), 0 when not an OS error
    int os_error() const { return os_error_; }

  private:
    int os_error_;
};

// Writes all of a text to a file descriptor (retrying short writes and EINTR), or throws
// OutputError "NAME: OS error".
void write_all(int fd, std::string_view text, const std::string& name);

// True when both paths name one existing file (same device and inode): an output must not
// be one of the program's own inputs, or another of its outputs.
bool same_file(const std::string& a, const std::string& b);

// "standard output (/dev/full)": what fd 1 is, for error messages.
std::string describe_stdout();

// An unbuffered, checked writer to a descriptor the caller owns (standard output).
class FdOutput {
  public:
    FdOutput(int fd, std::string name) : fd_(fd), name_(std::move(name)) {}
    void write(std::string_view text) { write_all(fd_, text, name_); }
    const std::string& name() const { return name_; }

  private:
    int fd_;
    std::string name_;
};

class OutputFile {
  public:
    enum class Mode {
        // A whole document: written to a temporary file beside the path (same directory,
        // so the same file system) and renamed over it by commit(). Readers never see
        // half a document; an abandoned one leaves nothing behind.
        replace,
        // A stream of records (alerts): appended to the path itself.
        append,
    };
    // "-" is standard output (not closed, not renamed). Throws OutputError.
    OutputFile(const std::string& path, Mode mode);
    ~OutputFile();  // an uncommitted replace removes its temporary file
    OutputFile(const OutputFile&) = delete;
    OutputFile& operator=(const OutputFile&) = delete;

    // Buffered; every write(2) checked. Throws OutputError.
    void write(std::string_view text);
    // Flushes, syncs and (replace) renames into place. Throws OutputError.
    void commit();
    // Flushes the buffer (a stream of lines: each line reaches the reader promptly).
    void flush();

    // True when the output is a pipe or socket whose reader went away (`| head -1` that
    // has its line): a writer with nothing to write for a while can stop then, instead of
    // learning it only at its next write.
    bool reader_gone() const;

    // For writers that need a descriptor of their own (libpcap's dumper): the file being
    // written (the temporary file for replace). Flush first if write() was used too.
    int fd() const { return fd_; }
    bool is_stdout() const { return path_ == "-"; }
    // What errors call it: the path, or "standard output (...)".
    const std::string& name() const { return name_; }

  private:
    void open_replace();
    void open_append();
    [[noreturn]] void fail(const std::string& what, int os_error);

    std::string path_;
    std::string name_;
    std::string temp_path_;  // replace: the temporary file until commit()
    Mode mode_;
    int fd_ = -1;
    bool committed_ = false;
    std::string buffer_;
};

}  // namespace weft::io

// io::OutputFile: how every Weft program creates its output files as root.
#include "weft/io/output.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

namespace weft::io {
namespace {

namespace fs = std::filesystem;

class Scratch {
  public:
    Scratch() {
        char tmpl[] = "/tmp/weft-output-test-XXXXXX";
        dir_ = ::mkdtemp(tmpl);
    }
    ~Scratch() {
        std::error_code ec;
        fs::remove_all(dir_, ec);
    }
    std::string path(const std::string& name) const { return (dir_ / name).string(); }
    size_t entries() const {
        return size_t(std::distance(fs::directory_iterator(dir_), fs::directory_iterator()));
    }

  private:
    fs::path dir_;
};

std::string read(const std::string& path) {
    std::ifstream f(path);
    return std::string(std::istreambuf_iterator<char>(f), {});
}

std::string error_of(const std::string& path, OutputFile::Mode mode) {
    try {
        OutputFile out(path, mode);
        return "";
    } catch (const OutputError& e) {
        return e.what();
    }
}

constexpr auto kReplace = OutputFile::Mode::replace;
constexpr auto kAppend = OutputFile::Mode::append;

TEST(OutputFile, ReplaceAppearsOnlyOnCommitWithMode0600) {
    Scratch s;
    const std::string path = s.path("flows.json");
    {
        OutputFile out(path, kReplace);
        out.write("{\"a\":1}\n");
        EXPECT_FALSE(fs::exists(path));
        out.commit();
    }
    EXPECT_EQ(read(path), "{\"a\":1}\n");
    EXPECT_EQ(fs::status(path).permissions() & fs::perms::all,
              fs::perms::owner_read | fs::perms::owner_write);
    {
        OutputFile out(path, kReplace);
        out.write("partial");
    }  // never committed: the previous document stays, no temporary file is left
    EXPECT_EQ(read(path), "{\"a\":1}\n");
    EXPECT_EQ(s.entries(), 1u);
}

TEST(OutputFile, NeitherModeWritesThroughASymbolicLink) {
    Scratch s;
    const std::string target = s.path("victim"), link = s.path("out");
    std::ofstream(target) << "precious";
    fs::create_symlink(target, link);
    for (auto mode : {kReplace, kAppend}) {
        const std::string error = error_of(link, mode);
        EXPECT_EQ(error, link +
                             ": is a symbolic link; refusing to write through it (standard "
                             "output is '-')");
    }
    EXPECT_EQ(read(target), "precious");
    // a dangling link too: it would create the file wherever it points
    fs::remove(link);
    fs::create_symlink(s.path("elsewhere"), link);
    for (auto mode : {kReplace, kAppend})
        EXPECT_NE(error_of(link, mode).find("symbolic link"), std::string::npos);
    EXPECT_FALSE(fs::exists(s.path("elsewhere")));
}

TEST(OutputFile, RefusesWhatIsNotARegularFile) {
    Scratch s;
    const std::string fifo = s.path("fifo");
    ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
    fs::create_directory(s.path("dir"));
    for (auto mode : {kReplace, kAppend}) {
        EXPECT_EQ(error_of(fifo, mode),
                  fifo + ": exists and is not a regular file; refusing to write to it");
        EXPECT_NE(error_of(s.path("dir"), mode).find("dir: "), std::string::npos);
    }
    // a character device only root can make: /dev/null is a fine place for output
    for (auto mode : {kReplace, kAppend}) {
        OutputFile out("/dev/null", mode);
        out.write("discarded");
        out.commit();
    }
}

TEST(OutputFile, AMissingDirectoryIsNamedBeforeAnyWork) {
    Scratch s;
    const std::string path = s.path("missing/out.json");
    EXPECT_EQ(error_of(path, kReplace),
              path + ": directory " + s.path("missing/") + " does not exist");
    EXPECT_EQ(error_of(path, kAppend), path + ": its directory does not exist");
}

TEST(OutputFile, AppendKeepsWhatIsThereAndRefusesAnotherUsersFile) {
    Scratch s;
    const std::string path = s.path("alerts.jsonl");
    for (const char* line : {"one\n", "two\n"}) {
        OutputFile out(path, kAppend);
        out.write(line);
        out.commit();
    }
    EXPECT_EQ(read(path), "one\ntwo\n");
    EXPECT_EQ(fs::status(path).permissions() & fs::perms::all,
              fs::perms::owner_read | fs::perms::owner_write);
    if (::geteuid() != 0) GTEST_SKIP() << "chown to another user needs root";
    ASSERT_EQ(::chown(path.c_str(), 65534, 65534), 0);
    EXPECT_EQ(
        error_of(path, kAppend),
        path + ": is owned by user 65534, not by this program's user; refusing to write to it");
    EXPECT_EQ(
        error_of(path, kReplace),
        path + ": is owned by user 65534, not by this program's user; refusing to write to it");
}

TEST(OutputFile, AFailedWriteNamesTheFileAndTheOsError) {
    // The buffer is flushed when full and at commit(); the error carries errno for callers
    // that treat a closed pipe (EPIPE) as the end of their reader.
    int fds[2];
    ASSERT_EQ(::pipe(fds), 0);
    ::close(fds[0]);
    const int saved = ::dup(STDOUT_FILENO);
    ::dup2(fds[1], STDOUT_FILENO);
    ::close(fds[1]);
    auto old = std::signal(SIGPIPE, SIG_IGN);
    int os_error = 0;
    try {
        OutputFile out("-", kReplace);
        out.write("x");
        out.commit();
    } catch (const OutputError& e) {
        os_error = e.os_error();
    }
    std::signal(SIGPIPE, old);
    ::dup2(saved, STDOUT_FILENO);
    ::close(saved);
    EXPECT_EQ(os_error, EPIPE);
}

}  // namespace
}  // namespace weft::io

// weft.control/1, both ends: filters survive the trip, bad filters and requests are
// refused with a reason, the listening socket is 0600, a leftover socket file is replaced
// and a live one is not, and a client call gets the server's reply or a clear error.
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "weft/ipc/protocol.hpp"

namespace weft::ipc {
namespace {

std::string temp_socket(const char* name) {
    return (std::filesystem::temp_directory_path() /
            (std::string("weft-test-") + std::to_string(::getpid()) + "-" + name + ".sock"))
        .string();
}

TEST(ControlFilter, RoundTrips) {
    flow::FlowFilter f;
    f.hosts = {*roce::IpAddress::parse("10.0.0.1"), *roce::IpAddress::parse("fd00::2")};
    f.dest_qp = 0x123456;
    f.top = 7;
    f.sort = flow::FlowFilter::SortKey::Naks;
    flow::FlowFilter back;
    ASSERT_EQ(filter_from_json(filter_to_json(f), back), "");
    EXPECT_EQ(back.hosts, f.hosts);
    EXPECT_EQ(back.dest_qp, f.dest_qp);
    EXPECT_EQ(back.top, 7u);
    EXPECT_EQ(back.sort, flow::FlowFilter::SortKey::Naks);
}

TEST(ControlFilter, RefusesWhatIsWrong) {
    flow::FlowFilter f;
    using nlohmann::json;
    EXPECT_NE(filter_from_json(json::array(), f), "");
    EXPECT_NE(filter_from_json({{"hosts", {"10.0.0.300"}}}, f).find("not an IP"),
              std::string::npos);
    EXPECT_NE(filter_from_json({{"dest_qp", 1 << 24}}, f).find("24-bit"), std::string::npos);
    EXPECT_NE(filter_from_json({{"dest_qp", -1}}, f), "");
    EXPECT_NE(filter_from_json({{"sort", "age"}}, f).find("filter.sort"), std::string::npos);
    EXPECT_NE(filter_from_json({{"colour", "red"}}, f).find("unknown key"), std::string::npos);
}

TEST(ControlListener, IsPrivateAndReplacesOnlyLeftovers) {
    std::string path = temp_socket("listener");
    {
        Listener l(path);
        struct stat st {};
        ASSERT_EQ(::stat(path.c_str(), &st), 0);
        EXPECT_TRUE(S_ISSOCK(st.st_mode));
        EXPECT_EQ(st.st_mode & 0777, 0600u);
        // a second listener on a live socket is an error that says why
        try {
            Listener other(path);
            FAIL() << "a live socket was taken over";
        } catch (const ControlError& e) {
            EXPECT_NE(std::string(e.what()).find("in use by another weftd"), std::string::npos);
        }
    }
    EXPECT_FALSE(std::filesystem::exists(path)) << "the socket file goes with the listener";

    // a leftover socket file (bound, never listened on, then abandoned) is replaced
    int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::strcpy(a.sun_path, path.c_str());
    ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    ::close(fd);
    ASSERT_TRUE(std::filesystem::exists(path));
    {
        Listener l(path);
        EXPECT_GE(l.fd(), 0);
    }

    // anything else at the path is refused and kept: a regular file, a symbolic link
    { std::ofstream(path) << "precious"; }
    try {
        Listener l(path);
        ADD_FAILURE() << "a regular file was replaced";
    } catch (const ControlError& e) {
        EXPECT_NE(std::string(e.what()).find("is not a socket (a regular file)"), std::string::npos)
            << e.what();
    }
    EXPECT_TRUE(std::filesystem::is_regular_file(path));
    std::filesystem::remove(path);
    std::filesystem::create_symlink("/etc/hostname", path);
    EXPECT_THROW(Listener{path}, ControlError);
    EXPECT_TRUE(std::filesystem::is_symlink(path));
    std::filesystem::remove(path);
}

TEST(ControlCall, GetsTheReplyOrAClearError) {
    std::string path = temp_socket("call");
    Listener l(path);
    std::thread server([&] {
        for (int i = 0; i < 3; ++i) {
            int c = -1;
            while ((c = ::accept(l.fd(), nullptr, nullptr)) < 0) std::this_thread::yield();
            nlohmann::json reply;
            try {
                nlohmann::json req = read_request(c, std::chrono::seconds(2));
                reply = req.value("command", "") == "status"
                            ? nlohmann::json{{"schema", "weft.status/1"}, {"echo", req}}
                            : error_reply("unknown command");
            } catch (const ControlError& e) {
                reply = error_reply(e.what());
            }
            write_reply(c, reply);
            ::close(c);
        }
    });
    auto reply = call(path, make_request("status", false));
    EXPECT_EQ(reply["schema"], "weft.status/1");
    EXPECT_EQ(reply["echo"]["format"], "json");
    try {
        call(path, make_request("reboot", true));
        FAIL() << "an error reply must throw";
    } catch (const ControlError& e) {
        EXPECT_NE(std::string(e.what()).find("unknown command"), std::string::npos);
    }
    // a request that is not JSON
    {
        int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
        sockaddr_un a{};
        a.sun_family = AF_UNIX;
        std::strcpy(a.sun_path, path.c_str());
        ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
        ASSERT_EQ(::write(fd, "status\n", 7), 7);
        char buf[512] = {};
        ssize_t n = ::read(fd, buf, sizeof buf - 1);
        ASSERT_GT(n, 0);
        EXPECT_NE(std::string(buf).find("not a JSON object"), std::string::npos) << buf;
        ::close(fd);
    }
    server.join();
    try {
        call(temp_socket("nobody"), make_request("status", false));
        FAIL() << "no server: must throw";
    } catch (const ControlError& e) {
        EXPECT_NE(std::string(e.what()).find("cannot reach weftd"), std::string::npos);
    }
}

}  // namespace
}  // namespace weft::ipc

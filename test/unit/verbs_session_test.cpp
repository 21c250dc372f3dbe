// weft-verbs' side channel: the session wire format (encode/decode, every refusal) and
// the TCP channel over loopback (deadlines, a silent or vanished peer, lying lengths).
// The RDMA half runs for real in the softroce suite; these need no RDMA device.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "weft/roce/bytes.hpp"
#include "weft/verbs/devices.hpp"
#include "weft/verbs/side_channel.hpp"
#include "weft/verbs/traffic.hpp"

namespace weft::verbs {
namespace {

Hello sample_hello() {
    Hello h;
    h.plan.pattern = Pattern::inference;
    h.plan.qps = 3;
    h.plan.mtu = 1024;
    h.plan.iterations = 77;
    h.plan.read_every = 2;
    h.endpoint.gid = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 99, 0, 2};
    h.endpoint.mtu = 4096;
    h.endpoint.buffer_addr = 0x7f0012345000;
    h.endpoint.buffer_bytes = 1 << 20;
    h.endpoint.rkey = 0xabcdef01;
    h.endpoint.qps = {{0x11, 0xffffff}, {0x12, 0}, {0xffffff, 7}};
    return h;
}

TEST(SessionCodec, HelloRoundTrips) {
    Hello h = sample_hello();
    std::vector<uint8_t> body = encode_hello(h);
    Message m;
    std::string error;
    ASSERT_TRUE(decode(body, m, error)) << error;
    EXPECT_EQ(m.type, MessageType::hello);
    EXPECT_EQ(m.hello.plan.pattern, Pattern::inference);
    EXPECT_EQ(m.hello.plan.qps, 3);
    EXPECT_EQ(m.hello.plan.mtu, 1024);
    EXPECT_EQ(m.hello.plan.iterations, 77u);
    EXPECT_EQ(m.hello.plan.read_every, 2u);
    EXPECT_EQ(m.hello.plan.response_bytes, h.plan.response_bytes);
    EXPECT_EQ(m.hello.endpoint.gid, h.endpoint.gid);
    EXPECT_EQ(m.hello.endpoint.buffer_addr, h.endpoint.buffer_addr);
    EXPECT_EQ(m.hello.endpoint.rkey, h.endpoint.rkey);
    ASSERT_EQ(m.hello.endpoint.qps.size(), 3u);
    EXPECT_EQ(m.hello.endpoint.qps[2].qpn, 0xffffffu);
    EXPECT_EQ(m.hello.endpoint.qps[0].psn, 0xffffffu);
    EXPECT_EQ(encode_hello(m.hello), body);
}

TEST(SessionCodec, OtherMessagesRoundTrip) {
    Message m;
    std::string error;
    ASSERT_TRUE(decode(encode_welcome(sample_hello().endpoint), m, error)) << error;
    EXPECT_EQ(m.type, MessageType::welcome);
    EXPECT_EQ(m.endpoint.qps.size(), 3u);
    ASSERT_TRUE(decode(encode_ready(), m, error)) << error;
    EXPECT_EQ(m.type, MessageType::ready);
    Outcome o{1, 2, 3, 4, 5};
    ASSERT_TRUE(decode(encode_outcome(o), m, error)) << error;
    EXPECT_EQ(m.outcome.operations_sent, 1u);
    EXPECT_EQ(m.outcome.bytes_received, 4u);
    EXPECT_EQ(m.outcome.errors, 5u);
    ASSERT_TRUE(decode(encode_abort("transport retry counter exceeded"), m, error)) << error;
    EXPECT_EQ(m.reason, "transport retry counter exceeded");
}

TEST(SessionCodec, EveryTruncationIsRefusedWithAReason) {
    for (const auto& body : {encode_hello(sample_hello()), encode_outcome({}), encode_abort("x")}) {
        for (size_t n = 0; n < body.size(); ++n) {
            Message m;
            std::string error;
            EXPECT_FALSE(decode(std::span(body.data(), n), m, error)) << "prefix " << n;
            EXPECT_FALSE(error.empty());
        }
    }
}

TEST(SessionCodec, RefusesWhatIsNotOurs) {
    Message m;
    std::string error;
    std::vector<uint8_t> body = encode_ready();
    body.push_back(0);
    EXPECT_FALSE(decode(body, m, error));
    EXPECT_NE(error.find("unexpected bytes"), std::string::npos) << error;

    body = encode_ready();
    body[0] ^= 1;
    EXPECT_FALSE(decode(body, m, error));
    EXPECT_NE(error.find("magic"), std::string::npos);

    body = encode_ready();
    roce::store_be16(&body[4], kSessionVersion + 1);
    EXPECT_FALSE(decode(body, m, error));
    EXPECT_NE(error.find("version"), std::string::npos);

    body = encode_ready();
    body[6] = 99;
    EXPECT_FALSE(decode(body, m, error));
    EXPECT_NE(error.find("type"), std::string::npos);

    std::vector<uint8_t> huge(kMaxMessageBytes + 1, 0);
    EXPECT_FALSE(decode(huge, m, error));
}

TEST(SessionCodec, RefusesImpossibleEndpoints) {
    Message m;
    std::string error;
    Endpoint e = sample_hello().endpoint;
    e.qps.clear();
    EXPECT_FALSE(decode(encode_welcome(e), m, error));
    EXPECT_NE(error.find("QPs"), std::string::npos);
    e.qps.assign(kMaxQps + 1, {1, 1});
    EXPECT_FALSE(decode(encode_welcome(e), m, error));
    e.qps.assign(1, {0x1000000, 1});  // 25 bits
    EXPECT_FALSE(decode(encode_welcome(e), m, error));
    EXPECT_NE(error.find("24 bits"), std::string::npos);
    // a QP count that promises more entries than the message holds
    e = sample_hello().endpoint;
    std::vector<uint8_t> body = encode_welcome(e);
    body.resize(body.size() - 8);
    EXPECT_FALSE(decode(body, m, error));
}

TEST(SessionPlan, ValidateExplainsEachLimit) {
    SessionPlan p;
    EXPECT_EQ(validate(p), "");
    p.qps = 0;
    EXPECT_NE(validate(p), "");
    p = {};
    p.mtu = 1500;
    EXPECT_NE(validate(p).find("MTU"), std::string::npos);
    p = {};
    p.iterations = 0;
    EXPECT_NE(validate(p), "");
    p = {};
    p.message_bytes = 8;  // no room for the payload tags
    EXPECT_NE(validate(p), "");
    p = {};
    p.message_bytes = kMaxTransferBytes;
    p.qps = 4;  // 4 x 1 GiB x 2 buffers
    EXPECT_NE(validate(p).find("4 GiB"), std::string::npos);
    p = {};
    p.pattern = Pattern::inference;
    p.read_every = 0;
    p.read_bytes = 0;  // no READs: the size does not matter
    EXPECT_EQ(validate(p), "");
    p.read_every = 1;
    EXPECT_NE(validate(p), "");
    p = {};
    p.pattern = Pattern(9);
    EXPECT_NE(validate(p).find("pattern"), std::string::npos);
    EXPECT_EQ(pattern_from_name("gradient"), Pattern::gradient);
    EXPECT_EQ(pattern_from_name("inference"), Pattern::inference);
    EXPECT_FALSE(pattern_from_name("allreduce"));
}

// The seeds of the session fuzz target are real encoder output: they must still decode
// and re-encode byte for byte, or the corpus has gone stale.
TEST(SessionCodec, FuzzSeedsAreCurrent) {
    namespace fs = std::filesystem;
    fs::path dir = fs::path(WEFT_SOURCE_ROOT) / "test" / "fuzz" / "corpus-session";
    size_t seen = 0;
    for (const auto& f : fs::directory_iterator(dir)) {
        std::ifstream in(f.path(), std::ios::binary);
        std::vector<uint8_t> body((std::istreambuf_iterator<char>(in)), {});
        Message m;
        std::string error;
        EXPECT_TRUE(decode(body, m, error)) << f.path() << ": " << error;
        ++seen;
    }
    EXPECT_GE(seen, 5u);
}

TEST(Latency, NearestRankPercentiles) {
    std::vector<double> v;
    for (int i = 1000; i >= 1; --i) v.push_back(i);
    LatencySummary s = summarize_latency(v);
    EXPECT_EQ(s.samples, 1000u);
    EXPECT_DOUBLE_EQ(s.p50_us, 500);
    EXPECT_DOUBLE_EQ(s.p99_us, 990);
    EXPECT_DOUBLE_EQ(s.p999_us, 999);
    EXPECT_DOUBLE_EQ(s.max_us, 1000);
    EXPECT_DOUBLE_EQ(s.mean_us, 500.5);
    std::vector<double> one{42};
    s = summarize_latency(one);
    EXPECT_DOUBLE_EQ(s.p50_us, 42);
    EXPECT_DOUBLE_EQ(s.p999_us, 42);
    std::vector<double> none;
    EXPECT_EQ(summarize_latency(none).samples, 0u);
}

// --- the TCP side channel over loopback ----------------------------------------------

uint16_t free_port() {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
    socklen_t len = sizeof a;
    getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    close(fd);
    return ntohs(a.sin_port);
}

TEST(SideChannel, ClientRetriesUntilTheServerListens) {
    uint16_t port = free_port();
    auto deadline = Clock::now() + std::chrono::seconds(10);
    std::thread server([&] {
        std::this_thread::sleep_for(std::chrono::milliseconds(500));  // client starts first
        SideChannel s = SideChannel::accept_one("127.0.0.1", port, deadline);
        Message m = s.receive(deadline);
        EXPECT_EQ(m.type, MessageType::hello);
        s.send(encode_welcome(m.hello.endpoint));
    });
    SideChannel c = SideChannel::connect_to("127.0.0.1", port, deadline);
    c.send(encode_hello(sample_hello()));
    Message w = c.receive(deadline);
    EXPECT_EQ(w.type, MessageType::welcome);
    EXPECT_EQ(w.endpoint.rkey, sample_hello().endpoint.rkey);
    server.join();
}

// A peer that finishes first sends its outcome while this side still polls its CQ: the
// busy loop's look at the channel must keep that message for the receive that follows.
TEST(SideChannel, CheckPeerKeepsAnEarlyMessage) {
    uint16_t port = free_port();
    auto deadline = Clock::now() + std::chrono::seconds(10);
    std::thread peer([&] {
        SideChannel c = SideChannel::connect_to("127.0.0.1", port, deadline);
        c.send(encode_outcome({7, 8, 9, 10, 0}));
        Message m = c.receive(deadline);  // wait for ours before closing
        EXPECT_EQ(m.type, MessageType::ready);
    });
    SideChannel s = SideChannel::accept_one("127.0.0.1", port, deadline);
    for (int i = 0; i < 100; ++i) {
        s.check_peer(deadline);
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    Message m = s.receive(deadline);
    EXPECT_EQ(m.type, MessageType::outcome);
    EXPECT_EQ(m.outcome.operations_sent, 7u);
    s.send(encode_ready());
    peer.join();
}

TEST(SideChannel, ConnectGivesUpAtTheDeadline) {
    uint16_t port = free_port();
    auto start = Clock::now();
    EXPECT_THROW(SideChannel::connect_to("127.0.0.1", port, start + std::chrono::milliseconds(600)),
                 VerbsError);
    EXPECT_LT(Clock::now() - start, std::chrono::seconds(3));
}

TEST(SideChannel, AcceptGivesUpAtTheDeadline) {
    auto start = Clock::now();
    EXPECT_THROW(
        SideChannel::accept_one("127.0.0.1", free_port(), start + std::chrono::milliseconds(300)),
        VerbsError);
    EXPECT_LT(Clock::now() - start, std::chrono::seconds(3));
}

// Every address only when named: an empty bind address is refused, not taken as "all".
TEST(SideChannel, ListensOnlyWhereTold) {
    // refused at once, not after listening everywhere until the deadline
    std::string what;
    try {
        SideChannel::accept_one("", free_port(), Clock::now() + std::chrono::milliseconds(300));
    } catch (const VerbsError& e) {
        what = e.what();
    }
    EXPECT_NE(what.find("no address to listen on"), std::string::npos) << what;
    EXPECT_TRUE(binds_every_address("0.0.0.0"));
    EXPECT_TRUE(binds_every_address("::"));
    EXPECT_FALSE(binds_every_address("127.0.0.1"));
    EXPECT_FALSE(binds_every_address("::1"));
    EXPECT_FALSE(binds_every_address(""));
}

// A raw peer that writes `bytes` then closes or stays silent.
void raw_peer(uint16_t port, std::vector<uint8_t> bytes, bool stay_silent) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    for (int i = 0; i < 100 && connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0; ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    if (!bytes.empty()) {
        ASSERT_EQ(write(fd, bytes.data(), bytes.size()), ssize_t(bytes.size()));
    }
    if (stay_silent) std::this_thread::sleep_for(std::chrono::milliseconds(800));
    close(fd);
}

std::string receive_error(std::vector<uint8_t> bytes, bool stay_silent) {
    uint16_t port = free_port();
    std::thread peer(raw_peer, port, bytes, stay_silent);
    std::string what;
    try {
        SideChannel s =
            SideChannel::accept_one("127.0.0.1", port, Clock::now() + std::chrono::seconds(5));
        s.receive(Clock::now() + std::chrono::milliseconds(300));
    } catch (const VerbsError& e) {
        what = e.what();
    }
    peer.join();
    return what;
}

TEST(SideChannel, RefusesALyingLength) {
    std::vector<uint8_t> frame(4);
    roce::store_be32(frame.data(), 0xfffffff0);
    EXPECT_NE(receive_error(frame, false).find("announced"), std::string::npos);
}

TEST(SideChannel, NamesAClosedOrSilentPeer) {
    EXPECT_NE(receive_error({}, false).find("closed"), std::string::npos);
    EXPECT_NE(receive_error({0, 0}, true).find("silent"), std::string::npos);
}

TEST(SideChannel, AbortCarriesThePeersReason) {
    std::vector<uint8_t> body = encode_abort("QP 0x11: remote access error");
    std::vector<uint8_t> frame(4);
    roce::store_be32(frame.data(), uint32_t(body.size()));
    frame.insert(frame.end(), body.begin(), body.end());
    EXPECT_NE(receive_error(frame, false).find("remote access error"), std::string::npos);
}

}  // namespace
}  // namespace weft::verbs

#include "weft/verbs/side_channel.hpp"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <thread>

#include "weft/roce/bytes.hpp"
#include "weft/verbs/devices.hpp"

namespace weft::verbs {

namespace {

int remaining_ms(Clock::time_point deadline) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    return left.count() <= 0 ? 0 : int(std::min<int64_t>(left.count(), 1 << 30));
}

std::string address_text(const sockaddr* sa) {
    char host[NI_MAXHOST], serv[NI_MAXSERV];
    socklen_t len = sa->sa_family == AF_INET6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in);
    if (getnameinfo(sa, len, host, sizeof host, serv, sizeof serv,
                    NI_NUMERICHOST | NI_NUMERICSERV) != 0)
        return "?";
    return sa->sa_family == AF_INET6 ? fmt::format("[{}]:{}", host, serv)
                                     : fmt::format("{}:{}", host, serv);
}

struct AddrInfo {
    addrinfo* list = nullptr;
    ~AddrInfo() {
        if (list) freeaddrinfo(list);
    }
};

void resolve(const std::string& host, uint16_t port, bool passive, AddrInfo& out) {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = passive ? AI_PASSIVE : 0;
    std::string serv = std::to_string(port);
    int rc = getaddrinfo(host.empty() ? nullptr : host.c_str(), serv.c_str(), &hints, &out.list);
    if (rc != 0)
        throw VerbsError(
            fmt::format("cannot resolve {}: {}", host.empty() ? "*" : host, gai_strerror(rc)));
}

void set_nodelay(int fd) {
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

}  // namespace

bool binds_every_address(const std::string& bind_address) {
    if (bind_address.empty()) return false;
    AddrInfo ai;
    resolve(bind_address, 0, true, ai);
    for (addrinfo* a = ai.list; a; a = a->ai_next) {
        if (a->ai_family == AF_INET &&
            reinterpret_cast<const sockaddr_in*>(a->ai_addr)->sin_addr.s_addr == htonl(INADDR_ANY))
            return true;
        if (a->ai_family == AF_INET6 &&
            IN6_IS_ADDR_UNSPECIFIED(&reinterpret_cast<const sockaddr_in6*>(a->ai_addr)->sin6_addr))
            return true;
    }
    return false;
}

SideChannel SideChannel::accept_one(const std::string& bind_address, uint16_t port,
                                    Clock::time_point deadline) {
    // The server hands its rkey and buffer address to whoever connects first: listening on
    // every address must be asked for by name (0.0.0.0, ::), never fall out of an empty one.
    if (bind_address.empty())
        throw VerbsError("no address to listen on (0.0.0.0 or :: for every address)");
    AddrInfo ai;
    resolve(bind_address, port, true, ai);
    int lfd = -1;
    std::string last_error;
    for (addrinfo* a = ai.list; a; a = a->ai_next) {
        lfd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
        if (lfd < 0) {
            last_error = std::strerror(errno);
            continue;
        }
        int one = 1, zero = 0;
        setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (a->ai_family == AF_INET6)  // so that "::" takes IPv4 peers as well
            setsockopt(lfd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
        if (bind(lfd, a->ai_addr, a->ai_addrlen) == 0 && listen(lfd, 1) == 0) break;
        last_error = std::strerror(errno);
        close(lfd);
        lfd = -1;
    }
    if (lfd < 0)
        throw VerbsError(
            fmt::format("cannot listen on {} TCP port {}: {}", bind_address, port, last_error));
    pollfd p{lfd, POLLIN, 0};
    int rc;
    do {
        rc = poll(&p, 1, remaining_ms(deadline));
    } while (rc < 0 && errno == EINTR && Clock::now() < deadline);
    if (rc <= 0) {
        close(lfd);
        throw VerbsError(fmt::format("no client connected to {} TCP port {} before the timeout",
                                     bind_address, port));
    }
    sockaddr_storage peer{};
    socklen_t len = sizeof peer;
    int fd = accept4(lfd, reinterpret_cast<sockaddr*>(&peer), &len, SOCK_CLOEXEC);
    int saved = errno;
    close(lfd);
    if (fd < 0) throw VerbsError(fmt::format("accept failed: {}", std::strerror(saved)));
    set_nodelay(fd);
    return SideChannel(fd, address_text(reinterpret_cast<sockaddr*>(&peer)));
}

SideChannel SideChannel::connect_to(const std::string& host, uint16_t port,
                                    Clock::time_point deadline) {
    std::string last_error = "timed out";
    while (true) {
        AddrInfo ai;
        resolve(host, port, false, ai);
        for (addrinfo* a = ai.list; a; a = a->ai_next) {
            int fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
            if (fd < 0) {
                last_error = std::strerror(errno);
                continue;
            }
            if (connect(fd, a->ai_addr, a->ai_addrlen) == 0) {
                set_nodelay(fd);
                return SideChannel(fd, address_text(a->ai_addr));
            }
            last_error = std::strerror(errno);
            close(fd);
        }
        if (Clock::now() + std::chrono::milliseconds(200) >= deadline) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    throw VerbsError(
        fmt::format("cannot connect to {} port {} before the timeout: {}", host, port, last_error));
}

SideChannel::~SideChannel() {
    if (fd_ >= 0) close(fd_);
}

void SideChannel::send(const std::vector<uint8_t>& body) {
    uint8_t len[4];
    roce::store_be32(len, uint32_t(body.size()));
    std::vector<uint8_t> frame(len, len + 4);
    frame.insert(frame.end(), body.begin(), body.end());
    size_t off = 0;
    while (off < frame.size()) {
        ssize_t n = ::send(fd_, frame.data() + off, frame.size() - off, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0)
            throw VerbsError(
                fmt::format("side channel to {}: send failed: {}", peer_, std::strerror(errno)));
        off += size_t(n);
    }
}

void SideChannel::read_exact(uint8_t* p, size_t n, Clock::time_point deadline) {
    while (n) {
        pollfd pfd{fd_, POLLIN, 0};
        int rc = poll(&pfd, 1, remaining_ms(deadline));
        if (rc < 0 && errno == EINTR) continue;
        if (rc == 0)
            throw VerbsError(
                fmt::format("side channel to {}: peer silent until the timeout", peer_));
        ssize_t got = recv(fd_, p, n, 0);
        if (got < 0 && errno == EINTR) continue;
        if (got == 0)
            throw VerbsError(fmt::format("side channel to {}: peer closed the connection", peer_));
        if (got < 0)
            throw VerbsError(fmt::format("side channel to {}: {}", peer_, std::strerror(errno)));
        p += got;
        n -= size_t(got);
    }
}

void SideChannel::check_peer(Clock::time_point deadline) {
    if (pending_) return;
    pollfd pfd{fd_, POLLIN, 0};
    if (poll(&pfd, 1, 0) > 0) pending_ = receive(deadline);
}

Message SideChannel::receive(Clock::time_point deadline) {
    if (pending_) {
        Message m = std::move(*pending_);
        pending_.reset();
        return m;
    }
    uint8_t len[4];
    read_exact(len, 4, deadline);
    uint32_t n = roce::load_be32(len);
    if (n > kMaxMessageBytes)
        throw VerbsError(fmt::format("side channel to {}: message of {} bytes announced (limit {})",
                                     peer_, n, kMaxMessageBytes));
    std::vector<uint8_t> body(n);
    read_exact(body.data(), n, deadline);
    Message m;
    std::string error;
    if (!decode(body, m, error))
        throw VerbsError(fmt::format("side channel to {}: {}", peer_, error));
    if (m.type == MessageType::abort)
        throw VerbsError(fmt::format("peer {} gave up: {}", peer_, m.reason));
    return m;
}

}  // namespace weft::verbs

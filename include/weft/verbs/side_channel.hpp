// The TCP connection over which weft-verbs' two sides exchange session messages
// (session.hpp) before, and after, the RDMA traffic. Every wait has a deadline: the
// client retries its connect until the server is up or the deadline passes, and a peer
// that goes quiet makes receive() fail instead of hanging.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "weft/verbs/session.hpp"

namespace weft::verbs {

using Clock = std::chrono::steady_clock;

// Whether listening on `bind_address` (a numeric address or a name) takes peers on every
// interface: it is, or resolves to, 0.0.0.0 or ::. Throws VerbsError when it cannot be
// resolved.
bool binds_every_address(const std::string& bind_address);

class SideChannel {
  public:
    // Listens on `bind_address:port` and accepts one peer. The address is required: every
    // address only when asked for by name ("0.0.0.0", or "::", which takes IPv4 as well);
    // "" throws.
    static SideChannel accept_one(const std::string& bind_address, uint16_t port,
                                  Clock::time_point deadline);
    // Connects to `host:port`, retrying every 200 ms until the deadline.
    static SideChannel connect_to(const std::string& host, uint16_t port,
                                  Clock::time_point deadline);

    SideChannel(SideChannel&& o) noexcept
        : fd_(o.fd_), peer_(std::move(o.peer_)), pending_(std::move(o.pending_)) {
        o.fd_ = -1;
    }
    SideChannel& operator=(SideChannel&&) = delete;
    ~SideChannel();

    void send(const std::vector<uint8_t>& body);
    // Receives and decodes one message; an abort from the peer, a closed connection, a
    // malformed message or the deadline all throw VerbsError with the reason.
    Message receive(Clock::time_point deadline);
    // For a busy RDMA loop: when a message (or the peer's close) is waiting, reads it
    // without blocking on an idle socket, so a peer that gave up is noticed at once
    // (abort and close throw as in receive()). Any other message is kept for the next
    // receive(): a peer that finished first may already have sent its outcome.
    void check_peer(Clock::time_point deadline);
    const std::string& peer() const { return peer_; }  // "address:port"

  private:
    SideChannel(int fd, std::string peer) : fd_(fd), peer_(std::move(peer)) {}
    void read_exact(uint8_t* p, size_t n, Clock::time_point deadline);
    int fd_;
    std::string peer_;
    std::optional<Message> pending_;
};

}  // namespace weft::verbs

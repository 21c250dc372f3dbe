// What weft-verbs' two sides tell each other over the TCP side channel before any RDMA
// moves: the client's traffic plan, and each side's endpoint (GID, QP numbers, starting
// PSNs, the buffer the peer may write or read and its rkey). This is the one definition
// of that wire format; both roles and the tests use it.
//
// Framing: a 4-byte big-endian body length, then the body. Every field is big-endian.
// Decoding never trusts a length: bodies above kMaxMessageBytes, QP counts above kMaxQps,
// sizes outside their limits and trailing bytes are all rejected with a reason.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace weft::verbs {

inline constexpr uint32_t kSessionMagic = 0x57465456;  // "WFTV"
inline constexpr uint16_t kSessionVersion = 1;
inline constexpr size_t kMaxMessageBytes = 64 * 1024;
inline constexpr uint16_t kMaxQps = 256;
inline constexpr uint32_t kMaxTransferBytes = 1u << 30;  // one RDMA message (IBA: 2^31)

enum class Pattern : uint8_t {
    // Several QPs; each iteration every QP carries one large RDMA WRITE with immediate in
    // each direction and both sides wait for the whole burst (a ring all-reduce step).
    gradient = 1,
    // Request/response SENDs (small request, medium response) with an RDMA READ of a
    // KV-cache-sized block every `read_every` requests; one request in flight per QP.
    inference = 2,
};

std::optional<Pattern> pattern_from_name(std::string_view name);
std::string_view pattern_name(Pattern p);

// The client's plan; the server adopts it, so a server needs no traffic flags.
struct SessionPlan {
    Pattern pattern = Pattern::gradient;
    uint16_t qps = 4;
    uint16_t mtu = 4096;        // requested path MTU in bytes; each side caps it at its port's
    uint32_t iterations = 100;  // gradient: bursts; inference: requests in all
    uint32_t message_bytes = 1u << 20;  // gradient: each RDMA WRITE with immediate
    uint32_t request_bytes = 512;       // inference
    uint32_t response_bytes = 16 * 1024;
    uint32_t read_bytes = 256 * 1024;  // inference: one KV-cache block
    uint32_t read_every = 4;           // inference: one READ per this many requests (0: none)
};

// Why a plan cannot run, or "" when it can.
std::string validate(const SessionPlan& plan);

struct QpEndpoint {
    uint32_t qpn = 0;  // 24 bits
    uint32_t psn = 0;  // 24 bits: the first PSN this side will send
};

struct Endpoint {
    std::array<uint8_t, 16> gid{};
    uint16_t mtu = 0;          // the largest path MTU this side's port allows
    uint64_t buffer_addr = 0;  // the region the peer may access remotely
    uint64_t buffer_bytes = 0;
    uint32_t rkey = 0;
    std::vector<QpEndpoint> qps;
};

struct Hello {  // client -> server
    SessionPlan plan;
    Endpoint endpoint;
};

// What each side reports when its traffic is done, so both can tell whether the other
// saw what it sent. Exchanged after the last completion.
struct Outcome {
    uint64_t operations_sent = 0;
    uint64_t operations_received = 0;
    uint64_t bytes_sent = 0;
    uint64_t bytes_received = 0;
    uint32_t errors = 0;  // completion errors and payload mismatches seen by this side
};

enum class MessageType : uint8_t { hello = 1, welcome = 2, ready = 3, outcome = 4, abort = 5 };

// Message bodies (without the 4-byte length prefix).
std::vector<uint8_t> encode_hello(const Hello& h);
std::vector<uint8_t> encode_welcome(const Endpoint& e);
std::vector<uint8_t> encode_ready();
std::vector<uint8_t> encode_outcome(const Outcome& o);
std::vector<uint8_t> encode_abort(const std::string& reason);

struct Message {
    MessageType type{};
    Hello hello;         // hello
    Endpoint endpoint;   // welcome
    Outcome outcome;     // outcome
    std::string reason;  // abort
};

// Decodes one body. On failure returns false and says why in `error`.
bool decode(std::span<const uint8_t> body, Message& out, std::string& error);

}  // namespace weft::verbs

// The ipc module: local unix sockets between weftctl and a daemon on the same host
// (weftd's control socket, weft-probe's alert socket). Not the fabric's controller:
// that is weft-controller (src/controller), which agents reach over the network.
//
// weft.control/1: how weftctl talks to a running weftd over its local control socket.
// One definition for both ends (and the tests):
//   request:  one JSON object on one line, at most kMaxRequestBytes, e.g.
//             {"command":"flows","format":"json","filter":{"hosts":["10.0.0.1"],"top":10}}
//   reply:    one JSON object, then the server closes the connection. A failed request
//             gets {"schema":"weft.control/1","error":"..."}.
// Commands: status, ports, flows. "format":"text" asks for the human rendering in a
// "text" member instead of the JSON document (so the table code lives in one place).
// The socket is a unix stream socket, mode 0600 (root's by default): it shows every flow.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "weft/flow/filter.hpp"
#include "weft/flow/table_style.hpp"

namespace weft::ipc {

inline constexpr const char* kProtocol = "weft.control/1";
inline constexpr size_t kMaxRequestBytes = 64 * 1024;
inline constexpr size_t kMaxReplyBytes = size_t(1) << 30;
inline constexpr const char* kSocketDir = "/run/weft";
// weft-probe's alert socket (its own directory, so weftd discovery never finds it).
inline constexpr const char* kProbeAlertSocket = "/run/weft/probe/alerts.sock";

struct ControlError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

// /run/weft/<name>.sock: weftd's default, named after its DPDK file prefix.
std::string default_socket_path(std::string_view instance_name);
// The sockets in /run/weft that a weftd answers on (stale files skipped). Throws
// ControlError when the directory or its sockets cannot be read (not root: "Permission
// denied", never "no weftd runs").
std::vector<std::string> live_sockets();

// A request for `command` with the filter and table style (flows only) and format.
nlohmann::json make_request(std::string_view command, bool text,
                            const flow::FlowFilter* filter = nullptr,
                            const flow::TableStyle* table = nullptr);
// Sends `request`, returns the reply. Throws ControlError when the server (`server`
// names it in messages: weftd, weft-probe) cannot be reached, does not answer in time, or
// replies with an error.
nlohmann::json call(const std::string& socket_path, const nlohmann::json& request,
                    std::chrono::milliseconds timeout = std::chrono::seconds(10),
                    std::string_view server = "weftd");

// Sends `request` and hands each line of the reply to `on_line` as it arrives, until the
// server closes (a follow stream: weftctl alerts --follow). Throws ControlError when the
// server cannot be reached.
void stream(const std::string& socket_path, const nlohmann::json& request,
            const std::function<void(const std::string&)>& on_line,
            std::string_view server = "weftd");

// Filters travel as {"hosts":[...], "dest_qp":N, "top":N, "sort":"bytes"}.
nlohmann::json filter_to_json(const flow::FlowFilter& f);
// Empty on success, else what is wrong with `j`.
std::string filter_from_json(const nlohmann::json& j, flow::FlowFilter& out);
// The human table's layout travels as {"width": N, "wide": BOOL} (the client's terminal).
std::string table_style_from_json(const nlohmann::json& j, flow::TableStyle& out);

// Server side: a listening unix socket at `path` with mode 0600, its directory created
// (0700) when missing. A socket file nobody answers on is a leftover and is replaced; one
// that answers belongs to another instance and is an error, and so is anything at the path
// that is not a socket (never deleted). The socket goes with the object, if it is still
// the one it made.
class Listener {
  public:
    // `program` names the server in errors ("in use by another weftd").
    explicit Listener(std::string path, std::string_view program = "weftd");
    ~Listener();
    Listener(const Listener&) = delete;
    Listener& operator=(const Listener&) = delete;
    int fd() const { return fd_; }
    const std::string& path() const { return path_; }

  private:
    std::string path_;
    int fd_ = -1;
    dev_t device_ = 0;  // the socket file made, to remove only it
    ino_t inode_ = 0;
};

// What a server reads from a request. "command" must be a string, "format" "json" (the
// default) or "text", "filter" a filter (filter_from_json), "follow" (weft-probe's alerts)
// true or false; other members are ignored, so a newer weftctl still reaches an older
// server. Checking the types here keeps a server's own lookups (value("command", ""))
// from throwing on a request such as {"command":1}.
struct Request {
    std::string command;      // "" when absent
    bool text = false;        // "format": "text"
    bool has_filter = false;  // "filter" given
    flow::FlowFilter filter;
    bool follow = false;
    flow::TableStyle table;  // "table" (flows, text format)
};

// Decodes one request line (without its newline) as every server does: at most
// kMaxRequestBytes, JSON, an object, then the members above. Returns "" and fills `out`
// and `object` (the whole request, for a server's own members) when it is good, else the
// reason, one line for error_reply. Pure: no I/O, nothing thrown for any line.
std::string decode_request(std::string_view line, Request& out, nlohmann::json& object);

// Reads one request line from `fd` within `timeout` and checks it with decode_request.
// Throws ControlError on a request that does not arrive in time or that decode_request
// refuses (too long, not JSON, not an object, a member of the wrong type).
nlohmann::json read_request(int fd, std::chrono::milliseconds timeout);
// Writes `reply` and a newline; false when the client went away.
bool write_reply(int fd, const nlohmann::json& reply);
nlohmann::json error_reply(std::string_view message);

}  // namespace weft::ipc

#include "weft/ipc/protocol.hpp"

#include <dirent.h>
#include <fmt/format.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

namespace weft::ipc {

namespace {

using Clock = std::chrono::steady_clock;

sockaddr_un address_of(const std::string& path) {
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    if (path.size() >= sizeof a.sun_path)
        throw ControlError(
            fmt::format("{}: socket path longer than {} bytes", path, sizeof a.sun_path - 1));
    std::memcpy(a.sun_path, path.c_str(), path.size() + 1);
    return a;
}

struct Fd {
    int fd = -1;
    Fd() = default;
    Fd(Fd&& o) noexcept : fd(std::exchange(o.fd, -1)) {}
    Fd(const Fd&) = delete;
    Fd& operator=(const Fd&) = delete;
    ~Fd() {
        if (fd >= 0) ::close(fd);
    }
};

// Connects to `path`; -1 with errno when nobody answers.
int connect_unix(const std::string& path) {
    sockaddr_un a = address_of(path);
    int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
        int e = errno;
        ::close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

int ms_left(Clock::time_point deadline) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    return left.count() > 0 ? int(left.count()) : 0;
}

// Waits for `events` on fd until the deadline; false on timeout.
bool wait_for(int fd, short events, Clock::time_point deadline) {
    for (;;) {
        pollfd p{fd, events, 0};
        int r = ::poll(&p, 1, ms_left(deadline));
        if (r > 0) return true;
        if (r == 0) return false;
        if (errno != EINTR) return false;
    }
}

bool write_all(int fd, const char* data, size_t n, Clock::time_point deadline) {
    while (n) {
        ssize_t w = ::send(fd, data, n, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w > 0) {
            data += w;
            n -= size_t(w);
        } else if (w < 0 && (errno == EAGAIN || errno == EINTR)) {
            if (!wait_for(fd, POLLOUT, deadline)) return false;
        } else {
            return false;
        }
    }
    return true;
}

}  // namespace

std::string default_socket_path(std::string_view instance_name) {
    return fmt::format("{}/{}.sock", kSocketDir, instance_name);
}

std::vector<std::string> live_sockets() {
    std::vector<std::string> out;
    DIR* d = ::opendir(kSocketDir);
    if (!d) {
        if (errno == ENOENT) return out;
        const int e = errno;
        throw ControlError(
            fmt::format("cannot read {}: {}{}", kSocketDir, std::strerror(e),
                        e == EACCES ? " (weftd's sockets are root's: run as root)" : ""));
    }
    std::string denied;
    while (dirent* e = ::readdir(d)) {
        std::string name = e->d_name;
        if (name.size() < 6 || name.compare(name.size() - 5, 5, ".sock") != 0) continue;
        std::string path = fmt::format("{}/{}", kSocketDir, name);
        int fd = connect_unix(path);
        if (fd >= 0) {
            ::close(fd);
            out.push_back(path);
        } else if (errno == EACCES) {
            denied = path;
        }
    }
    ::closedir(d);
    if (out.empty() && !denied.empty())
        throw ControlError(fmt::format("cannot reach {}: {} (the socket is root's: run as root)",
                                       denied, std::strerror(EACCES)));
    std::sort(out.begin(), out.end());
    return out;
}

nlohmann::json make_request(std::string_view command, bool text, const flow::FlowFilter* filter,
                            const flow::TableStyle* table) {
    nlohmann::json r = {{"command", command}, {"format", text ? "text" : "json"}};
    if (filter) r["filter"] = filter_to_json(*filter);
    if (table) r["table"] = {{"width", table->width}, {"wide", table->wide}};
    return r;
}

namespace {

// Connects to `socket_path` and sends `request` as one line; the reason in the error when
// either fails says what to do about it.
Fd send_request(const std::string& socket_path, const nlohmann::json& request,
                Clock::time_point deadline, std::string_view server) {
    Fd s;
    s.fd = connect_unix(socket_path);
    if (s.fd < 0) {
        int e = errno;
        struct stat st;
        if (e == ECONNREFUSED && ::stat(socket_path.c_str(), &st) == 0 && !S_ISSOCK(st.st_mode))
            throw ControlError(
                fmt::format("{} is not a socket (give {}'s socket with -s)", socket_path, server));
        std::string hint = e == ENOENT || e == ECONNREFUSED
                               ? fmt::format(" (is {} running? give its socket with -s)", server)
                           : e == EACCES ? " (the socket is root's: run as root)"
                                         : "";
        throw ControlError(fmt::format("cannot reach {} at {}: {}{}", server, socket_path,
                                       std::strerror(e), hint));
    }
    std::string line = request.dump() + "\n";
    if (line.size() > kMaxRequestBytes) throw ControlError("request too long");
    if (!write_all(s.fd, line.data(), line.size(), deadline))
        throw ControlError(fmt::format("{}: cannot send the request", socket_path));
    return s;
}

}  // namespace

nlohmann::json call(const std::string& socket_path, const nlohmann::json& request,
                    std::chrono::milliseconds timeout, std::string_view server) {
    auto deadline = Clock::now() + timeout;
    Fd s = send_request(socket_path, request, deadline, server);
    std::string reply;
    char buf[65536];
    for (;;) {
        if (!wait_for(s.fd, POLLIN, deadline))
            throw ControlError(
                fmt::format("{}: no reply within {} ms", socket_path, timeout.count()));
        ssize_t n = ::recv(s.fd, buf, sizeof buf, MSG_DONTWAIT);
        if (n == 0) break;
        if (n < 0) {
            if (errno == EAGAIN || errno == EINTR) continue;
            throw ControlError(fmt::format("{}: {}", socket_path, std::strerror(errno)));
        }
        reply.append(buf, size_t(n));
        if (reply.size() > kMaxReplyBytes) throw ControlError("reply larger than 1 GiB");
    }
    nlohmann::json doc = nlohmann::json::parse(reply, nullptr, false);
    if (doc.is_discarded() || !doc.is_object())
        throw ControlError(fmt::format("{}: the reply is not a JSON object", socket_path));
    if (auto e = doc.find("error"); e != doc.end() && e->is_string())
        throw ControlError(fmt::format("{}: {}", server, e->get<std::string>()));
    return doc;
}

void stream(const std::string& socket_path, const nlohmann::json& request,
            const std::function<void(const std::string&)>& on_line, std::string_view server) {
    Fd s = send_request(socket_path, request, Clock::now() + std::chrono::seconds(10), server);
    std::string pending;
    char buf[65536];
    for (;;) {
        ssize_t n = ::recv(s.fd, buf, sizeof buf, 0);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        pending.append(buf, size_t(n));
        for (size_t nl; (nl = pending.find('\n')) != std::string::npos;) {
            on_line(pending.substr(0, nl));
            pending.erase(0, nl + 1);
        }
    }
    if (!pending.empty()) on_line(pending);
}

nlohmann::json filter_to_json(const flow::FlowFilter& f) {
    nlohmann::json hosts = nlohmann::json::array();
    for (const auto& h : f.hosts) hosts.push_back(h.to_string());
    nlohmann::json j = {{"hosts", hosts}, {"top", f.top}, {"sort", flow::to_string(f.sort)}};
    if (f.dest_qp) j["dest_qp"] = *f.dest_qp;
    return j;
}

std::string filter_from_json(const nlohmann::json& j, flow::FlowFilter& out) {
    if (!j.is_object()) return "filter: must be an object";
    out = {};
    for (auto& [key, v] : j.items()) {
        if (key == "hosts") {
            if (!v.is_array()) return "filter.hosts: must be an array of IP addresses";
            for (const auto& h : v) {
                auto ip =
                    h.is_string() ? roce::IpAddress::parse(h.get<std::string>()) : std::nullopt;
                // a value is quoted back; a nested array or object is only named (dumping
                // it recurses once per level: 32 000 levels fit in a request and overflowed
                // the stack under ASan)
                if (!ip)
                    return fmt::format(
                        "filter.hosts: {} is not an IP address",
                        h.is_primitive() ? h.dump() : fmt::format("an {}", h.type_name()));
                out.hosts.push_back(*ip);
            }
        } else if (key == "dest_qp") {
            if (!v.is_number_unsigned() || v.get<uint64_t>() > 0xffffff)
                return "filter.dest_qp: must be a 24-bit QP number";
            out.dest_qp = v.get<uint32_t>();
        } else if (key == "top") {
            if (!v.is_number_unsigned()) return "filter.top: must be a count";
            out.top = v.get<size_t>();
        } else if (key == "sort") {
            auto k = v.is_string() ? flow::sort_key_from(v.get<std::string>()) : std::nullopt;
            if (!k) return "filter.sort: must be bytes, packets, messages, naks or gaps";
            out.sort = *k;
        } else {
            return fmt::format("filter.{}: unknown key", key);
        }
    }
    return {};
}

std::string table_style_from_json(const nlohmann::json& j, flow::TableStyle& out) {
    if (!j.is_object()) return "table: must be an object {\"width\": N, \"wide\": BOOL}";
    out = {};
    for (auto& [key, v] : j.items()) {
        if (key == "width") {
            if (!v.is_number_unsigned() || v.get<uint64_t>() < flow::TableStyle::kMinWidth ||
                v.get<uint64_t>() > flow::TableStyle::kMaxWidth)
                return fmt::format("table.width: must be an integer from {} to {}",
                                   flow::TableStyle::kMinWidth, flow::TableStyle::kMaxWidth);
            out.width = v.get<unsigned>();
        } else if (key == "wide") {
            if (!v.is_boolean()) return "table.wide: must be true or false";
            out.wide = v.get<bool>();
        } else {
            return fmt::format("table.{}: unknown key", key);
        }
    }
    return {};
}

Listener::Listener(std::string path, std::string_view program) : path_(std::move(path)) {
    sockaddr_un a = address_of(path_);
    // the socket's directories, created 0700 where missing
    if (path_.empty() || path_[0] != '/')
        throw ControlError(fmt::format("socket {}: must be an absolute path", path_));
    std::string dir = path_.substr(0, path_.rfind('/'));
    for (size_t at = 1; at <= dir.size(); ++at) {
        if (at != dir.size() && dir[at] != '/') continue;
        std::string part = dir.substr(0, at);
        if (::mkdir(part.c_str(), 0700) != 0 && errno != EEXIST)
            throw ControlError(
                fmt::format("socket {}: cannot create {}: {}", path_, part, std::strerror(errno)));
    }
    // Only a stale socket is ever removed: one nobody answers on (its server died). A
    // socket that answers belongs to a running instance; anything else at the path (a
    // regular file, a directory, a symbolic link) is not ours to delete, as root.
    struct stat st;
    if (::lstat(path_.c_str(), &st) == 0) {
        if (!S_ISSOCK(st.st_mode))
            throw ControlError(fmt::format(
                "socket path {} exists and is not a socket ({}); refusing to remove it: move it "
                "away or choose another path",
                path_,
                S_ISLNK(st.st_mode)   ? "a symbolic link"
                : S_ISREG(st.st_mode) ? "a regular file"
                : S_ISDIR(st.st_mode) ? "a directory"
                                      : "a special file"));
        if (int other = connect_unix(path_); other >= 0) {
            ::close(other);
            throw ControlError(fmt::format(
                "socket {} is in use by another {} (give each instance its own socket path)", path_,
                program));
        } else if (errno != ECONNREFUSED) {
            throw ControlError(fmt::format("socket {} exists and cannot be checked: {}", path_,
                                           std::strerror(errno)));
        }
        ::unlink(path_.c_str());  // a leftover from an instance that died
    } else if (errno != ENOENT) {
        throw ControlError(fmt::format("socket {}: {}", path_, std::strerror(errno)));
    }
    fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd_ < 0) throw ControlError(fmt::format("control socket: {}", std::strerror(errno)));
    // Created 0600 from the start: no window in which another user could connect.
    mode_t old = ::umask(0177);
    int rc = ::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a);
    int e = errno;
    ::umask(old);
    if (rc != 0 || ::listen(fd_, 16) != 0) {
        if (rc == 0) e = errno;
        ::close(fd_);
        fd_ = -1;
        throw ControlError(fmt::format("control socket {}: {}", path_, std::strerror(e)));
    }
    if (::lstat(path_.c_str(), &st) == 0) device_ = st.st_dev, inode_ = st.st_ino;
}

Listener::~Listener() {
    if (fd_ < 0) return;
    ::close(fd_);
    // Removed only while it is still the socket this object made: never what another
    // instance or a user put at the path since.
    struct stat st;
    if (::lstat(path_.c_str(), &st) == 0 && S_ISSOCK(st.st_mode) && st.st_dev == device_ &&
        st.st_ino == inode_)
        ::unlink(path_.c_str());
}

nlohmann::json read_request(int fd, std::chrono::milliseconds timeout) {
    auto deadline = Clock::now() + timeout;
    std::string line;
    char buf[4096];
    for (;;) {
        if (!wait_for(fd, POLLIN, deadline)) throw ControlError("no request within the timeout");
        ssize_t n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
        if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
        if (n <= 0) break;
        line.append(buf, size_t(n));
        if (line.find('\n') != std::string::npos) break;
        if (line.size() > kMaxRequestBytes)
            throw ControlError(fmt::format("request longer than {} bytes", kMaxRequestBytes));
    }
    line = line.substr(0, line.find('\n'));
    Request request;
    nlohmann::json j;
    if (std::string error = decode_request(line, request, j); !error.empty())
        throw ControlError(error);
    return j;
}

std::string decode_request(std::string_view line, Request& out, nlohmann::json& object) {
    if (line.size() > kMaxRequestBytes)
        return fmt::format("request longer than {} bytes", kMaxRequestBytes);
    object = nlohmann::json::parse(line, nullptr, false);
    if (object.is_discarded() || !object.is_object())
        return "the request is not a JSON object on one line";
    out = {};
    if (auto c = object.find("command"); c != object.end()) {
        if (!c->is_string()) return "command: must be a string";
        out.command = c->get<std::string>();
    }
    if (auto f = object.find("format"); f != object.end()) {
        if (!f->is_string()) return "format: must be \"json\" or \"text\"";
        const std::string& format = f->get_ref<const std::string&>();
        if (format != "json" && format != "text")
            return fmt::format("format {}: must be json or text", format);
        out.text = format == "text";
    }
    if (auto f = object.find("filter"); f != object.end()) {
        if (std::string error = filter_from_json(*f, out.filter); !error.empty()) return error;
        out.has_filter = true;
    }
    if (auto f = object.find("table"); f != object.end()) {
        if (std::string error = table_style_from_json(*f, out.table); !error.empty()) return error;
    }
    if (auto f = object.find("follow"); f != object.end()) {
        if (!f->is_boolean()) return "follow: must be true or false";
        out.follow = f->get<bool>();
    }
    return {};
}

bool write_reply(int fd, const nlohmann::json& reply) {
    std::string text = reply.dump() + "\n";
    return write_all(fd, text.data(), text.size(), Clock::now() + std::chrono::seconds(30));
}

nlohmann::json error_reply(std::string_view message) {
    return {{"schema", kProtocol}, {"error", message}};
}

}  // namespace weft::ipc

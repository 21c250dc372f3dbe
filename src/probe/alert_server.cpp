#include "weft/probe/alert_server.hpp"

#include <fmt/format.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

namespace weft::probe {

namespace {

// One line, all or nothing, without blocking: false when the client cannot take it.
bool send_line(int fd, const std::string& line) {
    size_t done = 0;
    while (done < line.size()) {
        ssize_t n = ::send(fd, line.data() + done, line.size() - done, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n > 0) {
            done += size_t(n);
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && errno == EAGAIN && done > 0) {
            // a partial line must be finished: wait briefly for room
            pollfd p{fd, POLLOUT, 0};
            if (::poll(&p, 1, 100) > 0) continue;
        }
        return false;
    }
    return true;
}

}  // namespace

AlertServer::AlertServer(const std::string& path, size_t history)
    : listener_(path, "weft-probe"), history_(history) {}

AlertServer::~AlertServer() {
    for (int fd : followers_) ::close(fd);
}

void AlertServer::service() {
    for (;;) {
        int client = ::accept4(listener_.fd(), nullptr, nullptr, SOCK_CLOEXEC);
        if (client < 0) return;  // none waiting (the listener is non-blocking)
        nlohmann::json reply;
        bool follow = false;
        try {
            nlohmann::json req = ipc::read_request(client, std::chrono::milliseconds(200));
            if (req.value("command", "") != "alerts") {
                reply = ipc::error_reply(fmt::format(
                    "unknown command '{}' (weft-probe answers: alerts)", req.value("command", "")));
            } else {
                follow = req.value("follow", false);
                nlohmann::json list = nlohmann::json::array();
                for (const auto& a : recent_) list.push_back(a);
                reply = {{"schema", "weft.alerts/1"}, {"alerts", list}};
            }
        } catch (const ipc::ControlError& e) {
            reply = ipc::error_reply(e.what());
        }
        if (!follow) {
            ipc::write_reply(client, reply);
            ::shutdown(client, SHUT_WR);
            ::close(client);
            continue;
        }
        // followers get the recent alerts as lines, then each new one
        bool ok = true;
        for (const auto& a : recent_) ok = ok && send_line(client, a.dump() + "\n");
        if (ok)
            followers_.push_back(client);
        else
            ::close(client);
    }
}

void AlertServer::publish(const nlohmann::json& alert) {
    recent_.push_back(alert);
    while (recent_.size() > history_) recent_.pop_front();
    std::string line = alert.dump() + "\n";
    std::vector<int> keep;
    for (int fd : followers_) {
        if (send_line(fd, line))
            keep.push_back(fd);
        else
            ::close(fd);
    }
    followers_ = std::move(keep);
}

}  // namespace weft::probe

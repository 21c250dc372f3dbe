#include "weft/dataplane/control_server.hpp"

#include <fmt/format.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>
#include "weft/dataplane/config_sections.hpp"

#include <cerrno>
#include <cstring>

#include "weft/dataplane/documents.hpp"
#include "weft/dataplane/eal.hpp"
#include "weft/dataplane/instance.hpp"
#include "weft/roce/psp.hpp"
#include "weft/telemetry/render.hpp"

namespace weft::dataplane {

nlohmann::json handle_control_request(const Instance& instance, const nlohmann::json& request) {
    using nlohmann::json;
    std::string command = request.value("command", "");
    std::string format = request.value("format", "json");
    if (format != "json" && format != "text")
        return ipc::error_reply(fmt::format("format {}: must be json or text", format));
    bool text = format == "text";
    auto as_text = [](std::string t) {
        return json{{"schema", ipc::kProtocol}, {"text", std::move(t)}};
    };
    try {
        if (command == "status")
            return text ? as_text(status_text(instance)) : status_document(instance);
        if (command == "ports")
            return text ? as_text(ports_text(instance)) : ports_document(instance);
        if (command == "keys" || command == "keys-rotate") {
            // SPIs, generations and counters; never a key byte
            if (!instance.config().psp.enabled())
                return ipc::error_reply("PSP is not configured on this weftd ([psp])");
            nlohmann::json doc;
            if (command == "keys-rotate") {
                const PspRotation r = instance.rotate_psp_keys();
                fmt::print(
                    stderr, "weftd: PSP keys rotated by weftctl: generation {}, {}\n", r.generation,
                    r.new_key ? fmt::format("a new master key, senders move in {} ms", r.send_in_ms)
                              : std::string("senders move now (no new master key)"));
                doc = keys_document(instance, &r);
            } else {
                doc = keys_document(instance);
            }
            return text ? as_text(keys_text(doc)) : doc;
        }
        if (command == "explain-path") {
            std::optional<roce::IpAddress> src, dst;
            if (auto f = request.find("src"); f != request.end() && f->is_string())
                src = roce::IpAddress::parse(f->get<std::string>());
            if (auto f = request.find("dst"); f != request.end() && f->is_string())
                dst = roce::IpAddress::parse(f->get<std::string>());
            auto qp = request.find("qp");
            if (!src || !dst || qp == request.end() || !qp->is_number_unsigned() ||
                qp->get<uint64_t>() > 0xffffff)
                return ipc::error_reply(
                    "explain-path: \"src\" and \"dst\" (addresses) and \"qp\" (0 .. "
                    "16777215) are required");
            if (instance.config().mode != Mode::inline_)
                return ipc::error_reply("balancing needs inline mode: this weftd is passive");
            json doc = explain_path_document(instance, *src, *dst, qp->get<uint32_t>());
            return text ? as_text(explain_path_text(doc)) : doc;
        }
        if (command == "balance-reorder") {
            const std::string action = request.value("action", "");
            if (action != "pause" && action != "resume")
                return ipc::error_reply("balance-reorder: \"action\" must be pause or resume");
            instance.set_reorder_paused(action == "pause");
            fmt::print(stderr, "weftd: reorder {} (weftctl)\n",
                       action == "pause" ? "paused: sprayed frames pass unordered" : "resumed");
            json doc = paths_document(instance);
            return text ? as_text(paths_text(doc)) : doc;
        }
        if (command == "paths" || command == "balance-policy") {
            if (instance.config().mode != Mode::inline_)
                return ipc::error_reply("balancing needs inline mode: this weftd is passive");
            json doc;
            if (command == "balance-policy") {
                auto p = request.find("policy");
                if (p == request.end() || !p->is_string())
                    return ipc::error_reply("balance-policy: \"policy\" (a string) is required");
                BalancePolicy wanted;
                if (!balance_policy_from(p->get<std::string>(), wanted))
                    return ipc::error_reply(
                        fmt::format("policy '{}': must be ecmp, flowlet, congestion or spray",
                                    p->get<std::string>()));
                const BalancePolicy before = instance.set_balance_policy(wanted);
                fmt::print(stderr, "weftd: balancing policy {} -> {} (weftctl)\n",
                           to_string(before), to_string(wanted));
                doc = paths_document(instance);
                doc["changed"] = {{"from", to_string(before)}, {"to", to_string(wanted)}};
                if (text)
                    return as_text(
                        fmt::format("policy {} -> {}\n", to_string(before), to_string(wanted)) +
                        paths_text(doc));
                return doc;
            }
            doc = paths_document(instance);
            return text ? as_text(paths_text(doc)) : doc;
        }
        if (command == "flows") {
            flow::FlowFilter filter;
            if (auto f = request.find("filter"); f != request.end())
                if (std::string e = ipc::filter_from_json(*f, filter); !e.empty())
                    return ipc::error_reply(e);
            flow::TableStyle style;
            if (auto t = request.find("table"); t != request.end())
                if (std::string e = ipc::table_style_from_json(*t, style); !e.empty())
                    return ipc::error_reply(e);
            return text ? as_text(flows_text(instance, filter, style))
                        : flows_document(instance, filter);
        }
    } catch (const std::exception& e) {
        return ipc::error_reply(e.what());
    }
    return ipc::error_reply(
        fmt::format("unknown command '{}' (status, ports, flows, paths, explain-path, "
                    "balance-policy, balance-reorder, keys or keys-rotate)",
                    command));
}

ControlServer::ControlServer(const Instance& instance, const std::string& path)
    : instance_(instance), listener_(path) {
    wake_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (wake_fd_ < 0) throw ipc::ControlError(fmt::format("eventfd: {}", std::strerror(errno)));
    thread_ = std::thread([this] { serve(); });
}

ControlServer::~ControlServer() {
    uint64_t one = 1;
    [[maybe_unused]] ssize_t n = ::write(wake_fd_, &one, sizeof one);
    if (thread_.joinable()) thread_.join();
    ::close(wake_fd_);
}

void ControlServer::serve() {
    for (;;) {
        pollfd fds[2] = {{listener_.fd(), POLLIN, 0}, {wake_fd_, POLLIN, 0}};
        if (::poll(fds, 2, -1) < 0) {
            if (errno == EINTR) continue;
            return;
        }
        if (fds[1].revents) return;
        int client = ::accept4(listener_.fd(), nullptr, nullptr, SOCK_CLOEXEC);
        if (client < 0) continue;
        nlohmann::json reply;
        try {
            reply = handle_control_request(instance_,
                                           ipc::read_request(client, std::chrono::seconds(2)));
        } catch (const ipc::ControlError& e) {
            reply = ipc::error_reply(e.what());
        }
        ipc::write_reply(client, reply);
        // Closing with unread input would reset the connection and could take the reply
        // with it (an oversized request): end our side, then drain briefly until EOF.
        ::shutdown(client, SHUT_WR);
        char sink[4096];
        for (size_t drained = 0; drained < (1u << 20);) {
            pollfd p{client, POLLIN, 0};
            if (::poll(&p, 1, 200) <= 0) break;
            ssize_t n = ::recv(client, sink, sizeof sink, MSG_DONTWAIT);
            if (n <= 0) break;
            drained += size_t(n);
        }
        ::close(client);
    }
}

void parse_control_section(const toml::node& node, Config& c, config::Problems& problems) {
    const toml::table* t = config::as_table(node, "control", problems);
    if (!t) return;
    static constexpr std::string_view kKeys[] = {"socket"};
    config::refuse_unknown_keys(*t, "control", kKeys, problems);
    std::string socket;
    if (!config::read_string(*t, "control", "socket", socket, problems)) return;
    if (!socket.empty() && socket[0] != '/')
        problems.add("control.socket", "must be an absolute path, or \"\" for no control socket");
    else
        c.control.socket = socket;
}

}  // namespace weft::dataplane

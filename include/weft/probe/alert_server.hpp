// weft-probe's local alert socket (weft.control/1 framing, weft/ipc/protocol.hpp):
// `weftctl alerts` asks {"command":"alerts"} for the recent alerts (one JSON object,
// schema weft.alerts/1), or adds "follow":true to get them as JSON lines followed by each
// new alert as it is raised. Driven from the agent's loop: no thread, no lock.
#pragma once

#include <deque>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "weft/ipc/protocol.hpp"

namespace weft::probe {

inline constexpr const char* kDefaultAlertSocket = ipc::kProbeAlertSocket;

class AlertServer {
  public:
    // Listens at `path` (mode 0600); keeps the last `history` alerts for new clients.
    explicit AlertServer(const std::string& path, size_t history = 1000);
    ~AlertServer();
    AlertServer(const AlertServer&) = delete;
    AlertServer& operator=(const AlertServer&) = delete;

    // Accepts and answers the clients that are waiting (never blocks for long).
    void service();
    // Records an alert and sends it to every follower; a follower that cannot keep up
    // (its socket buffer is full) is dropped rather than stalling the probe.
    void publish(const nlohmann::json& alert);
    const std::string& path() const { return listener_.path(); }
    size_t followers() const { return followers_.size(); }

  private:
    ipc::Listener listener_;
    size_t history_;
    std::deque<nlohmann::json> recent_;
    std::vector<int> followers_;
};

}  // namespace weft::probe

// weftd's control socket (protocol: weft/ipc/protocol.hpp). One thread answers one
// client at a time off the data path: status and ports from the workers' published
// counters, flows from snapshots the workers copy out between bursts.
#pragma once

#include <memory>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "weft/ipc/protocol.hpp"

namespace weft::dataplane {

class Instance;

// Answers one request (exposed for tests): a reply document, or an error reply.
nlohmann::json handle_control_request(const Instance& instance, const nlohmann::json& request);

class ControlServer {
  public:
    // Listens at `path` (mode 0600) until destroyed. Throws ipc::ControlError.
    ControlServer(const Instance& instance, const std::string& path);
    ~ControlServer();
    ControlServer(const ControlServer&) = delete;
    ControlServer& operator=(const ControlServer&) = delete;
    const std::string& path() const { return listener_.path(); }

  private:
    void serve();
    const Instance& instance_;
    ipc::Listener listener_;
    int wake_fd_ = -1;  // eventfd: the destructor wakes the thread through it
    std::thread thread_;
};

}  // namespace weft::dataplane

// weftd's Prometheus endpoint: GET /metrics answers the text exposition format 0.0.4
// (metrics_text) from the workers' published counters, through libmicrohttpd's
// own thread, so a scrape never touches the data path. Loopback unless told otherwise.
#pragma once

#include <optional>
#include <string>

#include <sys/socket.h>

struct MHD_Daemon;

namespace weft::dataplane {

class Instance;

struct ListenAddress {
    sockaddr_storage addr{};
    socklen_t len = 0;
    std::string text;  // as it will be shown: 127.0.0.1:9464, [::1]:9464
};

// The Prometheus text exposition (format 0.0.4) of every counter: each stage's, per worker,
// from the stages' counter lists; the flow table's; weftd's and the driver's per port.
std::string metrics_text(const Instance& instance);

// "PORT" (loopback), "HOST:PORT" or "[V6HOST]:PORT", HOST a numeric address.
std::optional<ListenAddress> parse_listen_address(const std::string& spec, std::string& error);

class MetricsServer {
  public:
    // Throws DataplaneError when the address cannot be bound.
    MetricsServer(const Instance& instance, const ListenAddress& address);
    ~MetricsServer();
    MetricsServer(const MetricsServer&) = delete;
    MetricsServer& operator=(const MetricsServer&) = delete;
    const std::string& address() const { return address_; }
    const Instance& instance() const { return instance_; }

  private:
    const Instance& instance_;
    std::string address_;
    MHD_Daemon* daemon_ = nullptr;
};

}  // namespace weft::dataplane

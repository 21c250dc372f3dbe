// RDMA devices as rdma-core (libibverbs) and sysfs describe them: ports, state, MTU,
// link layer, the GID table with each entry's type (RoCE v1/v2, IB) and address, and the
// per-port counters the driver exports. Read-only; nothing here touches the data path.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace weft::verbs {

class VerbsError : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

struct GidEntry {
    uint32_t index = 0;
    std::string gid;                // "fe80:0000:..." as sysfs writes it
    std::string type;               // "RoCE v2", "RoCE v1" or "IB"
    std::optional<std::string> ip;  // the IPv4 or IPv6 address a RoCE GID carries
    std::string netdev;             // the Ethernet device it is bound to ("" for IB)
};

struct PortInfo {
    uint32_t number = 0;
    std::string state;        // "ACTIVE", "DOWN", ...
    uint32_t active_mtu = 0;  // bytes
    uint32_t max_mtu = 0;
    std::string link_layer;  // "Ethernet" or "InfiniBand"
    std::vector<GidEntry> gids;
    std::map<std::string, uint64_t> hw_counters;  // ports/N/hw_counters/* (driver's)
    std::map<std::string, uint64_t> counters;     // ports/N/counters/* (IB standard)
};

struct DeviceInfo {
    std::string name;  // "rxe0", "mlx5_0"
    std::string node_guid;
    std::string firmware;
    std::vector<PortInfo> ports;
};

struct Discovery {
    std::vector<DeviceInfo> devices;
    std::string none_reason;  // why the list is empty, in words an operator can act on
};

// Enumerates every RDMA device. An absent RDMA stack is not an error: the result is
// empty with a reason. Throws VerbsError only when a present device cannot be queried.
// `sysfs_root` is "/sys/class/infiniband" except in tests.
Discovery discover(const std::string& sysfs_root = "/sys/class/infiniband");

// A GID as sysfs writes it: eight groups of four hex digits ("0000:...:ffff:0a63:0001").
std::string gid_text(std::span<const uint8_t, 16> raw);

nlohmann::json to_json(const Discovery& d);
std::string format(const Discovery& d);

}  // namespace weft::verbs

#include "weft/verbs/devices.hpp"
#include "weft/verbs/rc.hpp"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <infiniband/verbs.h>
#include <net/if.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>

namespace weft::verbs {

namespace {

namespace fs = std::filesystem;

std::string read_line(const fs::path& p) {
    std::ifstream in(p);
    std::string s;
    std::getline(in, s);
    return s;
}

std::map<std::string, uint64_t> read_counters(const fs::path& dir) {
    std::map<std::string, uint64_t> out;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(dir, ec)) {
        if (!e.is_regular_file(ec)) continue;
        std::string v = read_line(e.path());
        try {
            size_t used = 0;
            uint64_t n = std::stoull(v, &used, 0);
            if (used == v.size()) out[e.path().filename().string()] = n;
        } catch (const std::exception&) {
            // a counter file that is not a number (driver-specific): not a counter
        }
    }
    return out;
}

std::string port_state(ibv_port_state s) {
    switch (s) {
        case IBV_PORT_DOWN:
            return "DOWN";
        case IBV_PORT_INIT:
            return "INIT";
        case IBV_PORT_ARMED:
            return "ARMED";
        case IBV_PORT_ACTIVE:
            return "ACTIVE";
        case IBV_PORT_ACTIVE_DEFER:
            return "ACTIVE_DEFER";
        default:
            return "NOP";
    }
}

std::optional<std::string> gid_ip(const ibv_gid& g) {
    static const uint8_t v4_mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    char buf[INET6_ADDRSTRLEN];
    if (std::memcmp(g.raw, v4_mapped, 12) == 0) {
        inet_ntop(AF_INET, g.raw + 12, buf, sizeof buf);
        return std::string(buf);
    }
    inet_ntop(AF_INET6, g.raw, buf, sizeof buf);
    return std::string(buf);
}

std::string gid_type(uint32_t t) {
    switch (t) {
        case IBV_GID_TYPE_IB:
            return "IB";
        case IBV_GID_TYPE_ROCE_V1:
            return "RoCE v1";
        case IBV_GID_TYPE_ROCE_V2:
            return "RoCE v2";
    }
    return "unknown";
}

struct DeviceListDeleter {
    void operator()(ibv_device** l) const { ibv_free_device_list(l); }
};
struct ContextDeleter {
    void operator()(ibv_context* c) const { ibv_close_device(c); }
};

}  // namespace

Discovery discover(const std::string& sysfs_root) {
    Discovery d;
    int count = 0;
    errno = 0;
    std::unique_ptr<ibv_device*, DeviceListDeleter> list(ibv_get_device_list(&count));
    if (!list) {
        d.none_reason = fmt::format("no RDMA devices: the kernel has no RDMA support ({})",
                                    std::strerror(errno));
        return d;
    }
    if (count == 0) {
        d.none_reason =
            "no RDMA devices on this machine (no RDMA NIC, and no rdma_rxe or siw link: "
            "`rdma link add rxe0 type rxe netdev IFACE` creates a SoftRoCE device)";
        return d;
    }
    for (int i = 0; i < count; ++i) {
        ibv_device* dev = list.get()[i];
        DeviceInfo info;
        info.name = ibv_get_device_name(dev);
        std::unique_ptr<ibv_context, ContextDeleter> ctx(ibv_open_device(dev));
        if (!ctx)
            throw VerbsError(fmt::format("{}: cannot open: {}", info.name, std::strerror(errno)));
        ibv_device_attr attr{};
        if (int rc = ibv_query_device(ctx.get(), &attr))
            throw VerbsError(fmt::format("{}: query device: {}", info.name, std::strerror(rc)));
        info.firmware = attr.fw_ver;
        uint64_t guid = be64toh(ibv_get_device_guid(dev));
        info.node_guid = fmt::format("{:04x}:{:04x}:{:04x}:{:04x}", (guid >> 48) & 0xffff,
                                     (guid >> 32) & 0xffff, (guid >> 16) & 0xffff, guid & 0xffff);
        for (uint32_t p = 1; p <= attr.phys_port_cnt; ++p) {
            ibv_port_attr pa{};
            if (int rc = ibv_query_port(ctx.get(), uint8_t(p), &pa))
                throw VerbsError(
                    fmt::format("{} port {}: query port: {}", info.name, p, std::strerror(rc)));
            PortInfo port;
            port.number = p;
            port.state = port_state(pa.state);
            port.active_mtu = mtu_bytes(pa.active_mtu);
            port.max_mtu = mtu_bytes(pa.max_mtu);
            port.link_layer = pa.link_layer == IBV_LINK_LAYER_ETHERNET ? "Ethernet" : "InfiniBand";
            std::vector<ibv_gid_entry> entries(size_t(std::max(pa.gid_tbl_len, 1)));
            ssize_t n = ibv_query_gid_table(ctx.get(), entries.data(), entries.size(), 0);
            for (ssize_t k = 0; k < n; ++k) {
                const ibv_gid_entry& e = entries[size_t(k)];
                if (e.port_num != p) continue;
                GidEntry g;
                g.index = e.gid_index;
                g.gid = gid_text(e.gid.raw);
                g.type = gid_type(e.gid_type);
                if (e.gid_type != IBV_GID_TYPE_IB) g.ip = gid_ip(e.gid);
                char ifname[IF_NAMESIZE] = {};
                if (e.ndev_ifindex && if_indextoname(e.ndev_ifindex, ifname)) g.netdev = ifname;
                port.gids.push_back(std::move(g));
            }
            const fs::path port_dir =
                fs::path(sysfs_root) / info.name / "ports" / std::to_string(p);
            port.hw_counters = read_counters(port_dir / "hw_counters");
            port.counters = read_counters(port_dir / "counters");
            info.ports.push_back(std::move(port));
        }
        d.devices.push_back(std::move(info));
    }
    return d;
}

std::string gid_text(std::span<const uint8_t, 16> raw) {
    std::string s;
    for (size_t i = 0; i < 16; i += 2) {
        if (i) s += ':';
        s += fmt::format("{:02x}{:02x}", raw[i], raw[i + 1]);
    }
    return s;
}

nlohmann::json to_json(const Discovery& d) {
    nlohmann::json devices = nlohmann::json::array();
    for (const auto& dev : d.devices) {
        nlohmann::json ports = nlohmann::json::array();
        for (const auto& p : dev.ports) {
            nlohmann::json gids = nlohmann::json::array();
            for (const auto& g : p.gids)
                gids.push_back({{"index", g.index},
                                {"gid", g.gid},
                                {"type", g.type},
                                {"ip", g.ip ? nlohmann::json(*g.ip) : nlohmann::json(nullptr)},
                                {"netdev", g.netdev}});
            ports.push_back({{"port", p.number},
                             {"state", p.state},
                             {"active_mtu", p.active_mtu},
                             {"max_mtu", p.max_mtu},
                             {"link_layer", p.link_layer},
                             {"gids", gids},
                             {"hw_counters", p.hw_counters},
                             {"counters", p.counters}});
        }
        devices.push_back({{"name", dev.name},
                           {"node_guid", dev.node_guid},
                           {"firmware", dev.firmware},
                           {"ports", ports}});
    }
    nlohmann::json out = {{"schema", "weft.devices/1"}, {"devices", devices}};
    if (d.devices.empty()) out["none_reason"] = d.none_reason;
    return out;
}

std::string format(const Discovery& d) {
    if (d.devices.empty()) return d.none_reason + "\n";
    std::string out;
    for (const auto& dev : d.devices) {
        out += fmt::format("{}  node GUID {}  firmware {}\n", dev.name, dev.node_guid,
                           dev.firmware.empty() ? "-" : dev.firmware);
        for (const auto& p : dev.ports) {
            out += fmt::format("  port {}  {}  {}  MTU {} (max {})\n", p.number, p.state,
                               p.link_layer, p.active_mtu, p.max_mtu);
            for (const auto& g : p.gids)
                out += fmt::format("    GID {:>3}  {:<8} {:<40} {:<16} {}\n", g.index, g.type,
                                   g.gid, g.ip.value_or("-"), g.netdev);
            if (!p.hw_counters.empty()) {
                std::string line;
                for (const auto& [k, v] : p.hw_counters)
                    if (v) line += fmt::format(" {}={}", k, v);
                out += fmt::format("    hw_counters:{}\n", line.empty() ? " all zero" : line);
            }
        }
    }
    return out;
}

}  // namespace weft::verbs

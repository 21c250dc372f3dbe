#include "weft/dataplane/config.hpp"

#include <fmt/format.h>
#include <sys/un.h>
#include <unistd.h>

#include <toml++/toml.h>
#include <algorithm>
#include <filesystem>
#include <regex>
#include <set>

#include "weft/config/toml_file.hpp"
#include "weft/dataplane/metrics.hpp"
#include "weft/ipc/protocol.hpp"

namespace weft::dataplane {

namespace {

const std::regex kPciAddress("^([0-9a-fA-F]{4}:)?[0-9a-fA-F]{2}:[0-9a-fA-F]{2}\\.[0-7]$");

std::optional<PortRole> role_from(std::string_view s) {
    if (s == "host") return PortRole::host;
    if (s == "fabric") return PortRole::fabric;
    if (s == "mirror") return PortRole::mirror;
    return std::nullopt;
}

}  // namespace

std::string_view to_string(Mode m) {
    return m == Mode::passive ? "passive" : "inline";
}
std::string_view to_string(PortRole r) {
    switch (r) {
        case PortRole::host:
            return "host";
        case PortRole::fabric:
            return "fabric";
        case PortRole::mirror:
            return "mirror";
    }
    return "?";
}

bool PortConfig::is_pci() const {
    return std::regex_match(device, kPciAddress);
}

std::string PortConfig::driver() const {
    if (is_pci()) return "pci";
    // vdev names are the driver's name and an instance number: net_af_packet0
    size_t end = device.find_last_not_of("0123456789");
    return end == std::string::npos ? device : device.substr(0, end + 1);
}

std::string PortConfig::arg(std::string_view key) const {
    size_t start = 0;
    while (start <= args.size()) {
        size_t end = args.find(',', start);
        if (end == std::string::npos) end = args.size();
        std::string_view item(args.data() + start, end - start);
        if (item.size() > key.size() && item.substr(0, key.size()) == key &&
            item[key.size()] == '=')
            return std::string(item.substr(key.size() + 1));
        start = end + 1;
    }
    return "";
}

const std::vector<std::string>& known_vdev_drivers() {
    static const std::vector<std::string> v = {"net_af_packet", "net_af_xdp", "net_pcap",
                                               "net_ring",      "net_tap",    "net_null"};
    return v;
}

std::vector<std::string> load_config_file(const std::string& path, Config& c) {
    std::vector<std::string> errors;
    std::string parse_error;
    std::optional<toml::table> parsed = config::parse_toml_file(path, parse_error);
    if (!parsed) return {parse_error};
    toml::table& doc = *parsed;
    c.source = path;
    auto err = [&](const std::string& key, const std::string& what) {
        errors.push_back(fmt::format("{}: {}: {}", path, key, what));
    };
    // Every key is known or refused: a typo must not silently fall back to a default.
    static const std::set<std::string> top = {"mode",  "workers",  "eal",
                                              "flows", "firewall", "ports"};
    for (const auto& [k, v] : doc)
        if (!top.count(std::string(k.str()))) err(std::string(k.str()), "unknown key");

    auto uint_at = [&](const toml::node_view<toml::node>& n, const std::string& key, uint32_t& out,
                       uint64_t min, uint64_t max) {
        if (!n) return;
        auto v = n.value<int64_t>();
        if (!v || *v < int64_t(min) || uint64_t(*v) > max)
            err(key, fmt::format("must be an integer from {} to {}", min, max));
        else
            out = uint32_t(*v);
    };
    auto bool_at = [&](const toml::node_view<toml::node>& n, const std::string& key, auto assign) {
        if (!n) return;
        if (auto v = n.value<bool>(); v && n.is_boolean())
            assign(*v);
        else
            err(key, "must be true or false");
    };
    auto section = [&](const char* name, std::set<std::string> keys) -> toml::table* {
        toml::node* n = doc.get(name);
        if (!n) return nullptr;
        toml::table* t = n->as_table();
        if (!t) {
            err(name, "must be a table ([" + std::string(name) + "])");
            return nullptr;
        }
        for (const auto& [k, v] : *t)
            if (!keys.count(std::string(k.str())))
                err(fmt::format("{}.{}", name, k.str()), "unknown key");
        return t;
    };

    if (auto m = doc["mode"]) {
        auto s = m.value<std::string>();
        if (s == "passive")
            c.mode = Mode::passive;
        else if (s == "inline")
            c.mode = Mode::inline_;
        else
            err("mode", "must be \"passive\" or \"inline\"");
    }
    uint_at(doc["workers"], "workers", c.workers, 1, 128);
    if (toml::table* eal =
            section("eal", {"file_prefix", "hugepages", "memory_mb", "mbufs_per_port"})) {
        toml::node_view<toml::node> e{eal};
        if (auto p = e["file_prefix"]) {
            auto s = p.value<std::string>();
            if (!s || s->empty() || s->find('/') != std::string::npos)
                err("eal.file_prefix", "must be a non-empty name without '/'");
            else
                c.file_prefix = *s;
        }
        bool_at(e["hugepages"], "eal.hugepages", [&](bool v) { c.hugepages = v; });
        uint_at(e["memory_mb"], "eal.memory_mb", c.memory_mb, 64, 1 << 20);
        uint_at(e["mbufs_per_port"], "eal.mbufs_per_port", c.mbufs_per_port, 512, 1 << 22);
    }
    if (toml::table* f = section("flows", {"max_flows", "idle_timeout_s"})) {
        toml::node_view<toml::node> n{f};
        uint_at(n["max_flows"], "flows.max_flows", c.max_flows, 1, (1u << 24) - 2);
        uint_at(n["idle_timeout_s"], "flows.idle_timeout_s", c.idle_timeout_s, 0, 86400 * 7);
    }
    if (toml::table* fw = section("firewall", {"drop_bad_icrc", "verify_icrc"})) {
        toml::node_view<toml::node> n{fw};
        bool_at(n["verify_icrc"], "firewall.verify_icrc", [&](bool v) { c.verify_icrc = v; });
        bool_at(n["drop_bad_icrc"], "firewall.drop_bad_icrc", [&](bool v) { c.drop_bad_icrc = v; });
    }
    if (toml::table* ctl = section("control", {"socket"})) {
        toml::node_view<toml::node> n{ctl};
        if (auto v = n["socket"]) {
            auto s = v.value<std::string>();
            if (!s || (!s->empty() && (*s)[0] != '/'))
                err("control.socket", "must be an absolute path, or \"\" for no control socket");
            else
                c.control_socket = *s;
        }
    }
    if (toml::table* m = section("metrics", {"listen"})) {
        toml::node_view<toml::node> n{m};
        if (auto v = n["listen"]) {
            if (auto s = v.value<std::string>())
                c.metrics_listen = *s;
            else if (auto port = v.value<int64_t>(); port && v.is_integer())
                c.metrics_listen = std::to_string(*port);
            else
                err("metrics.listen", "must be \"HOST:PORT\" or a port number");
        }
    }
    if (toml::node* pn = doc.get("ports")) {
        toml::array* arr = pn->as_array();
        if (!arr) {
            err("ports", "must be an array of tables ([[ports]])");
        } else {
            size_t i = 0;
            for (toml::node& item : *arr) {
                std::string key = fmt::format("ports[{}]", i++);
                toml::table* t = item.as_table();
                if (!t) {
                    err(key, "must be a table");
                    continue;
                }
                for (const auto& [k, v] : *t)
                    if (k != "name" && k != "role" && k != "device" && k != "args")
                        err(fmt::format("{}.{}", key, k.str()), "unknown key");
                PortConfig p;
                toml::node_view<toml::node> n{t};
                p.name = n["name"].value_or<std::string>("");
                p.device = n["device"].value_or<std::string>("");
                p.args = n["args"].value_or<std::string>("");
                std::string role = n["role"].value_or<std::string>("");
                if (auto r = role_from(role))
                    p.role = *r;
                else
                    err(key + ".role", "must be \"host\", \"fabric\" or \"mirror\"");
                c.ports.push_back(std::move(p));
            }
        }
    }
    return errors;
}

std::optional<PortConfig> parse_port_flag(const std::string& text, size_t index,
                                          std::string& error) {
    size_t colon = text.find(':');
    if (colon == std::string::npos) {
        error = fmt::format(
            "--port {}: expected ROLE:DEVICE[,ARGS], e.g. fabric:net_af_packet0,iface=eth1", text);
        return std::nullopt;
    }
    PortConfig p;
    auto role = role_from(text.substr(0, colon));
    if (!role) {
        error = fmt::format("--port {}: role must be host, fabric or mirror", text);
        return std::nullopt;
    }
    p.role = *role;
    std::string rest = text.substr(colon + 1);
    size_t comma = rest.find(',');
    p.device = rest.substr(0, comma);
    if (comma != std::string::npos) p.args = rest.substr(comma + 1);
    p.name = fmt::format("{}{}", to_string(p.role), index);
    return p;
}

std::vector<std::string> validate(const Config& c) {
    std::vector<std::string> errors;
    std::set<std::string> names, devices;
    size_t hosts = 0, fabrics = 0, mirrors = 0;
    for (size_t i = 0; i < c.ports.size(); ++i) {
        const PortConfig& p = c.ports[i];
        std::string label =
            p.name.empty() ? fmt::format("port {}", i) : fmt::format("port {}", p.name);
        if (p.name.empty())
            errors.push_back(fmt::format("{}: has no name", label));
        else if (!names.insert(p.name).second)
            errors.push_back(fmt::format("{}: name used twice", label));
        if (p.device.empty()) {
            errors.push_back(fmt::format(
                "{}: no device (a PCI address or a vdev such as net_af_packet0)", label));
            continue;
        }
        if (!devices.insert(p.device).second)
            errors.push_back(fmt::format("{}: device {} used twice", label, p.device));
        if (!p.is_pci()) {
            const auto& known = known_vdev_drivers();
            if (std::find(known.begin(), known.end(), p.driver()) == known.end())
                errors.push_back(
                    fmt::format("{}: {} is neither a PCI address nor a vdev weftd runs ({})", label,
                                p.device, fmt::join(known, ", ")));
            if (p.device == p.driver())
                errors.push_back(fmt::format("{}: vdev {} needs an instance number ({}0)", label,
                                             p.device, p.device));
        } else if (!p.args.empty()) {
            errors.push_back(fmt::format("{}: a PCI port takes no args", label));
        }
        if ((p.driver() == "net_af_packet" || p.driver() == "net_af_xdp") && p.arg("iface").empty())
            errors.push_back(fmt::format("{}: {} needs args iface=<interface>", label, p.driver()));
        if (std::string file = p.arg("rx_pcap");
            p.driver() == "net_pcap" && !file.empty() && !std::filesystem::exists(file))
            errors.push_back(fmt::format("{}: capture {} does not exist", label, file));
        switch (p.role) {
            case PortRole::host:
                ++hosts;
                break;
            case PortRole::fabric:
                ++fabrics;
                break;
            case PortRole::mirror:
                ++mirrors;
                break;
        }
    }
    if (c.ports.empty())
        errors.push_back("no ports: give [[ports]] in the config or --port / --pcap");
    if (c.mode == Mode::inline_) {
        if (hosts != 1)
            errors.push_back(
                fmt::format("inline mode needs exactly one host port (have {})", hosts));
        if (fabrics < 1) errors.push_back("inline mode needs at least one fabric port");
        if (mirrors)
            errors.push_back("inline mode takes no mirror ports (run a passive weftd for those)");
    } else if (hosts || fabrics) {
        errors.push_back(
            "passive mode takes only mirror ports (host and fabric ports are for inline mode)");
    }
    if (c.workers < 1) errors.push_back("workers must be at least 1");
    if (c.drop_bad_icrc && !c.verify_icrc)
        errors.push_back("firewall.drop_bad_icrc needs firewall.verify_icrc");
    if (c.max_flows < c.workers)
        errors.push_back("flows.max_flows must be at least one per worker");
    // A rough floor: every port's pool, plus the flow tables, must fit in the memory given.
    uint64_t pool_mb = uint64_t(c.ports.size()) * c.mbufs_per_port * 10368 / (1 << 20);
    uint64_t flows_mb = uint64_t(c.max_flows) * 160 / (1 << 20);  // records, slots, extensions
    if (c.hugepages.value_or(false) == false && pool_mb + flows_mb + 64 > c.memory_mb)
        errors.push_back(
            fmt::format("eal.memory_mb {} is too small: {} port(s) x {} mbufs need {} MB, the flow "
                        "tables {} MB "
                        "(give more memory or fewer mbufs_per_port)",
                        c.memory_mb, c.ports.size(), c.mbufs_per_port, pool_mb, flows_mb));
    if (!c.metrics_listen.empty()) {
        std::string error;
        if (!parse_listen_address(c.metrics_listen, error)) errors.push_back(error);
    }
    if (std::string path = control_socket_path(c); path.size() >= sizeof(sockaddr_un{}.sun_path))
        errors.push_back(fmt::format("control socket {}: longer than {} bytes", path,
                                     sizeof(sockaddr_un{}.sun_path) - 1));
    if (c.exit_on_eof && std::none_of(c.ports.begin(), c.ports.end(), [](const PortConfig& p) {
            return p.driver() == "net_pcap" && !p.arg("rx_pcap").empty();
        }))
        errors.push_back(
            "--exit-on-eof needs a net_pcap port reading a file (rx_pcap=, or --pcap)");
    return errors;
}

std::string control_socket_path(const Config& c) {
    if (c.control_socket) return *c.control_socket;
    return ipc::default_socket_path(c.file_prefix.empty() ? fmt::format("weftd-{}", ::getpid())
                                                          : c.file_prefix);
}

std::string describe(const Config& c) {
    std::string s = fmt::format("mode {}, {} worker(s), flow table {} flows, idle timeout {} s{}\n",
                                to_string(c.mode), c.workers, c.max_flows, c.idle_timeout_s,
                                !c.verify_icrc    ? ", ICRCs not computed"
                                : c.drop_bad_icrc ? ", RoCE with a bad ICRC dropped"
                                                  : "");
    for (const PortConfig& p : c.ports)
        s += fmt::format("  port {:<10} {:<7} {}{}{}\n", p.name, to_string(p.role), p.device,
                         p.args.empty() ? "" : ",", p.args);
    std::string control = !c.control_socket && c.file_prefix.empty()
                              ? ipc::default_socket_path("weftd-<pid>")
                              : control_socket_path(c);
    s += fmt::format("  control socket {}, metrics {}\n", control.empty() ? "off" : control,
                     c.metrics_listen.empty() ? "off" : c.metrics_listen);
    if (c.mode == Mode::inline_)
        s += "  RoCE from the host leaves on a fabric port chosen by an ECMP hash of its 5-tuple;\n"
             "  everything else is forwarded untouched; malformed RoCE is dropped and counted\n";
    return s;
}

}  // namespace weft::dataplane

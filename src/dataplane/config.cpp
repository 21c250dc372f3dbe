#include "weft/dataplane/config.hpp"

#include "weft/crypt/keys.hpp"

#include <fmt/format.h>
#include <net/if.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <regex>
#include <set>

#include "weft/dataplane/config_sections.hpp"
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

namespace {

void parse_mode(const toml::node& node, Config& c, config::Problems& problems) {
    std::optional<std::string> s = node.value<std::string>();
    if (s == "passive")
        c.mode = Mode::passive;
    else if (s == "inline")
        c.mode = Mode::inline_;
    else
        problems.add("mode", "must be \"passive\" or \"inline\"");
}

void parse_workers(const toml::node& node, Config& c, config::Problems& problems) {
    config::read_uint(node, "workers", 1u, 128u, c.workers, problems);
}

void parse_ports(const toml::node& node, Config& c, config::Problems& problems) {
    const toml::array* arr = node.as_array();
    if (!arr) {
        problems.add("ports", "must be an array of tables ([[ports]])");
        return;
    }
    static constexpr std::string_view kKeys[] = {"name", "role", "device", "args"};
    size_t i = 0;
    for (const toml::node& item : *arr) {
        std::string key = fmt::format("ports[{}]", i++);
        const toml::table* t = item.as_table();
        if (!t) {
            problems.add(key, "must be a table");
            continue;
        }
        config::refuse_unknown_keys(*t, key, kKeys, problems);
        PortConfig p;
        config::read_string(*t, key, "name", p.name, problems);
        config::read_string(*t, key, "device", p.device, problems);
        config::read_string(*t, key, "args", p.args, problems);
        std::string role;
        config::read_string(*t, key, "role", role, problems);
        if (auto r = role_from(role))
            p.role = *r;
        else
            problems.add(key + ".role", "must be \"host\", \"fabric\" or \"mirror\"");
        c.ports.push_back(std::move(p));
    }
}

constexpr config::Section<Config> kSections[] = {
    {"mode", parse_mode},
    {"workers", parse_workers},
    {"eal", parse_eal_section},
    {"flows", parse_flows_section},
    {"firewall", parse_firewall_section},
    {"control", parse_control_section},
    {"metrics", parse_metrics_section},
    {"ports", parse_ports},
    {"psp", parse_psp_section},
    {"balance", parse_balance_section},
    {"classify", parse_classify_section},
};

}  // namespace

std::span<const config::Section<Config>> config_sections() {
    return kSections;
}

std::vector<std::string> load_config_file(const std::string& path, Config& c) {
    c.source = path;
    return config::load_file(path, config_sections(), c);
}

std::vector<std::string> load_config_string(std::string_view text, const std::string& name,
                                            Config& c) {
    c.source = name;
    return config::load_string(text, name, config_sections(), c);
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

bool read_prefixes(const toml::table& table, const std::string& section, std::string_view key,
                   std::vector<roce::IpPrefix>& out, config::Problems& problems) {
    const toml::node* node = table.get(key);
    if (!node) return false;
    const std::string where = fmt::format("{}.{}", section, key);
    const toml::array* list = node->as_array();
    if (!list || list->empty()) {
        problems.add(where, "must be a non-empty list of addresses or prefixes");
        return true;
    }
    for (const toml::node& h : *list) {
        const auto text = h.value<std::string>();
        const auto prefix = text ? roce::IpPrefix::parse(*text) : std::nullopt;
        if (!prefix)
            problems.add(where, fmt::format("{} is not an address or prefix (10.0.0.0/24, "
                                            "fd00::/64; no host bits set)",
                                            text ? *text : std::string("a non-string")));
        else
            out.push_back(*prefix);
    }
    return true;
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
        // a capture file that is not there is this host's problem (host_problems): an error
        // for a run, a warning for --check-config, which may run elsewhere
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
    // The prefix names a directory under DPDK's runtime root and weftd's default socket:
    // a name, never a path ("../x" would put both elsewhere).
    if (!c.eal.file_prefix.empty() &&
        (c.eal.file_prefix.find('/') != std::string::npos || c.eal.file_prefix == "." ||
         c.eal.file_prefix == ".." || c.eal.file_prefix.size() > 64))
        errors.push_back(fmt::format(
            "file prefix '{}': must be a name of at most 64 characters without '/', not a path",
            c.eal.file_prefix));
    if (c.psp.enabled() && c.mode != Mode::inline_)
        errors.push_back("[psp] seals and opens frames: it needs inline mode");
    if (c.psp.enabled() && c.psp.peers.empty())
        errors.push_back(
            "psp.peers: at least one [[psp.peers]] is required: nothing would be "
            "protected");
    if (c.balance.policy != BalancePolicy::ecmp && c.mode == Mode::inline_ &&
        std::max<size_t>(fabrics, 1) * std::max<uint32_t>(c.balance.source_ports, 1) < 2)
        errors.push_back(
            fmt::format("balance.policy \"{}\" needs two paths at least: two fabric ports, or "
                        "balance.source_ports of 2 or more",
                        to_string(c.balance.policy)));
    for (size_t k = 0; k < c.balance.classes.size(); ++k) {
        const auto& cb = c.balance.classes[k];
        if (cb.has_policy && cb.policy != BalancePolicy::ecmp && c.mode == Mode::inline_ &&
            std::max<size_t>(fabrics, 1) * std::max<uint32_t>(c.balance.source_ports, 1) < 2)
            errors.push_back(fmt::format(
                "balance.classes.{}.policy \"{}\" needs two paths at least: two fabric ports, "
                "or balance.source_ports of 2 or more",
                classify::to_string(classify::TrafficClass(k)), to_string(cb.policy)));
    }
    if (c.balance.reorder && c.balance.reorder_hosts.empty())
        errors.push_back(
            "balance.reorder needs balance.reorder_hosts: the hosts behind this weftd that the "
            "weftds across the fabric may spray to");
    if (c.balance.reorder && c.mode != Mode::inline_)
        errors.push_back("balance.reorder holds frames from the fabric: it needs inline mode");
    if (c.balance.policy == BalancePolicy::ecmp && c.balance.source_ports)
        errors.push_back(
            "balance.source_ports: only the flowlet and congestion policies write source ports");
    if (c.firewall.drop_bad_icrc && !c.firewall.verify_icrc)
        errors.push_back("firewall.drop_bad_icrc needs firewall.verify_icrc");
    if (c.flows.max_flows < c.workers)
        errors.push_back("flows.max_flows must be at least one per worker");
    // A rough floor: every port's mbuf pool must fit in the EAL's memory (64 MB left for
    // rings and the EAL itself). The flow tables are not in it: they are the process's own
    // memory (calloc'd, backed only as flows arrive), ~126 bytes a flow.
    uint64_t pool_mb = uint64_t(c.ports.size()) * c.eal.mbufs_per_port * 10368 / (1 << 20);
    if (c.eal.hugepages.value_or(false) == false && pool_mb + 64 > c.eal.memory_mb)
        errors.push_back(fmt::format(
            "eal.memory_mb {} is too small: {} port(s) x {} mbufs need {} MB and the EAL 64 MB "
            "(give more memory or fewer mbufs_per_port)",
            c.eal.memory_mb, c.ports.size(), c.eal.mbufs_per_port, pool_mb));
    if (!c.metrics.listen.empty()) {
        std::string error;
        if (!parse_listen_address(c.metrics.listen, error)) errors.push_back(error);
    }
    // an absolute path, as the file requires: a relative one would name a different socket
    // for every working directory weftctl runs in
    if (std::string path = control_socket_path(c); !path.empty() && path[0] != '/')
        errors.push_back(fmt::format("control socket {}: must be an absolute path", path));
    for (const PortConfig& p : c.ports) {
        const std::string frame = p.arg("framesz"), block = p.arg("blocksz");
        if (p.driver() != "net_af_packet" || frame.empty() || block.empty()) continue;
        const unsigned long f = std::strtoul(frame.c_str(), nullptr, 10),
                            b = std::strtoul(block.c_str(), nullptr, 10);
        // the PMD steps through its ring by the frame size: a block that is not a whole
        // number of frames makes it read the wrong places (one frame in 36 arrived)
        if (f == 0 || b % f != 0)
            errors.push_back(fmt::format("port {}: blocksz={} must be a multiple of framesz={}",
                                         p.name, block, frame));
    }
    // one interface on two ports would bridge it to itself
    for (size_t i = 0; i < c.ports.size(); ++i)
        for (size_t j = i + 1; j < c.ports.size(); ++j)
            if (!c.ports[i].arg("iface").empty() &&
                c.ports[i].arg("iface") == c.ports[j].arg("iface"))
                errors.push_back(fmt::format("ports {} and {} use the same interface {}",
                                             c.ports[i].name, c.ports[j].name,
                                             c.ports[i].arg("iface")));
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

std::vector<std::string> host_problems(const Config& c) {
    std::vector<std::string> problems;
    for (const PortConfig& port : c.ports) {
        if (port.is_pci()) continue;
        for (std::string_view key : {"iface", "rx_iface", "tx_iface", "rx_iface_in"}) {
            const std::string iface = port.arg(key);
            if (!iface.empty() && port.driver() != "net_tap" &&
                ::if_nametoindex(iface.c_str()) == 0)
                problems.push_back(
                    fmt::format("port {}: interface {} ({}=) does not exist on this host",
                                port.name, iface, key));
        }
        if (const std::string file = port.arg("rx_pcap"); !file.empty())
            if (::access(file.c_str(), R_OK) != 0)
                problems.push_back(
                    fmt::format("port {}: capture {}: {}", port.name, file, std::strerror(errno)));
    }
    // the file as weftd will load it (owner, mode, symbolic link, format), not only whether
    // it can be opened; the keys read are wiped at once
    if (c.psp.enabled()) try {
            (void)crypt::load_master_keys(c.psp.master_keys);
        } catch (const crypt::CryptError& e) {
            problems.push_back(fmt::format("psp.master_keys: {}", e.what()));
        }
    return problems;
}

std::string control_socket_path(const Config& c) {
    if (c.control.socket) return *c.control.socket;
    return ipc::default_socket_path(c.eal.file_prefix.empty() ? fmt::format("weftd-{}", ::getpid())
                                                              : c.eal.file_prefix);
}

std::string describe(const Config& c) {
    std::string s =
        fmt::format("mode {}, {} worker(s), flow table {} flows, idle timeout {} s{}\n",
                    to_string(c.mode), c.workers, c.flows.max_flows, c.flows.idle_timeout_s,
                    !c.firewall.verify_icrc    ? ", ICRCs not computed"
                    : c.firewall.drop_bad_icrc ? ", RoCE with a bad ICRC dropped"
                                               : "");
    for (const PortConfig& p : c.ports)
        s += fmt::format("  port {:<10} {:<7} {}{}{}\n", p.name, to_string(p.role), p.device,
                         p.args.empty() ? "" : ",", p.args);
    std::string control = !c.control.socket && c.eal.file_prefix.empty()
                              ? ipc::default_socket_path("weftd-<pid>")
                              : control_socket_path(c);
    s += fmt::format("  control socket {}, metrics {}\n", control.empty() ? "off" : control,
                     c.metrics.listen.empty() ? "off" : c.metrics.listen);
    if (c.mode == Mode::inline_) {
        s += c.balance.policy == BalancePolicy::congestion
                 ? fmt::format(
                       "  RoCE from the host goes by congestion-aware flowlets: a QP starts on "
                       "the better of two paths (uplink x {} source port(s)) and leaves "
                       "it, after {} us quiet, only when the path is congested ({} rounds of "
                       "{} us with NAKs, CNPs or resends >= {} per mille; usable again after "
                       "{} clean rounds);\n",
                       c.balance.source_ports ? std::to_string(c.balance.source_ports)
                                              : std::string("its own"),
                       c.balance.flowlet_gap_us, c.balance.congested_rounds, c.balance.round_us,
                       c.balance.signal_permille, c.balance.clear_rounds)
             : c.balance.policy == BalancePolicy::flowlet
                 ? fmt::format(
                       "  RoCE from the host goes by flowlets: a QP keeps its path (uplink x "
                       "{} source port(s)) until {} us quiet, then may take another;\n",
                       c.balance.source_ports ? std::to_string(c.balance.source_ports)
                                              : std::string("its own"),
                       c.balance.flowlet_gap_us)
                 : "  RoCE from the host leaves on a fabric port chosen by an ECMP hash of its "
                   "5-tuple;\n";
        s += "  other traffic is forwarded untouched; malformed RoCE is dropped and counted;\n";
        if (!c.psp.enabled()) {
            s +=
                "  PSP frames (UDP 1000) from the fabric are dropped and counted (no [psp] keys)\n";
        } else {
            s += fmt::format(
                "  PSP ({}, {} mode): RoCE to {} peer(s) sealed, PSP for receive SPI {:08x} "
                "(either generation) opened, the rest of PSP and plaintext RoCE from a protected "
                "peer dropped and counted; keys rotated {}\n",
                c.psp.version ? "AES-GCM-256" : "AES-GCM-128",
                c.psp.tunnel ? "tunnel" : "transport", c.psp.peers.size(), c.psp.rx_spi,
                c.psp.rotate_interval_s ? fmt::format("every {} s", c.psp.rotate_interval_s)
                                        : std::string("by weftctl keys rotate"));
            for (const PspPeerConfig& p : c.psp.peers) {
                std::vector<std::string> hosts, local;
                for (const auto& h : p.hosts) hosts.push_back(h.to_string());
                for (const auto& h : p.local_hosts) local.push_back(h.to_string());
                s += fmt::format(
                    "    peer {}: SPI {:08x}, hosts {}{}\n", p.name, p.spi, fmt::join(hosts, " "),
                    local.empty() ? std::string()
                                  : fmt::format(", local hosts {}", fmt::join(local, " ")));
            }
        }
    }
    return s;
}

}  // namespace weft::dataplane

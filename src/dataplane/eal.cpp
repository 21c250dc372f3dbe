#include "weft/dataplane/eal.hpp"

#include <fmt/format.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <unistd.h>
#include "weft/dataplane/config_sections.hpp"

#include <fstream>

namespace weft::dataplane {

namespace {

bool free_hugepages() {
    std::ifstream in("/proc/meminfo");
    std::string key;
    long value = 0;
    while (in >> key >> value) {
        if (key == "HugePages_Free:") return value > 0;
        in.ignore(256, '\n');
    }
    return false;
}

}  // namespace

std::vector<std::string> eal_arguments(const Config& c, const Plan& p) {
    std::vector<std::string> a = {"weftd"};
    // --lcores maps lcore ids to CPUs: worker i is lcore i, the main lcore comes last.
    std::string lcores;
    for (size_t i = 0; i < p.worker_lcores.size(); ++i)
        lcores += fmt::format("{}@{},", i, p.worker_lcores[i]);
    const std::string main_lcore = std::to_string(p.worker_lcores.size());
    lcores += main_lcore + "@" + std::to_string(p.main_lcore);
    a.insert(a.end(), {"--lcores", lcores, "--main-lcore", main_lcore});
    a.insert(a.end(),
             {"--file-prefix",
              c.eal.file_prefix.empty() ? fmt::format("weftd-{}", getpid()) : c.eal.file_prefix});
    if (c.eal.hugepages.value_or(free_hugepages())) {
        a.push_back("--huge-unlink");
    } else {
        a.insert(a.end(), {"--no-huge", "-m", std::to_string(c.eal.memory_mb)});
    }
    bool any_pci = false;
    for (const PortConfig& port : c.ports) {
        if (port.is_pci()) {
            a.insert(a.end(), {"-a", port.device});
            any_pci = true;
        } else {
            a.insert(a.end(),
                     {"--vdev", port.args.empty() ? port.device : port.device + "," + port.args});
        }
    }
    if (!any_pci) a.push_back("--no-pci");
    // DPDK logs to stderr; keep it to warnings so weftd's own messages stay readable
    a.insert(a.end(), {"--log-level", "*:warning"});
    // weftd has its own telemetry (control socket, Prometheus); DPDK's socket would only
    // announce on every start that it has no legacy callbacks
    a.push_back("--no-telemetry");
    return a;
}

Eal::Eal(const Config& c, const Plan& p) {
    std::vector<std::string> args = eal_arguments(c, p);
    std::vector<char*> argv;
    for (std::string& s : args) argv.push_back(s.data());
    argv.push_back(nullptr);
    if (rte_eal_init(int(args.size()), argv.data()) < 0)
        throw DataplaneError(fmt::format("DPDK EAL did not start: {}", rte_strerror(rte_errno)));
}

Eal::~Eal() {
    rte_eal_cleanup();
}

void parse_eal_section(const toml::node& node, Config& c, config::Problems& problems) {
    const toml::table* t = config::as_table(node, "eal", problems);
    if (!t) return;
    static constexpr std::string_view kKeys[] = {"file_prefix", "hugepages", "memory_mb",
                                                 "mbufs_per_port"};
    config::refuse_unknown_keys(*t, "eal", kKeys, problems);
    std::string prefix;
    if (config::read_string(*t, "eal", "file_prefix", prefix, problems)) {
        if (prefix.empty() || prefix.find('/') != std::string::npos)
            problems.add("eal.file_prefix", "must be a non-empty name without '/'");
        else
            c.eal.file_prefix = prefix;
    }
    bool huge = false;
    if (config::read_bool(*t, "eal", "hugepages", huge, problems)) c.eal.hugepages = huge;
    config::read_uint(*t, "eal", "memory_mb", 64u, 1u << 20, c.eal.memory_mb, problems);
    config::read_uint(*t, "eal", "mbufs_per_port", 512u, 1u << 22, c.eal.mbufs_per_port, problems);
}

}  // namespace weft::dataplane

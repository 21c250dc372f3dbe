#include "weft/dataplane/eal.hpp"

#include <dirent.h>
#include <fmt/format.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <numeric>
#include "weft/dataplane/config_sections.hpp"
#include "weft/dataplane/ports.hpp"

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

// DPDK's runtime directory root: /var/run/dpdk for root, $XDG_RUNTIME_DIR/dpdk otherwise.
std::string runtime_root() {
    if (::geteuid() == 0) return "/var/run/dpdk";
    const char* xdg = std::getenv("XDG_RUNTIME_DIR");
    return fmt::format("{}/dpdk", xdg && *xdg ? xdg : "/tmp");
}

// The files DPDK puts in a runtime directory (with shared files: weftd before
// --in-memory, or a process killed before it could clean up).
bool dpdk_runtime_file(const std::string& name) {
    return name == "config" || name == "hugepage_info" || name.rfind("fbarray_", 0) == 0 ||
           name.rfind("mp_socket", 0) == 0 || name.rfind("dpdk_telemetry", 0) == 0;
}

void reclaim_stale_runtime_dirs() {
    const std::string root = runtime_root();
    DIR* d = ::opendir(root.c_str());
    if (!d) return;
    std::vector<std::string> stale;
    while (dirent* e = ::readdir(d)) {
        // Only weftd's default prefix, "weftd-<pid>": its pid says whether it is stale.
        const std::string name = e->d_name;
        if (name.rfind("weftd-", 0) != 0 || name.size() == 6 ||
            name.find_first_not_of("0123456789", 6) != std::string::npos || name.size() > 16)
            continue;
        const long pid = std::strtol(name.c_str() + 6, nullptr, 10);
        if (pid <= 0 || (::kill(pid_t(pid), 0) != 0 && errno == ESRCH)) stale.push_back(name);
    }
    ::closedir(d);
    for (const std::string& name : stale) {
        const std::string dir = root + "/" + name;
        if (DIR* sub = ::opendir(dir.c_str())) {
            std::vector<std::string> files;
            while (dirent* e = ::readdir(sub))
                if (dpdk_runtime_file(e->d_name)) files.push_back(e->d_name);
            ::closedir(sub);
            for (const std::string& f : files) ::unlink((dir + "/" + f).c_str());
        }
        ::rmdir(dir.c_str());  // fails, and leaves it, if anything else is in it
    }
}

}  // namespace

unsigned interface_mtu(const std::string& iface) {
    std::ifstream in("/sys/class/net/" + iface + "/mtu");
    unsigned mtu = 0;
    return (in >> mtu) ? mtu : 0;
}

unsigned af_packet_frame_size(unsigned mtu) {
    // the frame (MTU + Ethernet header + two VLAN tags) behind the kernel's 32-byte tpacket
    // header, in whole KiB (so a block of a few pages holds whole frames: the PMD walks its
    // ring at a stride of the frame size, which skips frames when a block's size is not a
    // multiple of it); never less than the PMD's default, never more than an mbuf's data
    // room takes (the PMD refuses the port then)
    const unsigned need = (mtu + 14 + 8 + 32 + 1023) / 1024 * 1024;
    return std::clamp(need, 2048u, (kMbufDataRoom + 32) / 1024 * 1024);
}

std::string vdev_arguments(const PortConfig& port) {
    std::string args = port.args;
    if (port.driver() != "net_af_packet" || !port.arg("framesz").empty()) return args;
    // net_af_packet's default ring frame is 2048 bytes: a longer frame (RoCE at MTU 4096 on
    // a jumbo-frame link) is cut to it, and the cut frame reads as malformed. Size the ring
    // for the interface's MTU unless the operator chose.
    const unsigned mtu = interface_mtu(port.arg("iface"));
    const unsigned frame = af_packet_frame_size(mtu);
    if (mtu == 0 || frame <= 2048) return args;
    const unsigned block = std::lcm(frame, 4096u);  // whole pages and whole frames
    args += fmt::format("{}framesz={}", args.empty() ? "" : ",", frame);
    if (port.arg("blocksz").empty()) args += fmt::format(",blocksz={}", block);
    return args;
}

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
    // No shared runtime files: weftd has no secondary processes to share them with, and
    // without this every run left several MB in /var/run/dpdk/<prefix> (RAM, on tmpfs).
    // --in-memory (hugepages without files of their own) refuses --no-huge, whose legacy
    // memory mode takes --no-shconf for the same effect.
    if (c.eal.hugepages.value_or(free_hugepages())) {
        a.push_back("--in-memory");
    } else {
        a.insert(a.end(), {"--no-shconf", "--no-huge", "-m", std::to_string(c.eal.memory_mb)});
    }
    bool any_pci = false;
    for (const PortConfig& port : c.ports) {
        if (port.is_pci()) {
            a.insert(a.end(), {"-a", port.device});
            any_pci = true;
        } else {
            const std::string args = vdev_arguments(port);
            a.insert(a.end(), {"--vdev", args.empty() ? port.device : port.device + "," + args});
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
    reclaim_stale_runtime_dirs();
    std::vector<std::string> args = eal_arguments(c, p);
    std::vector<char*> argv;
    for (std::string& s : args) argv.push_back(s.data());
    argv.push_back(nullptr);
    rte_errno = 0;
    if (rte_eal_init(int(args.size()), argv.data()) < 0) {
        // rte_errno is not set on every failure path ("Success" is no reason)
        const int e = rte_errno;
        throw DataplaneError(
            fmt::format("DPDK EAL did not start: {}",
                        e ? rte_strerror(e) : "see DPDK's messages above for the reason"));
    }
    runtime_dir_ = rte_eal_get_runtime_dir();
}

Eal::~Eal() {
    rte_eal_cleanup();
    // --in-memory leaves the directory empty; rmdir removes it only then
    if (!runtime_dir_.empty()) ::rmdir(runtime_dir_.c_str());
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

// weftd's configuration: a TOML file and command-line flags, checked as a whole before
// anything starts. Every problem is reported on its own line, in words an operator can
// act on; nothing here touches DPDK, so `weftd --check-config` works on any machine.
#pragma once

#include "weft/roce/ip_address.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "weft/classify/rules.hpp"
#include "weft/dataplane/firewall.hpp"

namespace weft::dataplane {

enum class Mode { passive, inline_ };
enum class PortRole { host, fabric, mirror };

std::string_view to_string(Mode m);
std::string_view to_string(PortRole r);

struct PortConfig {
    std::string name;  // the operator's name for it ("host", "uplink0")
    PortRole role = PortRole::mirror;
    std::string device;  // a PCI address (0000:3b:00.0) or a vdev name (net_af_packet0)
    std::string args;    // vdev arguments ("iface=eth1,qpairs=2"); "" for PCI
    bool is_pci() const;
    std::string driver() const;  // "net_af_packet", ..., or "pci"
    // The value of one vdev argument ("iface" in "iface=eth1,qpairs=2"); "" when absent.
    std::string arg(std::string_view key) const;
};

// [eal]: how DPDK's EAL starts (eal.cpp parses it).
struct EalConfig {
    std::string file_prefix;        // "" = weftd-<pid>
    std::optional<bool> hugepages;  // unset: use them when some are free
    uint32_t memory_mb = 512;       // without hugepages
    uint32_t mbufs_per_port = 8192;
};

// [flows]: the flow tables, across all workers (pipeline.cpp parses it).
struct FlowsConfig {
    uint32_t max_flows = 1u << 20;
    uint32_t idle_timeout_s = 60;  // 0: flows never expire
};

// [control]: the local control socket (control_server.cpp parses it).
struct ControlConfig {
    std::optional<std::string> socket;  // unset: /run/weft/<file prefix>.sock; "": none
};

// [metrics]: the Prometheus endpoint (metrics.cpp parses it).
struct MetricsConfig {
    std::string listen;  // "": no endpoint; PORT = loopback
};

// [psp] and [[psp.peers]]: encryption of back-end RoCE between weftd peers (stage_crypt.cpp
// parses it). Off unless master_keys is set.
struct PspPeerConfig {
    // Whether traffic between a local address and one behind this peer is protected.
    bool protects(const roce::IpAddress& local, const roce::IpAddress& remote) const {
        bool remote_in = false;
        for (const roce::IpPrefix& h : hosts) remote_in = remote_in || h.contains(remote);
        if (!remote_in) return false;
        if (local_hosts.empty()) return true;
        for (const roce::IpPrefix& h : local_hosts)
            if (h.contains(local)) return true;
        return false;
    }
    std::string name;
    std::vector<roce::IpPrefix> hosts;  // inner addresses behind the peer weftd
    uint32_t spi = 0;                   // the peer's receive SPI (its rx_spi)
    // The addresses on this side whose traffic with `hosts` is protected (prefix pairs);
    // empty: every host behind this weftd.
    std::vector<roce::IpPrefix> local_hosts;
};
inline constexpr size_t kMaxPspPeers = 1024;
struct PspConfig {
    std::string master_keys;  // a file of two 256-bit master keys (root's, mode 0600)
    uint32_t rx_spi = 0;      // this weftd's receive SPI, either generation (bit 31)
    uint8_t version = 0;      // 0: AES-GCM-128, 1: AES-GCM-256
    bool tunnel = false;
    int crypt_offset = -1;  // -1: inner UDP + BTH in clear
    // Rotation (psp_keys.hpp): on a timer at wall-clock multiples of this (0: only by
    // `weftctl keys rotate`), and how long senders wait before sealing with a master key
    // newly loaded, so every peer has loaded it first.
    uint32_t rotate_interval_s = 0;
    uint32_t rotate_send_delay_ms = 5000;
    std::vector<PspPeerConfig> peers;
    bool enabled() const { return !master_keys.empty(); }
};

// [classify] and [[classify.rules]]: which traffic class RoCE from the host is (the
// classify stage; stage_classify.cpp parses it). No rules: every packet is `unknown`.
struct ClassifyConfig {
    std::vector<classify::ClassRule> rules;
};

// [balance]: how balance.decide puts host RoCE on paths (stage_balance.cpp parses it).
enum class BalancePolicy : uint8_t { ecmp, flowlet, congestion, spray };
const char* to_string(BalancePolicy p);
// "ecmp", "flowlet", "congestion", "spray"; false for anything else
bool balance_policy_from(std::string_view name, BalancePolicy& out);
struct BalanceConfig {
    BalancePolicy policy = BalancePolicy::ecmp;
    // flowlet: a QP may change path after this much quiet; it must exceed the difference in
    // delay between the fabric's paths, or packets of a new flowlet overtake the old one's
    uint32_t flowlet_gap_us = 500;
    // paths per uplink: UDP source ports from 0xC000 on that balance.apply writes (0: keep
    // the RNIC's port, one path per uplink)
    uint32_t source_ports = 0;
    // congestion: a round's length, and PLB's rule (balance/signals.hpp)
    uint32_t round_us = 10'000;
    uint32_t congested_rounds = 3;
    uint32_t clear_rounds = 20;
    uint32_t signal_permille = 5;
    // The receiving side of spraying: hold sprayed QPs' frames from the fabric and release
    // them in PSN order, and offer it to the weftds across the fabric for `reorder_hosts`
    // (the hosts behind this weftd) every offer_interval_ms.
    bool reorder = false;
    std::vector<roce::IpPrefix> reorder_hosts;
    uint32_t reorder_depth = 64;   // frames per QP, a power of two
    uint32_t reorder_flows = 256;  // QPs holding frames at once, per worker
    uint32_t reorder_timeout_us = 1000;
    uint32_t offer_interval_ms = 1000;
    // [balance.classes.NAME]: a traffic class's own policy and DSCP mark (index by
    // classify::TrafficClass)
    struct ClassBalance {
        bool has_policy = false;
        BalancePolicy policy = BalancePolicy::ecmp;
        int dscp = -1;  // -1: not marked
    };
    std::array<ClassBalance, 4> classes{};
};

struct Config {
    Mode mode = Mode::passive;
    uint32_t workers = 1;  // worker lcores; each polls one RX queue of every port
    std::vector<PortConfig> ports;
    EalConfig eal;
    FlowsConfig flows;
    FirewallConfig firewall;  // [firewall] (firewall.cpp parses it)
    ControlConfig control;
    MetricsConfig metrics;
    PspConfig psp;
    BalanceConfig balance;
    ClassifyConfig classify;
    // Command line only.
    // Sleep this long after a run of empty polls (0: busy-poll, the DPDK norm). For hosts
    // where weftd shares cores with the work it serves, such as CI's two-core VMs.
    uint32_t idle_sleep_us = 0;
    bool exit_on_eof = false;
    std::string dump_flows;  // write the flows (weft.flows/1) here on exit
    std::string source;      // where this came from, for messages
};

// Vdev drivers weftd knows how to run; anything else is refused by name.
const std::vector<std::string>& known_vdev_drivers();

// Parses a TOML file into `out` (fields absent from the file keep their value). Returns
// the problems found (empty: fine).
std::vector<std::string> load_config_file(const std::string& path, Config& out);
// The same for `text`, the contents of a file called `name` (problems name it).
std::vector<std::string> load_config_string(std::string_view text, const std::string& name,
                                            Config& out);

// Parses "ROLE:DEVICE[,ARGS]" (the --port flag); nullopt and `error` on failure.
std::optional<PortConfig> parse_port_flag(const std::string& text, size_t index,
                                          std::string& error);
// Checks the whole plan: roles against the mode, names, drivers, counts, limits.
std::vector<std::string> validate(const Config& c);
// What this host lacks for the configuration: interfaces named by ports' iface, rx_iface
// and tx_iface arguments that do not exist here, capture files (rx_pcap) that cannot be
// read. Checked before the EAL starts (it would fail with "no device net_af_packet0") and
// by --show-plan; --check-config, which may run on another host, prints them as warnings.
std::vector<std::string> host_problems(const Config& c);
// The control socket's path ("" when disabled): the configured one, else named after the
// DPDK file prefix (weftd-<pid> when none is set).
std::string control_socket_path(const Config& c);
// A few lines saying what this configuration will do.
std::string describe(const Config& c);

}  // namespace weft::dataplane

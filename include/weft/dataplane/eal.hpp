// DPDK's Environment Abstraction Layer, started from a weftd Config and Plan: lcores
// from the placement, vdevs and PCI allow-list from the ports, hugepages when there are
// free ones (or --no-huge with a bounded memory size), and a per-instance file prefix
// so several weftd can run on one host. rte_eal_cleanup() runs on destruction.
#pragma once

#include <stdexcept>
#include <string>
#include <vector>

#include "weft/dataplane/config.hpp"
#include "weft/dataplane/placement.hpp"

namespace weft::dataplane {

class DataplaneError : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

// The EAL arguments this configuration and plan turn into (shown by --show-plan).
std::vector<std::string> eal_arguments(const Config& c, const Plan& p);

// A port's vdev arguments as given to the EAL: the configured ones, plus, for
// net_af_packet without framesz, a ring frame size that holds the interface's MTU (the
// PMD's 2048-byte default cuts jumbo frames).
std::string vdev_arguments(const PortConfig& port);
// The ring frame size a net_af_packet port needs for an interface MTU.
unsigned af_packet_frame_size(unsigned mtu);
// An interface's MTU from sysfs; 0 when unknown.
unsigned interface_mtu(const std::string& iface);

class Eal {
  public:
    // Reclaims the runtime directories of weftd processes that died (default prefix,
    // "weftd-<pid>", pid gone: DPDK's own files in them only), then starts the EAL.
    // Throws DataplaneError with rte_strerror's text.
    Eal(const Config& c, const Plan& p);
    ~Eal();
    Eal(const Eal&) = delete;
    Eal& operator=(const Eal&) = delete;

  private:
    std::string runtime_dir_;  // removed on exit when empty (--in-memory leaves it so)
};

}  // namespace weft::dataplane

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

class Eal {
  public:
    Eal(const Config& c, const Plan& p);  // throws DataplaneError with rte_strerror's text
    ~Eal();
    Eal(const Eal&) = delete;
    Eal& operator=(const Eal&) = delete;
};

}  // namespace weft::dataplane

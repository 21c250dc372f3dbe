// Where weftd's threads run: the NUMA node nearest each port (hwloc: PCI locality for
// NICs, sysfs numa_node for the interface behind a vdev) and, on that node, one core per
// worker lcore (whole cores before hyperthread siblings), plus the main lcore for
// control. `weftd --show-plan` prints it; an impossible plan is an error before EAL.
#pragma once

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "weft/dataplane/config.hpp"

namespace weft::dataplane {

struct PortPlacement {
    std::string name;
    std::optional<int> numa_node;  // unknown for software ports without a device
    std::string how;               // how the node was found, in words
};

struct Plan {
    unsigned main_lcore = 0;
    // OS CPU numbers, one per worker. EAL lcore ids are the worker indices (worker i runs
    // on lcore i) and the main lcore is lcore `workers`, so two lcores may share a CPU.
    std::vector<unsigned> worker_lcores;
    int numa_node = -1;  // the node the workers are on (-1: no NUMA info)
    unsigned numa_nodes = 1;
    unsigned cores = 0, pus = 0;
    std::vector<PortPlacement> ports;
    std::vector<std::string> notes;  // choices an operator may want to know about
};

class PlanError : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

// Throws PlanError when the machine cannot run the configuration (more workers than
// cores beside the main lcore, ...). `allowed` restricts the CPUs (default: this
// process's affinity).
Plan make_plan(const Config& c);
std::string format(const Plan& p);

}  // namespace weft::dataplane

#include "weft/dataplane/placement.hpp"

#include <fmt/format.h>
#include <hwloc.h>
#include <sched.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <memory>
#include <set>

namespace weft::dataplane {

namespace {

struct Topology {
    hwloc_topology_t t = nullptr;
    Topology() {
        if (hwloc_topology_init(&t) != 0) throw PlanError("hwloc: cannot initialise the topology");
        hwloc_topology_set_io_types_filter(t, HWLOC_TYPE_FILTER_KEEP_IMPORTANT);
        if (hwloc_topology_load(t) != 0) {
            hwloc_topology_destroy(t);
            throw PlanError("hwloc: cannot load the machine's topology");
        }
    }
    ~Topology() { hwloc_topology_destroy(t); }
};

int node_of_cpuset(hwloc_topology_t t, hwloc_const_cpuset_t set) {
    hwloc_obj_t node =
        hwloc_get_next_obj_covering_cpuset_by_type(t, set, HWLOC_OBJ_NUMANODE, nullptr);
    if (node) return int(node->os_index);
    // NUMA nodes are memory children in hwloc 2: look for the one under the ancestor
    hwloc_obj_t anc = hwloc_get_obj_covering_cpuset(t, set);
    while (anc && anc->memory_arity == 0) anc = anc->parent;
    return anc && anc->memory_first_child ? int(anc->memory_first_child->os_index) : -1;
}

PortPlacement place_port(hwloc_topology_t t, const PortConfig& p) {
    PortPlacement pp{p.name, std::nullopt, ""};
    if (p.is_pci()) {
        hwloc_obj_t dev = hwloc_get_pcidev_by_busidstring(t, p.device.c_str());
        if (!dev) {
            pp.how = "PCI device not found by hwloc";
            return pp;
        }
        hwloc_obj_t anc = hwloc_get_non_io_ancestor_obj(t, dev);
        int node = anc ? node_of_cpuset(t, anc->cpuset) : -1;
        if (node >= 0) pp.numa_node = node;
        pp.how = "PCI locality (hwloc)";
        return pp;
    }
    std::string iface = p.arg("iface");
    if (!iface.empty()) {
        std::ifstream in("/sys/class/net/" + iface + "/device/numa_node");
        int node = -1;
        if (in >> node && node >= 0) {
            pp.numa_node = node;
            pp.how = fmt::format("interface {}'s device (sysfs)", iface);
        } else {
            pp.how = fmt::format("interface {} has no device with a NUMA node (virtual)", iface);
        }
        return pp;
    }
    pp.how = "software port, no locality";
    return pp;
}

}  // namespace

Plan make_plan(const Config& c) {
    Topology topo;
    hwloc_topology_t t = topo.t;
    Plan plan;
    plan.numa_nodes = unsigned(std::max(1, hwloc_get_nbobjs_by_type(t, HWLOC_OBJ_NUMANODE)));
    plan.cores = unsigned(std::max(1, hwloc_get_nbobjs_by_type(t, HWLOC_OBJ_CORE)));
    plan.pus = unsigned(std::max(1, hwloc_get_nbobjs_by_type(t, HWLOC_OBJ_PU)));

    cpu_set_t affinity;
    CPU_ZERO(&affinity);
    if (sched_getaffinity(0, sizeof affinity, &affinity) != 0)
        for (unsigned i = 0; i < plan.pus; ++i) CPU_SET(i, &affinity);

    std::map<int, int> votes;
    for (const PortConfig& p : c.ports) {
        plan.ports.push_back(place_port(t, p));
        if (plan.ports.back().numa_node) ++votes[*plan.ports.back().numa_node];
    }
    if (!votes.empty()) {
        plan.numa_node = std::max_element(votes.begin(), votes.end(), [](auto& a, auto& b) {
                             return a.second < b.second;
                         })->first;
        if (votes.size() > 1)
            plan.notes.push_back(fmt::format(
                "ports sit on {} NUMA nodes; workers go to node {}, which has the most; run one "
                "weftd per node to keep every port local",
                votes.size(), plan.numa_node));
    }

    // Candidate PUs: on the chosen node (or anywhere), allowed by our affinity, ordered so
    // the first PU of every core comes before any sibling.
    std::vector<unsigned> first_pus, siblings;
    int ncores = hwloc_get_nbobjs_by_type(t, HWLOC_OBJ_CORE);
    for (int i = 0; i < ncores; ++i) {
        hwloc_obj_t core = hwloc_get_obj_by_type(t, HWLOC_OBJ_CORE, unsigned(i));
        if (plan.numa_node >= 0 && node_of_cpuset(t, core->cpuset) != plan.numa_node) continue;
        bool first = true;
        unsigned pu;
        hwloc_bitmap_foreach_begin(pu, core->cpuset) {
            if (CPU_ISSET(pu, &affinity)) {
                (first ? first_pus : siblings).push_back(pu);
                first = false;
            }
        }
        hwloc_bitmap_foreach_end();
    }
    if (ncores <= 0) {  // no core objects (some VMs): every allowed PU is a core
        for (unsigned i = 0; i < plan.pus; ++i)
            if (CPU_ISSET(i, &affinity)) first_pus.push_back(i);
    }
    std::vector<unsigned> order = first_pus;
    order.insert(order.end(), siblings.begin(), siblings.end());
    if (order.empty()) throw PlanError("no allowed CPU on the ports' NUMA node");
    // The main lcore only does control work (it sleeps between checks): give it the last
    // candidate so workers take the first whole cores, and when there is no CPU left for
    // it, let it share the last worker's.
    if (order.size() < size_t(c.workers))
        throw PlanError(fmt::format(
            "{} worker(s) need {} CPUs (one each) on NUMA node {}, but only {} are available: "
            "lower `workers`",
            c.workers, c.workers, plan.numa_node < 0 ? 0 : plan.numa_node, order.size()));
    if (order.size() == size_t(c.workers)) {
        plan.main_lcore = order.back();
        plan.notes.push_back(
            fmt::format("the main lcore shares CPU {} with worker {} (it only wakes every 10 ms)",
                        order.back(), c.workers - 1));
    } else {
        plan.main_lcore = order.back();
        order.pop_back();
    }
    plan.worker_lcores.assign(order.begin(), order.begin() + c.workers);
    for (unsigned w : plan.worker_lcores)
        if (std::find(siblings.begin(), siblings.end(), w) != siblings.end()) {
            plan.notes.push_back("some workers share a core with another worker (hyperthreads)");
            break;
        }
    return plan;
}

std::string format(const Plan& p) {
    std::string s = fmt::format("machine: {} NUMA node(s), {} core(s), {} CPU(s)\n", p.numa_nodes,
                                p.cores, p.pus);
    for (const PortPlacement& pp : p.ports)
        s += fmt::format("port {:<10} NUMA node {:<4} ({})\n", pp.name,
                         pp.numa_node ? std::to_string(*pp.numa_node) : "any", pp.how);
    s += fmt::format("main lcore: CPU {} (control, telemetry)\n", p.main_lcore);
    for (size_t i = 0; i < p.worker_lcores.size(); ++i)
        s += fmt::format("worker {}: CPU {} (lcore {}; RX queue {} of every port that has one)\n",
                         i, p.worker_lcores[i], i, i);
    for (const std::string& n : p.notes) s += "note: " + n + "\n";
    return s;
}

}  // namespace weft::dataplane

#include "weft/dataplane/ports.hpp"

#include <fmt/format.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>

#include <dirent.h>
#include <linux/filter.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "weft/dataplane/eal.hpp"

namespace weft::dataplane {

namespace {
constexpr uint16_t kRxDescriptors = 1024;
constexpr uint16_t kTxDescriptors = 1024;

// The AF_PACKET sockets of this process bound to `ifindex` and not yet claimed: net_af_packet
// keeps its sockets to itself, so they are found by what the kernel says of each open
// descriptor (its domain, and the interface it is bound to).
std::vector<int> packet_sockets_on(unsigned ifindex, const std::vector<Port>& claimed) {
    std::vector<int> found;
    if (ifindex == 0) return found;
    DIR* d = ::opendir("/proc/self/fd");
    if (!d) return found;
    while (dirent* e = ::readdir(d)) {
        char* end = nullptr;
        const long fd = std::strtol(e->d_name, &end, 10);
        if (end == e->d_name || *end != '\0' || fd == ::dirfd(d)) continue;
        int domain = 0;
        socklen_t len = sizeof domain;
        if (::getsockopt(int(fd), SOL_SOCKET, SO_DOMAIN, &domain, &len) != 0 || domain != AF_PACKET)
            continue;
        sockaddr_ll addr{};
        len = sizeof addr;
        if (::getsockname(int(fd), reinterpret_cast<sockaddr*>(&addr), &len) != 0 ||
            unsigned(addr.sll_ifindex) != ifindex)
            continue;
        bool taken = false;
        for (const Port& p : claimed)
            taken |= std::find(p.packet_sockets.begin(), p.packet_sockets.end(), int(fd)) !=
                     p.packet_sockets.end();
        if (!taken) found.push_back(int(fd));
    }
    ::closedir(d);
    return found;
}

// Attaches a classic BPF filter that refuses frames the kernel marks PACKET_OUTGOING.
void ignore_outgoing(int fd, const std::string& port) {
    static sock_filter code[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, uint32_t(SKF_AD_OFF + SKF_AD_PKTTYPE)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, PACKET_OUTGOING, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, 0),           // outgoing: not delivered to weftd
        BPF_STMT(BPF_RET | BPF_K, 0xffffffff),  // anything else: the whole frame
    };
    sock_fprog prog{uint16_t(sizeof code / sizeof code[0]), code};
    if (::setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof prog) != 0)
        throw DataplaneError(
            fmt::format("port {}: cannot filter outgoing frames: {}", port, std::strerror(errno)));
}

}  // namespace

PortSet::PortSet(const Config& c) {
    try {
        for (const PortConfig& pc : c.ports) {
            Port p;
            p.config = pc;
            if (rte_eth_dev_get_port_by_name(pc.device.c_str(), &p.id) != 0)
                throw DataplaneError(fmt::format(
                    "port {}: DPDK has no device {} (did its driver load?)", pc.name, pc.device));
            rte_eth_dev_info info{};
            if (int rc = rte_eth_dev_info_get(p.id, &info); rc != 0)
                throw DataplaneError(fmt::format("port {}: {}", pc.name, rte_strerror(-rc)));
            p.rx_queues = uint16_t(std::min<uint32_t>(c.workers, info.max_rx_queues));
            p.tx_queues = uint16_t(std::min<uint32_t>(c.workers, info.max_tx_queues));
            if (p.rx_queues == 0 || p.tx_queues == 0)
                throw DataplaneError(
                    fmt::format("port {}: driver offers no RX or TX queue", pc.name));
            int socket = rte_eth_dev_socket_id(p.id);
            if (socket < 0) socket = int(rte_socket_id());
            std::string pool_name = fmt::format("weftd_pool_{}", p.id);
            uint32_t data_room = pc.driver() == "net_af_xdp" ? kAfXdpMbufDataRoom : kMbufDataRoom;
            p.pool = rte_pktmbuf_pool_create(pool_name.c_str(), c.eal.mbufs_per_port, 256, 0,
                                             uint16_t(data_room + RTE_PKTMBUF_HEADROOM), socket);
            if (!p.pool)
                throw DataplaneError(fmt::format("port {}: cannot create a pool of {} mbufs: {}",
                                                 pc.name, c.eal.mbufs_per_port,
                                                 rte_strerror(rte_errno)));
            ports_.push_back(p);  // from here on, release() stops, closes and frees it
            rte_eth_conf conf{};
            if (p.rx_queues > 1 && info.flow_type_rss_offloads) {
                conf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
                conf.rx_adv_conf.rss_conf.rss_hf =
                    (RTE_ETH_RSS_IP | RTE_ETH_RSS_UDP) & info.flow_type_rss_offloads;
            }
            if (int rc = rte_eth_dev_configure(p.id, p.rx_queues, p.tx_queues, &conf); rc != 0)
                throw DataplaneError(
                    fmt::format("port {}: configure: {}", pc.name, rte_strerror(-rc)));
            uint16_t nb_rx = kRxDescriptors, nb_tx = kTxDescriptors;
            rte_eth_dev_adjust_nb_rx_tx_desc(p.id, &nb_rx, &nb_tx);
            for (uint16_t q = 0; q < p.rx_queues; ++q)
                if (int rc =
                        rte_eth_rx_queue_setup(p.id, q, nb_rx, unsigned(socket), nullptr, p.pool);
                    rc != 0)
                    throw DataplaneError(
                        fmt::format("port {}: RX queue {}: {}", pc.name, q, rte_strerror(-rc)));
            for (uint16_t q = 0; q < p.tx_queues; ++q)
                if (int rc = rte_eth_tx_queue_setup(p.id, q, nb_tx, unsigned(socket), nullptr);
                    rc != 0)
                    throw DataplaneError(
                        fmt::format("port {}: TX queue {}: {}", pc.name, q, rte_strerror(-rc)));
            if (int rc = rte_eth_dev_start(p.id); rc != 0)
                throw DataplaneError(fmt::format("port {}: start: {}", pc.name, rte_strerror(-rc)));
            // A bridge-in-the-wire must see every frame, whatever its destination MAC.
            rte_eth_promiscuous_enable(p.id);
            if (pc.driver() == "net_af_packet") {
                p.packet_sockets =
                    packet_sockets_on(::if_nametoindex(pc.arg("iface").c_str()), ports_);
                // A packet socket also receives what other software sends out of its
                // interface (a replay tool, an agent's probes): those frames are leaving,
                // not arriving from the fabric or the host, and must not enter the
                // pipeline. The PMD has no option for it, and its sockets are in a fanout
                // group, which ignores PACKET_IGNORE_OUTGOING set afterwards; a socket
                // filter still runs per socket: it drops outgoing frames.
                for (int fd : p.packet_sockets) ignore_outgoing(fd, pc.name);
            }
            if (pc.role == PortRole::host) host_ = int(ports_.size() - 1);
            if (pc.role == PortRole::fabric) fabric_.push_back(uint16_t(ports_.size() - 1));
            ports_.back() = p;
        }
    } catch (...) {
        release();
        throw;
    }
}

PortSet::~PortSet() {
    release();
}

uint64_t PortSet::socket_ring_drops(size_t i) const {
    std::lock_guard lock(ring_drops_mutex_);
    if (ring_drops_.size() != ports_.size()) ring_drops_.assign(ports_.size(), 0);
    if (i >= ports_.size()) return 0;
    for (int fd : ports_[i].packet_sockets) {
        // tpacket_stats_v3 is the larger of the two layouts; tp_drops is where both have it
        tpacket_stats_v3 st{};
        socklen_t len = sizeof st;
        if (::getsockopt(fd, SOL_PACKET, PACKET_STATISTICS, &st, &len) == 0)
            ring_drops_[i] += st.tp_drops;
    }
    return ring_drops_[i];
}

rte_eth_stats PortSet::driver_stats(size_t i) const {
    rte_eth_stats st{};
    if (i >= ports_.size()) return st;
    rte_eth_stats_get(ports_[i].id, &st);
    st.imissed += socket_ring_drops(i);
    return st;
}

void PortSet::release() {
    for (Port& p : ports_) {
        rte_eth_dev_stop(p.id);
        rte_eth_dev_close(p.id);
        rte_mempool_free(p.pool);
    }
    ports_.clear();
}

}  // namespace weft::dataplane

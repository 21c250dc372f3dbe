#include "weft/dataplane/ports.hpp"

#include <fmt/format.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>

#include "weft/dataplane/eal.hpp"

namespace weft::dataplane {

namespace {
constexpr uint16_t kRxDescriptors = 1024;
constexpr uint16_t kTxDescriptors = 1024;
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

void PortSet::release() {
    for (Port& p : ports_) {
        rte_eth_dev_stop(p.id);
        rte_eth_dev_close(p.id);
        rte_mempool_free(p.pool);
    }
    ports_.clear();
}

}  // namespace weft::dataplane

// The ethdev ports of a weftd instance: each found by its device name after EAL start,
// configured with one RX and one TX queue per worker (fewer when the driver has fewer;
// those workers then leave the port alone), a mempool on the port's NUMA socket with
// mbufs large enough for 4 KB-MTU RoCE frames, and started. Stopped and closed on
// destruction.
#pragma once

#include <rte_ethdev.h>
#include <cstdint>
#include <string>

#include <mutex>
#include <vector>

#include "weft/dataplane/config.hpp"

struct rte_mempool;

namespace weft::dataplane {

struct Port {
    uint16_t id = 0;  // DPDK port id
    PortConfig config;
    uint16_t rx_queues = 0;
    uint16_t tx_queues = 0;
    rte_mempool* pool = nullptr;
    // net_af_packet: the PMD's packet sockets on the port's interface (one per queue),
    // for the kernel's count of frames their rings had no room for (see socket_ring_drops)
    std::vector<int> packet_sockets;
};

class PortSet {
  public:
    PortSet(const Config& c);  // throws DataplaneError naming the port and the reason
    ~PortSet();
    PortSet(const PortSet&) = delete;
    PortSet& operator=(const PortSet&) = delete;

    const std::vector<Port>& ports() const { return ports_; }
    // Index into ports() of the host port, the fabric ports (inline mode).
    int host() const { return host_; }
    const std::vector<uint16_t>& fabric() const { return fabric_; }

    // Frames the kernel dropped because port i's socket rings were full (net_af_packet;
    // 0 for other drivers): lost before weftd could read them, and counted by neither
    // the PMD (DPDK 22.11 reports imissed 0) nor weftd's own counters. Read from
    // PACKET_STATISTICS, which the kernel resets on every read: summed here, under a lock
    // (the control and metrics threads both ask). Since the port started.
    uint64_t socket_ring_drops(size_t i) const;
    // The driver's counters of port i, with the socket ring drops in imissed (frames the
    // port received and lost before weftd read them, whoever counted them).
    rte_eth_stats driver_stats(size_t i) const;

  private:
    void release();
    std::vector<Port> ports_;
    mutable std::mutex ring_drops_mutex_;
    mutable std::vector<uint64_t> ring_drops_;
    int host_ = -1;
    std::vector<uint16_t> fabric_;
};

// Frames up to this size fit in one mbuf: a 4096-byte RoCE payload with every header,
// and 9000-byte jumbo frames of other traffic.
inline constexpr uint32_t kMbufDataRoom = 9216 + 128;
// AF_XDP hands the kernel each mbuf as one UMEM chunk, which must fit in a 4 KB page:
// mbuf header, headroom and this data room leave room for RoCE MTU 2048 frames (XDP on
// veth refuses MTUs above ~3.5 KB anyway).
inline constexpr uint32_t kAfXdpMbufDataRoom = 3072;

}  // namespace weft::dataplane

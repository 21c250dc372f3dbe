// The ethdev ports of a weftd instance: each found by its device name after EAL start,
// configured with one RX and one TX queue per worker (fewer when the driver has fewer;
// those workers then leave the port alone), a mempool on the port's NUMA socket with
// mbufs large enough for 4 KB-MTU RoCE frames, and started. Stopped and closed on
// destruction.
#pragma once

#include <cstdint>
#include <string>
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

  private:
    void release();
    std::vector<Port> ports_;
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

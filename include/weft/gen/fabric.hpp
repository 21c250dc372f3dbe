// Hosts and queue pairs of a generated fabric, and the RoCE message exchanges between
// them: RC SEND, RDMA WRITE (with immediate), RDMA READ, with the responder's ACKs and
// READ responses, segmented by path MTU and sequenced by PSN as an RC QP would.
#pragma once

#include <cstdint>
#include <random>
#include <vector>

#include "weft/roce/builder.hpp"
#include "weft/roce/opcode.hpp"

namespace weft::gen {

using Batch = std::vector<roce::FrameSpec>;

struct FabricConfig {
    uint32_t mtu = 4096;  // RoCE path MTU: 256, 512, 1024, 2048 or 4096
    bool ipv6 = false;
    uint16_t vlan = 0;           // 0: untagged
    uint32_t ack_interval = 16;  // requester sets AckReq every N packets and on the last
};

struct Host {
    roce::IpAddress ip;
    roce::MacAddress mac;
};

// One side of an RC connection.
struct QpSide {
    uint32_t host = 0;
    uint32_t qpn = 0;
    uint32_t send_psn = 0;  // next PSN this side sends requests with
    uint16_t sport = 0;     // UDP source port (per QP, as RoCE NICs and rxe choose)
    uint32_t msn = 0;       // messages completed as responder
    uint32_t rkey = 0;
};

class Fabric {
  public:
    Fabric(const FabricConfig& config, uint64_t seed);

    // Host i: 10.0.<i/250>.<i%250+1> (or fd00::<i+1>), MAC 02:00:00:00:<i>.
    uint32_t add_host();
    uint32_t add_hosts(uint32_t n);
    const Host& host(uint32_t i) const { return hosts_[i]; }
    size_t host_count() const { return hosts_.size(); }
    const FabricConfig& config() const { return config_; }
    std::mt19937_64& rng() { return rng_; }

    // A fresh QP on a host: random QPN (>= 0x11, as QP0/QP1 are special), random
    // initial PSN, source port from the RoCE dynamic range.
    QpSide new_qp(uint32_t host);

    // A frame from `from` to `to`'s QP with the addressing filled in.
    roce::FrameSpec frame(const QpSide& from, const QpSide& to, uint8_t opcode, uint32_t psn) const;

  private:
    FabricConfig config_;
    std::mt19937_64 rng_;
    std::vector<Host> hosts_;
    uint32_t next_qpn_ = 0x11;
};

// An RC connection: side 0 and side 1 can each act as requester.
class RcConnection {
  public:
    RcConnection(Fabric& fabric, uint32_t host_a, uint32_t host_b);
    QpSide& side(int i) { return sides_[i]; }
    const QpSide& side(int i) const { return sides_[i]; }

    // Each appends the request packets and the responder's answers, in wire order.
    void send(int requester, uint32_t bytes, bool immediate, Batch& out);
    void write(int requester, uint32_t bytes, bool immediate, Batch& out);
    void read(int requester, uint32_t bytes, Batch& out);
    // A request answered by a NAK (e.g. a bad rkey): the NAK keeps the PSN.
    void write_nak(int requester, uint32_t bytes, uint32_t rkey, roce::AckKind nak, Batch& out);
    void read_nak(int requester, uint32_t bytes, uint32_t rkey, roce::AckKind nak, Batch& out);

    // The packets of a message without the responder's answers (for loss scenarios).
    Batch write_packets(int requester, uint32_t bytes, bool immediate);
    roce::FrameSpec ack(int responder, uint32_t psn, roce::AckKind kind = roce::AckKind::Ack);
    roce::FrameSpec cnp(int notifier) const;

  private:
    void segment(int requester, roce::Operation op, uint32_t bytes, bool immediate, Batch& out);
    Fabric& fabric_;
    QpSide sides_[2];
};

}  // namespace weft::gen

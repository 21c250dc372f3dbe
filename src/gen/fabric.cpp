#include "weft/gen/fabric.hpp"

#include <stdexcept>

#include "weft/roce/opcode.hpp"

namespace weft::gen {

using roce::AckKind;
using roce::Aeth;
using roce::FrameSpec;
namespace op = roce::opcode;

namespace {
constexpr uint32_t kPsnMask = 0xffffff;
constexpr uint8_t kAckCredits = 0x1f;  // "invalid credit count": end-to-end flow control off
}  // namespace

Fabric::Fabric(const FabricConfig& config, uint64_t seed) : config_(config), rng_(seed) {
    switch (config.mtu) {
        case 256:
        case 512:
        case 1024:
        case 2048:
        case 4096:
            break;
        default:
            throw std::invalid_argument("MTU must be 256, 512, 1024, 2048 or 4096");
    }
}

uint32_t Fabric::add_host() {
    uint32_t i = uint32_t(hosts_.size());
    Host h;
    if (config_.ipv6) {
        uint8_t b[16] = {0xfd, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
        roce::store_be32(b + 12, i + 1);
        h.ip = roce::IpAddress::from_v6(b);
    } else {
        h.ip = roce::IpAddress::from_v4(0x0a000000u | (i / 250) << 8 | (i % 250 + 1));
    }
    h.mac.bytes = {0x02, 0x00, uint8_t(i >> 24), uint8_t(i >> 16), uint8_t(i >> 8), uint8_t(i)};
    hosts_.push_back(h);
    return i;
}

uint32_t Fabric::add_hosts(uint32_t n) {
    uint32_t first = uint32_t(hosts_.size());
    for (uint32_t i = 0; i < n; ++i) add_host();
    return first;
}

QpSide Fabric::new_qp(uint32_t host) {
    QpSide q;
    q.host = host;
    // Spread QPNs the way a busy NIC does: increasing with random strides.
    next_qpn_ = (next_qpn_ + 1 + uint32_t(rng_() % 64)) & kPsnMask;
    if (next_qpn_ < 0x11) next_qpn_ = 0x11;
    q.qpn = next_qpn_;
    q.send_psn = uint32_t(rng_()) & kPsnMask;
    q.sport = uint16_t(49152 + rng_() % 16384);
    q.rkey = uint32_t(rng_());
    return q;
}

FrameSpec Fabric::frame(const QpSide& from, const QpSide& to, uint8_t opcode, uint32_t psn) const {
    FrameSpec s;
    const Host& a = hosts_[from.host];
    const Host& b = hosts_[to.host];
    s.src_mac = a.mac;
    s.dst_mac = b.mac;
    s.src = a.ip;
    s.dst = b.ip;
    if (config_.vlan) {
        s.vlan_count = 1;
        s.vlan_ids[0] = config_.vlan;
    }
    s.src_port = from.sport;
    s.bth.opcode = opcode;
    s.bth.dest_qp = to.qpn;
    s.bth.psn = psn & kPsnMask;
    s.payload_seed = psn ^ to.qpn;
    return s;
}

RcConnection::RcConnection(Fabric& fabric, uint32_t host_a, uint32_t host_b)
    : fabric_(fabric), sides_{fabric.new_qp(host_a), fabric.new_qp(host_b)} {}

FrameSpec RcConnection::ack(int responder, uint32_t psn, AckKind kind) {
    QpSide& r = sides_[responder];
    FrameSpec s = fabric_.frame(r, sides_[1 - responder], op::kRcAcknowledge, psn);
    s.aeth = Aeth{Aeth::syndrome_for(kind, kind == AckKind::Ack ? kAckCredits : 0), r.msn};
    return s;
}

FrameSpec RcConnection::cnp(int notifier) const {
    // Sent by the receiver of CE-marked packets to the QP that sent them (DCQCN).
    FrameSpec s = fabric_.frame(sides_[notifier], sides_[1 - notifier], op::kCnp, 0);
    s.ecn = 1;  // ECT(1): CNPs are usually sent at high priority and ECN-capable
    return s;
}

// Opcodes by position for SEND and WRITE: first, middle, last, last+imm, only, only+imm.
void RcConnection::segment(int requester, roce::Operation operation, uint32_t bytes, bool immediate,
                           Batch& out) {
    QpSide& q = sides_[requester];
    QpSide& r = sides_[1 - requester];
    const uint32_t mtu = fabric_.config().mtu;
    const bool is_write = operation == roce::Operation::Write;
    const uint8_t base = is_write ? op::kRcWriteFirst : op::kRcSendFirst;
    const uint32_t packets = bytes == 0 ? 1 : (bytes + mtu - 1) / mtu;
    const uint32_t interval = fabric_.config().ack_interval;
    for (uint32_t i = 0; i < packets; ++i) {
        uint8_t code;
        bool first = i == 0, last = i + 1 == packets;
        if (first && last)
            code = uint8_t(base + (immediate ? 5 : 4));
        else if (first)
            code = base;
        else if (last)
            code = uint8_t(base + (immediate ? 3 : 2));
        else
            code = uint8_t(base + 1);
        uint32_t psn = q.send_psn;
        FrameSpec s = fabric_.frame(q, r, code, psn);
        s.payload_length = last ? bytes - i * mtu : mtu;
        if (is_write && first)
            s.reth = roce::Reth{0x7f0000000000ull + (uint64_t(r.qpn) << 20), r.rkey, bytes};
        if (immediate && last) s.immediate = uint32_t(fabric_.rng()());
        s.bth.ack_request = last || (interval && (i + 1) % interval == 0);
        s.bth.solicited = last && !is_write;
        out.push_back(s);
        q.send_psn = (q.send_psn + 1) & kPsnMask;
        if (last) ++r.msn;
        if (s.bth.ack_request) out.push_back(ack(1 - requester, psn));
    }
}

void RcConnection::send(int requester, uint32_t bytes, bool immediate, Batch& out) {
    segment(requester, roce::Operation::Send, bytes, immediate, out);
}

void RcConnection::write(int requester, uint32_t bytes, bool immediate, Batch& out) {
    segment(requester, roce::Operation::Write, bytes, immediate, out);
}

Batch RcConnection::write_packets(int requester, uint32_t bytes, bool immediate) {
    Batch all, requests;
    segment(requester, roce::Operation::Write, bytes, immediate, all);
    for (auto& f : all)
        if (f.bth.opcode != op::kRcAcknowledge) requests.push_back(f);
    return requests;
}

void RcConnection::read(int requester, uint32_t bytes, Batch& out) {
    QpSide& q = sides_[requester];
    QpSide& r = sides_[1 - requester];
    const uint32_t mtu = fabric_.config().mtu;
    const uint32_t psn = q.send_psn;
    FrameSpec req = fabric_.frame(q, r, op::kRcReadRequest, psn);
    req.reth = roce::Reth{0x7e0000000000ull + (uint64_t(r.qpn) << 20), r.rkey, bytes};
    req.bth.ack_request = true;
    out.push_back(req);
    const uint32_t packets = bytes == 0 ? 1 : (bytes + mtu - 1) / mtu;
    ++r.msn;
    for (uint32_t i = 0; i < packets; ++i) {
        bool first = i == 0, last = i + 1 == packets;
        uint8_t code = first && last ? op::kRcReadResponseOnly
                       : first       ? op::kRcReadResponseFirst
                       : last        ? op::kRcReadResponseLast
                                     : op::kRcReadResponseMiddle;
        FrameSpec s = fabric_.frame(r, q, code, psn + i);
        s.payload_length = last ? bytes - i * mtu : mtu;
        s.aeth = Aeth{Aeth::syndrome_for(AckKind::Ack, kAckCredits), r.msn};
        out.push_back(s);
    }
    q.send_psn = (psn + packets) & kPsnMask;  // a READ consumes one PSN per response packet
}

void RcConnection::write_nak(int requester, uint32_t bytes, uint32_t rkey, AckKind nak,
                             Batch& out) {
    QpSide& q = sides_[requester];
    QpSide& r = sides_[1 - requester];
    uint32_t psn = q.send_psn;
    FrameSpec s = fabric_.frame(q, r, op::kRcWriteOnly, psn);
    s.payload_length = std::min(bytes, fabric_.config().mtu);
    s.reth = roce::Reth{0x7f0000000000ull, rkey, s.payload_length};
    s.bth.ack_request = true;
    out.push_back(s);
    out.push_back(ack(1 - requester, psn, nak));
    // After a remote access error the responder's QP goes to the error state; the
    // attacker reconnects, which from the wire looks like the PSN moving on.
    q.send_psn = (psn + 1) & kPsnMask;
}

void RcConnection::read_nak(int requester, uint32_t bytes, uint32_t rkey, AckKind nak, Batch& out) {
    QpSide& q = sides_[requester];
    QpSide& r = sides_[1 - requester];
    uint32_t psn = q.send_psn;
    FrameSpec s = fabric_.frame(q, r, op::kRcReadRequest, psn);
    s.reth = roce::Reth{0x7e0000000000ull, rkey, bytes};
    s.bth.ack_request = true;
    out.push_back(s);
    out.push_back(ack(1 - requester, psn, nak));
    q.send_psn = (psn + 1) & kPsnMask;
}

}  // namespace weft::gen

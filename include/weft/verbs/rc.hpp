// Reliable-connected verbs resources with their lifetimes tied to C++ objects: the
// device context with its protection domain and completion queue, registered memory,
// and RC queue pairs taken through INIT -> RTR -> RTS towards a peer's QP. Used by
// weft-verbs; nothing here is on Weft's packet path.
#pragma once

#include <infiniband/verbs.h>

#include <array>
#include <cstdint>
#include <memory>
#include <string>

#include "weft/verbs/devices.hpp"
#include "weft/verbs/session.hpp"

namespace weft::verbs {

struct DeviceChoice {
    std::string device;  // "" = the first device
    uint8_t port = 1;
    int gid_index = -1;  // -1 = the port's first RoCE v2 GID with an IPv4 address
};

// A device opened for traffic: context, port, the GID we send from, PD and one CQ.
class RdmaContext {
  public:
    RdmaContext(const DeviceChoice& choice, int cq_entries);
    ~RdmaContext();
    RdmaContext(const RdmaContext&) = delete;
    RdmaContext& operator=(const RdmaContext&) = delete;

    ibv_context* context() const { return ctx_; }
    ibv_pd* pd() const { return pd_; }
    ibv_cq* cq() const { return cq_; }
    const std::string& device_name() const { return name_; }
    uint8_t port() const { return port_; }
    uint32_t gid_index() const { return gid_index_; }
    const std::array<uint8_t, 16>& gid() const { return gid_; }
    uint16_t port_mtu_bytes() const { return port_mtu_; }  // the port's active MTU

  private:
    void release();
    ibv_context* ctx_ = nullptr;
    ibv_pd* pd_ = nullptr;
    ibv_cq* cq_ = nullptr;
    std::string name_;
    uint8_t port_ = 1;
    uint32_t gid_index_ = 0;
    std::array<uint8_t, 16> gid_{};
    uint16_t port_mtu_ = 0;
};

// Page-aligned memory registered with the PD; zero-filled.
class MemoryRegion {
  public:
    MemoryRegion(RdmaContext& ctx, size_t bytes, int access);
    ~MemoryRegion();
    MemoryRegion(const MemoryRegion&) = delete;
    MemoryRegion& operator=(const MemoryRegion&) = delete;

    uint8_t* data() const { return data_; }
    size_t size() const { return bytes_; }
    uint32_t lkey() const { return mr_->lkey; }
    uint32_t rkey() const { return mr_->rkey; }
    uint64_t address() const { return reinterpret_cast<uintptr_t>(data_); }

  private:
    uint8_t* data_ = nullptr;
    size_t bytes_ = 0;
    ibv_mr* mr_ = nullptr;
};

class RcQueuePair {
  public:
    RcQueuePair(RdmaContext& ctx, uint32_t send_depth, uint32_t recv_depth);
    ~RcQueuePair();
    RcQueuePair(const RcQueuePair&) = delete;
    RcQueuePair& operator=(const RcQueuePair&) = delete;

    uint32_t qpn() const { return qp_->qp_num; }
    uint32_t first_psn() const { return psn_; }  // random, as IBA recommends
    // INIT -> RTR -> RTS towards `remote` (whose GID is `remote_gid`) at `mtu_bytes`.
    void connect(const QpEndpoint& remote, const std::array<uint8_t, 16>& remote_gid,
                 uint16_t mtu_bytes);

    // Each post throws VerbsError when the send or receive queue refuses the request.
    void post_recv(uint64_t wr_id, const MemoryRegion* mr, size_t offset, uint32_t length);
    void post_send(uint64_t wr_id, const MemoryRegion& mr, size_t offset, uint32_t length);
    void post_write_imm(uint64_t wr_id, const MemoryRegion& mr, size_t offset, uint32_t length,
                        uint64_t remote_addr, uint32_t rkey, uint32_t imm_host_order);
    void post_read(uint64_t wr_id, const MemoryRegion& mr, size_t offset, uint32_t length,
                   uint64_t remote_addr, uint32_t rkey);

  private:
    void post(ibv_send_wr& wr);
    RdmaContext& ctx_;
    ibv_qp* qp_ = nullptr;
    uint32_t psn_ = 0;
};

uint32_t mtu_bytes(ibv_mtu m);     // a verbs MTU enum in bytes (0 for an unknown value)
ibv_mtu mtu_enum(uint16_t bytes);  // an IBA MTU in bytes to its verbs enum (4096 above)

}  // namespace weft::verbs

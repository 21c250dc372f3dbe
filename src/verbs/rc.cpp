#include "weft/verbs/rc.hpp"

#include <arpa/inet.h>
#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <random>

namespace weft::verbs {

namespace {

std::string errno_text(int e) {
    return fmt::format("{} ({})", std::strerror(e), e);
}

// The first RoCE v2 GID carrying an IPv4 address (what rdma_cm would pick for an IPv4
// peer); failing that any RoCE v2 GID, then index 0.
uint32_t pick_gid(ibv_context* ctx, uint8_t port, int table_len) {
    std::vector<ibv_gid_entry> entries(size_t(std::max(table_len, 1)));
    ssize_t n = ibv_query_gid_table(ctx, entries.data(), entries.size(), 0);
    int any_v2 = -1;
    for (ssize_t i = 0; i < n; ++i) {
        const ibv_gid_entry& e = entries[size_t(i)];
        if (e.port_num != port || e.gid_type != IBV_GID_TYPE_ROCE_V2) continue;
        const uint8_t* g = e.gid.raw;
        bool v4 = std::all_of(g, g + 10, [](uint8_t b) { return b == 0; }) && g[10] == 0xff &&
                  g[11] == 0xff;
        if (v4) return e.gid_index;
        if (any_v2 < 0) any_v2 = int(e.gid_index);
    }
    return any_v2 >= 0 ? uint32_t(any_v2) : 0;
}

}  // namespace

uint32_t mtu_bytes(ibv_mtu m) {
    switch (m) {
        case IBV_MTU_256:
            return 256;
        case IBV_MTU_512:
            return 512;
        case IBV_MTU_1024:
            return 1024;
        case IBV_MTU_2048:
            return 2048;
        case IBV_MTU_4096:
            return 4096;
    }
    return 0;
}

ibv_mtu mtu_enum(uint16_t bytes) {
    if (bytes >= 4096) return IBV_MTU_4096;
    if (bytes >= 2048) return IBV_MTU_2048;
    if (bytes >= 1024) return IBV_MTU_1024;
    if (bytes >= 512) return IBV_MTU_512;
    return IBV_MTU_256;
}

RdmaContext::RdmaContext(const DeviceChoice& choice, int cq_entries) : port_(choice.port) {
    int n = 0;
    ibv_device** list = ibv_get_device_list(&n);
    if (!list || n == 0) {
        if (list) ibv_free_device_list(list);
        throw VerbsError("no RDMA device found (is rdma_rxe or a RoCE NIC driver loaded?)");
    }
    ibv_device* dev = nullptr;
    for (int i = 0; i < n && !dev; ++i)
        if (choice.device.empty() || choice.device == ibv_get_device_name(list[i])) dev = list[i];
    if (!dev) {
        std::string names;
        for (int i = 0; i < n; ++i)
            names += fmt::format("{}{}", i ? ", " : "", ibv_get_device_name(list[i]));
        ibv_free_device_list(list);
        throw VerbsError(fmt::format("no RDMA device named {} (have: {})", choice.device, names));
    }
    name_ = ibv_get_device_name(dev);
    ctx_ = ibv_open_device(dev);
    int open_errno = errno;
    ibv_free_device_list(list);
    if (!ctx_) throw VerbsError(fmt::format("cannot open {}: {}", name_, errno_text(open_errno)));
    try {
        ibv_port_attr pa{};
        if (int rc = ibv_query_port(ctx_, port_, &pa))
            throw VerbsError(fmt::format("{} port {}: {}", name_, port_, errno_text(rc)));
        if (pa.state != IBV_PORT_ACTIVE)
            throw VerbsError(fmt::format("{} port {} is not ACTIVE", name_, port_));
        port_mtu_ = uint16_t(mtu_bytes(pa.active_mtu));
        gid_index_ = choice.gid_index >= 0 ? uint32_t(choice.gid_index)
                                           : pick_gid(ctx_, port_, pa.gid_tbl_len);
        ibv_gid g{};
        if (int rc = ibv_query_gid(ctx_, port_, int(gid_index_), &g))
            throw VerbsError(fmt::format("{} GID index {}: {}", name_, gid_index_, errno_text(rc)));
        std::copy_n(g.raw, 16, gid_.begin());
        pd_ = ibv_alloc_pd(ctx_);
        if (!pd_) throw VerbsError(fmt::format("ibv_alloc_pd on {}: {}", name_, errno_text(errno)));
        cq_ = ibv_create_cq(ctx_, cq_entries, nullptr, nullptr, 0);
        if (!cq_)
            throw VerbsError(
                fmt::format("ibv_create_cq({}) on {}: {}", cq_entries, name_, errno_text(errno)));
    } catch (...) {
        release();
        throw;
    }
}

RdmaContext::~RdmaContext() {
    release();
}

void RdmaContext::release() {
    if (cq_) ibv_destroy_cq(cq_);
    if (pd_) ibv_dealloc_pd(pd_);
    if (ctx_) ibv_close_device(ctx_);
    cq_ = nullptr;
    pd_ = nullptr;
    ctx_ = nullptr;
}

MemoryRegion::MemoryRegion(RdmaContext& ctx, size_t bytes, int access) : bytes_(bytes) {
    size_t rounded = (std::max<size_t>(bytes, 1) + 4095) & ~size_t(4095);
    data_ = static_cast<uint8_t*>(std::aligned_alloc(4096, rounded));
    if (!data_) throw VerbsError(fmt::format("cannot allocate {} bytes", rounded));
    std::memset(data_, 0, rounded);
    mr_ = ibv_reg_mr(ctx.pd(), data_, std::max<size_t>(bytes, 1), access);
    if (!mr_) {
        int e = errno;
        std::free(data_);
        throw VerbsError(fmt::format("ibv_reg_mr of {} bytes: {}", bytes, errno_text(e)));
    }
}

MemoryRegion::~MemoryRegion() {
    ibv_dereg_mr(mr_);
    std::free(data_);
}

RcQueuePair::RcQueuePair(RdmaContext& ctx, uint32_t send_depth, uint32_t recv_depth) : ctx_(ctx) {
    ibv_qp_init_attr init{};
    init.send_cq = ctx.cq();
    init.recv_cq = ctx.cq();
    init.qp_type = IBV_QPT_RC;
    init.cap.max_send_wr = send_depth;
    init.cap.max_recv_wr = recv_depth;
    init.cap.max_send_sge = 1;
    init.cap.max_recv_sge = 1;
    qp_ = ibv_create_qp(ctx.pd(), &init);
    if (!qp_)
        throw VerbsError(
            fmt::format("ibv_create_qp (RC) on {}: {}", ctx.device_name(), errno_text(errno)));
    std::random_device rd;
    psn_ = rd() & 0xffffff;

    ibv_qp_attr a{};
    a.qp_state = IBV_QPS_INIT;
    a.pkey_index = 0;
    a.port_num = ctx.port();
    a.qp_access_flags = IBV_ACCESS_REMOTE_WRITE | IBV_ACCESS_REMOTE_READ | IBV_ACCESS_LOCAL_WRITE;
    if (int rc = ibv_modify_qp(
            qp_, &a, IBV_QP_STATE | IBV_QP_PKEY_INDEX | IBV_QP_PORT | IBV_QP_ACCESS_FLAGS)) {
        ibv_destroy_qp(qp_);
        throw VerbsError(fmt::format("QP to INIT: {}", errno_text(rc)));
    }
}

RcQueuePair::~RcQueuePair() {
    ibv_destroy_qp(qp_);
}

void RcQueuePair::connect(const QpEndpoint& remote, const std::array<uint8_t, 16>& remote_gid,
                          uint16_t mtu_bytes) {
    ibv_qp_attr a{};
    a.qp_state = IBV_QPS_RTR;
    a.path_mtu = mtu_enum(mtu_bytes);
    a.dest_qp_num = remote.qpn;
    a.rq_psn = remote.psn;
    a.max_dest_rd_atomic = 16;
    a.min_rnr_timer = 12;  // 0.64 ms
    a.ah_attr.is_global = 1;
    a.ah_attr.port_num = ctx_.port();
    a.ah_attr.grh.hop_limit = 64;
    a.ah_attr.grh.sgid_index = uint8_t(ctx_.gid_index());
    std::copy(remote_gid.begin(), remote_gid.end(), a.ah_attr.grh.dgid.raw);
    if (int rc =
            ibv_modify_qp(qp_, &a,
                          IBV_QP_STATE | IBV_QP_AV | IBV_QP_PATH_MTU | IBV_QP_DEST_QPN |
                              IBV_QP_RQ_PSN | IBV_QP_MAX_DEST_RD_ATOMIC | IBV_QP_MIN_RNR_TIMER))
        throw VerbsError(fmt::format("QP 0x{:06x} to RTR towards QP 0x{:06x}: {}", qpn(),
                                     remote.qpn, errno_text(rc)));
    ibv_qp_attr s{};
    s.qp_state = IBV_QPS_RTS;
    s.timeout = 14;  // 4.096 us * 2^14 = 67 ms before a retransmission
    s.retry_cnt = 7;
    s.rnr_retry = 7;  // infinite
    s.sq_psn = psn_;
    s.max_rd_atomic = 16;
    if (int rc = ibv_modify_qp(qp_, &s,
                               IBV_QP_STATE | IBV_QP_TIMEOUT | IBV_QP_RETRY_CNT | IBV_QP_RNR_RETRY |
                                   IBV_QP_SQ_PSN | IBV_QP_MAX_QP_RD_ATOMIC))
        throw VerbsError(fmt::format("QP 0x{:06x} to RTS: {}", qpn(), errno_text(rc)));
}

void RcQueuePair::post_recv(uint64_t wr_id, const MemoryRegion* mr, size_t offset,
                            uint32_t length) {
    ibv_sge sge{};
    ibv_recv_wr wr{};
    wr.wr_id = wr_id;
    if (mr) {
        sge.addr = mr->address() + offset;
        sge.length = length;
        sge.lkey = mr->lkey();
        wr.sg_list = &sge;
        wr.num_sge = 1;
    }
    ibv_recv_wr* bad = nullptr;
    if (int rc = ibv_post_recv(qp_, &wr, &bad))
        throw VerbsError(fmt::format("ibv_post_recv on QP 0x{:06x}: {}", qpn(), errno_text(rc)));
}

void RcQueuePair::post(ibv_send_wr& wr) {
    ibv_send_wr* bad = nullptr;
    if (int rc = ibv_post_send(qp_, &wr, &bad))
        throw VerbsError(fmt::format("ibv_post_send on QP 0x{:06x}: {}", qpn(), errno_text(rc)));
}

namespace {
ibv_send_wr make_wr(uint64_t wr_id, ibv_sge& sge, const MemoryRegion& mr, size_t offset,
                    uint32_t length, ibv_wr_opcode op) {
    sge.addr = mr.address() + offset;
    sge.length = length;
    sge.lkey = mr.lkey();
    ibv_send_wr wr{};
    wr.wr_id = wr_id;
    wr.sg_list = &sge;
    wr.num_sge = 1;
    wr.opcode = op;
    wr.send_flags = IBV_SEND_SIGNALED;
    return wr;
}
}  // namespace

void RcQueuePair::post_send(uint64_t wr_id, const MemoryRegion& mr, size_t offset,
                            uint32_t length) {
    ibv_sge sge;
    ibv_send_wr wr = make_wr(wr_id, sge, mr, offset, length, IBV_WR_SEND);
    post(wr);
}

void RcQueuePair::post_write_imm(uint64_t wr_id, const MemoryRegion& mr, size_t offset,
                                 uint32_t length, uint64_t remote_addr, uint32_t rkey,
                                 uint32_t imm_host_order) {
    ibv_sge sge;
    ibv_send_wr wr = make_wr(wr_id, sge, mr, offset, length, IBV_WR_RDMA_WRITE_WITH_IMM);
    wr.imm_data = htonl(imm_host_order);
    wr.wr.rdma.remote_addr = remote_addr;
    wr.wr.rdma.rkey = rkey;
    post(wr);
}

void RcQueuePair::post_read(uint64_t wr_id, const MemoryRegion& mr, size_t offset, uint32_t length,
                            uint64_t remote_addr, uint32_t rkey) {
    ibv_sge sge;
    ibv_send_wr wr = make_wr(wr_id, sge, mr, offset, length, IBV_WR_RDMA_READ);
    wr.wr.rdma.remote_addr = remote_addr;
    wr.wr.rdma.rkey = rkey;
    post(wr);
}

}  // namespace weft::verbs

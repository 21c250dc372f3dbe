#include "weft/verbs/traffic.hpp"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <sched.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <memory>
#include <numeric>

#include "weft/roce/bytes.hpp"
#include "weft/verbs/side_channel.hpp"

namespace weft::verbs {

namespace {

constexpr uint32_t kSendDepth = 8;
constexpr uint32_t kRecvDepth = 8;
constexpr uint32_t kGradientRecvsPerQp = 4;  // a peer is at most one burst ahead
constexpr uint32_t kKvBlocks = 4;            // READs rotate over this many server blocks
constexpr uint32_t kTagMagic = 0x57465447;   // "WFTG"
constexpr uint32_t kKvTagQp = 0xffffffff;    // KV blocks are tagged with no QP
constexpr size_t kTagBytes = 12;
constexpr int kAccess = IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_WRITE | IBV_ACCESS_REMOTE_READ;

double micros(Clock::time_point a, Clock::time_point b) {
    return std::chrono::duration<double, std::micro>(b - a).count();
}

// Work request ids carry what the request was, on which QP, and a sequence or slot.
enum class Work : uint8_t {
    write_imm = 1,
    recv = 2,
    send_request = 3,
    send_response = 4,
    read = 5
};
uint64_t work_id(Work w, uint32_t qp, uint32_t aux) {
    return uint64_t(w) << 56 | uint64_t(qp & 0xffff) << 32 | aux;
}
Work work_of(uint64_t id) {
    return Work(id >> 56);
}
uint32_t qp_of(uint64_t id) {
    return uint32_t(id >> 32) & 0xffff;
}
uint32_t aux_of(uint64_t id) {
    return uint32_t(id);
}

std::string_view work_name(Work w) {
    switch (w) {
        case Work::write_imm:
            return "RDMA WRITE with immediate";
        case Work::recv:
            return "receive";
        case Work::send_request:
            return "SEND (request)";
        case Work::send_response:
            return "SEND (response)";
        case Work::read:
            return "RDMA READ";
    }
    return "work request";
}

// Payload tags at both ends of a message let the receiver prove it got the right
// message whole, without paying to check every byte.
void stamp(uint8_t* msg, size_t len, uint32_t seq, uint32_t qp) {
    for (uint8_t* p : {msg, msg + len - kTagBytes}) {
        roce::store_be32(p, kTagMagic);
        roce::store_be32(p + 4, seq);
        roce::store_be32(p + 8, qp);
    }
}
bool tagged(const uint8_t* msg, size_t len, uint32_t seq, uint32_t qp) {
    for (const uint8_t* p : {msg, msg + len - kTagBytes})
        if (roce::load_be32(p) != kTagMagic || roce::load_be32(p + 4) != seq ||
            roce::load_be32(p + 8) != qp)
            return false;
    return true;
}

void fill_pattern(uint8_t* p, size_t n) {
    for (size_t i = 0; i < n; ++i) p[i] = uint8_t(i * 131 + 7);
}

// Drains the CQ, handing each successful completion to the pattern; a failed one ends
// the session with its status string. Notices a peer that gave up (side channel) and
// the run deadline while waiting.
class Poller {
  public:
    Poller(RdmaContext& ctx, SideChannel& channel, Clock::time_point deadline)
        : ctx_(ctx), channel_(channel), deadline_(deadline) {}

    template <typename OnCompletion>
    void wait(OnCompletion&& on_completion) {
        ibv_wc wc[16];
        int n = ibv_poll_cq(ctx_.cq(), 16, wc);
        if (n < 0) throw VerbsError("ibv_poll_cq failed");
        for (int i = 0; i < n; ++i) {
            if (wc[i].status != IBV_WC_SUCCESS) fail(wc[i]);
            on_completion(wc[i]);
        }
        if (n > 0) return;
        // Idle: give the CPU to the kernel (rxe does its work in softirq and workqueue
        // context on the same cores), and now and then look at the clock and the peer.
        sched_yield();
        if (++idle_ % 256 == 0) {
            if (Clock::now() > deadline_)
                throw VerbsError("traffic did not finish before the run timeout (--timeout)");
            channel_.check_peer(deadline_);  // throws when the peer gave up
        }
    }

  private:
    [[noreturn]] void fail(const ibv_wc& wc) {
        std::string what = fmt::format(
            "completion error on QP 0x{:06x} for {}: {} (status {}, vendor error 0x{:x})",
            wc.qp_num, work_name(work_of(wc.wr_id)), ibv_wc_status_str(wc.status), int(wc.status),
            wc.vendor_err);
        if (wc.status == IBV_WC_WR_FLUSH_ERR) {
            // A flush only says the QP is in error; the cause is usually the peer's, and
            // the peer says so over the side channel. Wait briefly for its reason.
            try {
                channel_.receive(Clock::now() + std::chrono::seconds(2));
            } catch (const VerbsError& e) {
                throw VerbsError(fmt::format("{}; {}", what, e.what()));
            }
        }
        throw VerbsError(what);
    }

    RdmaContext& ctx_;
    SideChannel& channel_;
    Clock::time_point deadline_;
    uint64_t idle_ = 0;
};

struct Layout {  // where things live in the one registered region
    size_t region_bytes = 0;
    size_t remote_offset = 0;  // what the peer may access
    size_t remote_bytes = 0;
};

Layout layout_of(const SessionPlan& p, bool server) {
    Layout l;
    const size_t n = p.qps;
    if (p.pattern == Pattern::gradient) {
        // [n send slots][n x 2 receive slots, alternating by iteration parity]
        l.remote_offset = n * p.message_bytes;
        l.remote_bytes = 2 * n * p.message_bytes;
    } else if (server) {
        // per QP [2 request slots][2 response slots], then the KV-cache blocks
        l.remote_offset = n * 2 * (size_t(p.request_bytes) + p.response_bytes);
        l.remote_bytes = p.read_every ? size_t(kKvBlocks) * p.read_bytes : 0;
    } else {
        // per QP [request][response][READ landing]
        l.remote_offset =
            n * (size_t(p.request_bytes) + p.response_bytes + (p.read_every ? p.read_bytes : 0));
        l.remote_bytes = 0;
    }
    l.region_bytes = l.remote_offset + l.remote_bytes;
    return l;
}

struct Resources {
    Resources(const SessionOptions& o, const SessionPlan& p, bool server)
        : ctx(o.device, int(p.qps * (kSendDepth + kRecvDepth))),
          layout(layout_of(p, server)),
          region(ctx, layout.region_bytes, kAccess) {
        for (uint16_t i = 0; i < p.qps; ++i)
            qps.push_back(std::make_unique<RcQueuePair>(ctx, kSendDepth, kRecvDepth));
    }
    Endpoint endpoint() const {
        Endpoint e;
        e.gid = ctx.gid();
        e.mtu = ctx.port_mtu_bytes();
        e.buffer_addr = region.address() + layout.remote_offset;
        e.buffer_bytes = layout.remote_bytes;
        e.rkey = region.rkey();
        for (const auto& q : qps) e.qps.push_back({q->qpn(), q->first_psn()});
        return e;
    }
    RdmaContext ctx;
    Layout layout;
    MemoryRegion region;
    std::vector<std::unique_ptr<RcQueuePair>> qps;
};

// Checks what the peer offers against what this plan will touch: a peer's lengths are
// not trusted either.
void check_peer(const SessionPlan& p, const Endpoint& peer, bool server) {
    if (peer.qps.size() != p.qps)
        throw VerbsError(
            fmt::format("peer offers {} QPs, the plan needs {}", peer.qps.size(), p.qps));
    Layout want = layout_of(p, !server);
    if (peer.buffer_bytes < want.remote_bytes)
        throw VerbsError(fmt::format("peer's buffer is {} bytes, the plan needs {}",
                                     peer.buffer_bytes, want.remote_bytes));
}

OperationReport operation(std::string name, std::string what, uint64_t count, uint64_t bytes,
                          std::vector<double>& latencies) {
    OperationReport r{std::move(name), std::move(what), count, bytes, {}};
    r.latency = summarize_latency(latencies);
    return r;
}

// --- gradient: symmetric, the same on both sides ------------------------------------

void run_gradient(Resources& res, const SessionPlan& p, const Endpoint& peer, Poller& poller,
                  const std::function<void()>& ready, SessionReport& rep) {
    const uint32_t n = p.qps, msg = p.message_bytes;
    uint8_t* base = res.region.data();
    uint8_t* landing = base + res.layout.remote_offset;
    fill_pattern(base, size_t(n) * msg);
    for (uint32_t q = 0; q < n; ++q)
        for (uint32_t k = 0; k < kGradientRecvsPerQp; ++k)
            res.qps[q]->post_recv(work_id(Work::recv, q, 0), nullptr, 0, 0);
    ready();

    std::vector<Clock::time_point> posted(n);
    std::vector<double> write_us, step_us;
    write_us.reserve(size_t(n) * p.iterations);
    step_us.reserve(p.iterations);
    Outcome& out = rep.local;
    uint32_t received_now = 0, received_next = 0;  // the peer may be one burst ahead
    for (uint32_t it = 0; it < p.iterations; ++it) {
        Clock::time_point step_start = Clock::now();
        for (uint32_t q = 0; q < n; ++q) {
            stamp(base + size_t(q) * msg, msg, it, q);
            uint64_t remote = peer.buffer_addr + (size_t(q) * 2 + it % 2) * msg;
            posted[q] = Clock::now();
            res.qps[q]->post_write_imm(work_id(Work::write_imm, q, it), res.region, size_t(q) * msg,
                                       msg, remote, peer.rkey, it);
        }
        uint32_t sends_done = 0;
        while (sends_done < n || received_now < n) {
            poller.wait([&](const ibv_wc& wc) {
                uint32_t q = qp_of(wc.wr_id);
                if (work_of(wc.wr_id) == Work::write_imm) {
                    ++sends_done;
                    write_us.push_back(micros(posted[q], Clock::now()));
                    ++out.operations_sent;
                    out.bytes_sent += msg;
                    return;
                }
                res.qps[q]->post_recv(work_id(Work::recv, q, 0), nullptr, 0, 0);
                ++out.operations_received;
                out.bytes_received += wc.byte_len;
                uint32_t imm = ntohl(wc.imm_data);
                bool ok = wc.opcode == IBV_WC_RECV_RDMA_WITH_IMM && wc.byte_len == msg &&
                          (wc.wc_flags & IBV_WC_WITH_IMM) && (imm == it || imm == it + 1) &&
                          tagged(landing + (size_t(q) * 2 + imm % 2) * msg, msg, imm, q);
                if (!ok) {
                    ++out.errors;
                    if (rep.problems.size() < 10)
                        rep.problems.push_back(fmt::format(
                            "QP {}: received write of {} bytes with immediate {} during "
                            "iteration {}: not the message the peer should have written",
                            q, wc.byte_len, imm, it));
                    return;
                }
                ++(imm == it ? received_now : received_next);
            });
        }
        step_us.push_back(micros(step_start, Clock::now()));
        received_now = received_next;
        received_next = 0;
    }
    rep.operations.push_back(operation("rdma_write_imm",
                                       "post to completion (acknowledged by the peer)",
                                       out.operations_sent, out.bytes_sent, write_us));
    std::vector<double> none;
    rep.operations.push_back(operation("rdma_write_imm_received", "", out.operations_received,
                                       out.bytes_received, none));
    rep.operations.push_back(
        operation("iteration", "one burst: every QP's write sent and the peer's received",
                  p.iterations, uint64_t(p.iterations) * n * msg * 2, step_us));
}

// --- inference: the client asks, the server answers ----------------------------------

void run_inference_client(Resources& res, const SessionPlan& p, const Endpoint& peer,
                          Poller& poller, const std::function<void()>& ready, SessionReport& rep) {
    const uint32_t n = p.qps, total = p.iterations;
    const size_t req = p.request_bytes, resp = p.response_bytes;
    const size_t read = p.read_every ? p.read_bytes : 0;
    const size_t stride = req + resp + read;
    uint8_t* base = res.region.data();
    fill_pattern(base, res.layout.region_bytes);

    struct QpState {
        uint32_t seq = 0;
        uint32_t pending = 0;
        Clock::time_point sent, read_posted;
    };
    std::vector<QpState> st(n);
    std::vector<double> request_us, read_us;
    request_us.reserve(total);
    read_us.reserve(p.read_every ? total / p.read_every + 1 : 0);
    uint64_t reads = 0, read_bytes = 0;
    uint32_t issued = 0, done = 0;
    Outcome& out = rep.local;

    auto issue = [&](uint32_t q) {
        if (issued >= total) return;
        QpState& s = st[q];
        s.seq = issued++;
        size_t slot = size_t(q) * stride;
        stamp(base + slot, req, s.seq, q);
        res.qps[q]->post_recv(work_id(Work::recv, q, s.seq), &res.region, slot + req,
                              uint32_t(resp));
        s.sent = Clock::now();
        res.qps[q]->post_send(work_id(Work::send_request, q, s.seq), res.region, slot,
                              uint32_t(req));
        s.pending = 2;
        if (read && s.seq % p.read_every == 0) {
            uint32_t block = (s.seq / p.read_every) % kKvBlocks;
            s.read_posted = Clock::now();
            res.qps[q]->post_read(work_id(Work::read, q, block), res.region, slot + req + resp,
                                  uint32_t(read), peer.buffer_addr + block * read, peer.rkey);
            ++s.pending;
        }
    };
    auto problem = [&](std::string what) {
        ++out.errors;
        if (rep.problems.size() < 10) rep.problems.push_back(std::move(what));
    };

    ready();  // each response's receive is posted with its request
    for (uint32_t q = 0; q < n; ++q) issue(q);
    while (done < total) {
        poller.wait([&](const ibv_wc& wc) {
            uint32_t q = qp_of(wc.wr_id);
            QpState& s = st[q];
            size_t slot = size_t(q) * stride;
            switch (work_of(wc.wr_id)) {
                case Work::send_request:
                    ++out.operations_sent;
                    out.bytes_sent += req;
                    break;
                case Work::recv:
                    request_us.push_back(micros(s.sent, Clock::now()));
                    ++out.operations_received;
                    out.bytes_received += wc.byte_len;
                    if (wc.opcode != IBV_WC_RECV || wc.byte_len != resp ||
                        !tagged(base + slot + req, resp, s.seq, q))
                        problem(fmt::format("QP {}: response to request {} is not the one sent", q,
                                            s.seq));
                    break;
                case Work::read: {
                    read_us.push_back(micros(s.read_posted, Clock::now()));
                    ++reads;
                    read_bytes += read;
                    if (!tagged(base + slot + req + resp, read, aux_of(wc.wr_id), kKvTagQp))
                        problem(fmt::format("QP {}: READ of KV block {} returned other data", q,
                                            aux_of(wc.wr_id)));
                    break;
                }
                default:
                    problem(fmt::format("unexpected completion for work request {:#x}", wc.wr_id));
                    return;
            }
            if (--s.pending == 0) {
                ++done;
                issue(q);
            }
        });
    }
    rep.operations.push_back(
        operation("request", "SEND request to its response received (round trip)",
                  out.operations_received, out.bytes_sent + out.bytes_received, request_us));
    rep.operations.push_back(
        operation("rdma_read", "post to data landed", reads, read_bytes, read_us));
}

void run_inference_server(Resources& res, const SessionPlan& p, Poller& poller,
                          const std::function<void()>& ready, SessionReport& rep) {
    const uint32_t n = p.qps, total = p.iterations;
    const size_t req = p.request_bytes, resp = p.response_bytes;
    const size_t stride = 2 * (req + resp);
    uint8_t* base = res.region.data();
    fill_pattern(base, res.layout.region_bytes);
    if (p.read_every)
        for (uint32_t b = 0; b < kKvBlocks; ++b)
            stamp(base + res.layout.remote_offset + size_t(b) * p.read_bytes, p.read_bytes, b,
                  kKvTagQp);
    for (uint32_t q = 0; q < n; ++q)
        for (uint32_t k = 0; k < 2; ++k)
            res.qps[q]->post_recv(work_id(Work::recv, q, k), &res.region, q * stride + k * req,
                                  uint32_t(req));
    ready();

    std::vector<uint32_t> answered(n, 0);
    std::vector<Clock::time_point> arrived(size_t(n) * 2);
    std::vector<double> service_us;
    service_us.reserve(total);
    uint32_t sent = 0;
    Outcome& out = rep.local;
    while (sent < total) {
        poller.wait([&](const ibv_wc& wc) {
            uint32_t q = qp_of(wc.wr_id), k = aux_of(wc.wr_id);
            if (work_of(wc.wr_id) == Work::send_response) {
                service_us.push_back(micros(arrived[size_t(q) * 2 + k], Clock::now()));
                ++sent;
                ++out.operations_sent;
                out.bytes_sent += resp;
                return;
            }
            ++out.operations_received;
            out.bytes_received += wc.byte_len;
            const uint8_t* request = base + q * stride + k * req;
            uint32_t seq = roce::load_be32(request + 4);
            bool ok = wc.opcode == IBV_WC_RECV && wc.byte_len == req &&
                      out.operations_received <= total && tagged(request, req, seq, q);
            res.qps[q]->post_recv(work_id(Work::recv, q, k), &res.region, q * stride + k * req,
                                  uint32_t(req));
            if (!ok) {
                ++out.errors;
                if (rep.problems.size() < 10)
                    rep.problems.push_back(
                        fmt::format("QP {}: malformed or unexpected request", q));
                if (out.operations_received > total)
                    throw VerbsError("client sent more requests than planned");
                return;
            }
            // one request in flight per QP: two response slots are never both busy
            uint32_t r = answered[q]++ % 2;
            size_t slot = q * stride + 2 * req + r * resp;
            stamp(base + slot, resp, seq, q);
            arrived[size_t(q) * 2 + r] = Clock::now();
            res.qps[q]->post_send(work_id(Work::send_response, q, r), res.region, slot,
                                  uint32_t(resp));
        });
    }
    std::vector<double> none;
    rep.operations.push_back(
        operation("request_received", "", out.operations_received, out.bytes_received, none));
    rep.operations.push_back(operation("response", "request arrival to response acknowledged",
                                       out.operations_sent, out.bytes_sent, service_us));
}

// --- the session around the pattern ------------------------------------------------

void run_traffic(Resources& res, const SessionPlan& plan, Endpoint peer, bool server,
                 SideChannel& channel, const SessionOptions& o, SessionReport& rep) {
    if (o.wrong_rkey) peer.rkey ^= 0x00a5a500;  // the key index bits, not just the tag
    rep.mtu = std::min({plan.mtu, res.ctx.port_mtu_bytes(), peer.mtu});
    for (size_t i = 0; i < res.qps.size(); ++i) res.qps[i]->connect(peer.qps[i], peer.gid, rep.mtu);

    auto deadline = Clock::now() + o.run_timeout;
    Poller poller(res.ctx, channel, deadline);
    // Each pattern posts its first receives, then calls `ready`: neither side sends
    // before the other's receives are posted, so no RNR NAK is ever needed.
    Clock::time_point start;
    std::function<void()> ready = [&] {
        channel.send(encode_ready());
        Message m = channel.receive(deadline);
        if (m.type != MessageType::ready) throw VerbsError("peer did not say ready");
        start = Clock::now();
    };
    if (plan.pattern == Pattern::gradient)
        run_gradient(res, plan, peer, poller, ready, rep);
    else if (server)
        run_inference_server(res, plan, poller, ready, rep);
    else
        run_inference_client(res, plan, peer, poller, ready, rep);
    rep.seconds = std::chrono::duration<double>(Clock::now() - start).count();

    channel.send(encode_outcome(rep.local));
    Message m = channel.receive(Clock::now() + o.connect_timeout);
    if (m.type != MessageType::outcome) throw VerbsError("peer did not report its outcome");
    rep.remote = m.outcome;
    const Outcome &a = rep.local, &b = rep.remote;
    if (a.operations_sent != b.operations_received || a.bytes_sent != b.bytes_received)
        rep.problems.push_back(
            fmt::format("sent {} operations ({} bytes), the peer received {} ({} bytes)",
                        a.operations_sent, a.bytes_sent, b.operations_received, b.bytes_received));
    if (b.operations_sent != a.operations_received || b.bytes_sent != a.bytes_received)
        rep.problems.push_back(
            fmt::format("the peer sent {} operations ({} bytes), received {} ({} bytes)",
                        b.operations_sent, b.bytes_sent, a.operations_received, a.bytes_received));
    if (b.errors) rep.problems.push_back(fmt::format("the peer saw {} bad payloads", b.errors));
}

void fill_identity(SessionReport& rep, const Resources& res, const SideChannel& ch) {
    rep.device = res.ctx.device_name();
    rep.gid_index = res.ctx.gid_index();
    rep.gid = gid_text(res.ctx.gid());
    rep.peer = ch.peer();
}

template <typename Body>
void abort_on_failure(SideChannel& ch, Body&& body) {
    try {
        body();
    } catch (const std::exception& e) {
        try {
            ch.send(encode_abort(e.what()));
        } catch (const std::exception&) {
            // the peer is gone already; our own error is the one to report
        }
        throw;
    }
}

}  // namespace

LatencySummary summarize_latency(std::vector<double>& v) {
    LatencySummary s;
    s.samples = v.size();
    if (v.empty()) return s;
    std::sort(v.begin(), v.end());
    auto rank = [&](double p) {
        return v[size_t(std::max(1.0, std::ceil(p * double(v.size())))) - 1];
    };
    s.p50_us = rank(0.50);
    s.p99_us = rank(0.99);
    s.p999_us = rank(0.999);
    s.max_us = v.back();
    s.mean_us = std::accumulate(v.begin(), v.end(), 0.0) / double(v.size());
    return s;
}

SessionReport run_server(const SessionOptions& o) {
    SessionReport rep;
    rep.role = "server";
    SideChannel ch = SideChannel::accept_one(o.host, o.tcp_port, Clock::now() + o.connect_timeout);
    rep.peer = ch.peer();
    abort_on_failure(ch, [&] {
        Message hello = ch.receive(Clock::now() + o.connect_timeout);
        if (hello.type != MessageType::hello) throw VerbsError("client did not start with hello");
        rep.plan = hello.hello.plan;
        if (std::string why = validate(rep.plan); !why.empty())
            throw VerbsError("client's plan rejected: " + why);
        check_peer(rep.plan, hello.hello.endpoint, true);
        Resources res(o, rep.plan, true);
        fill_identity(rep, res, ch);
        ch.send(encode_welcome(res.endpoint()));
        run_traffic(res, rep.plan, hello.hello.endpoint, true, ch, o, rep);
    });
    return rep;
}

SessionReport run_client(const SessionOptions& o, const SessionPlan& plan) {
    if (std::string why = validate(plan); !why.empty()) throw VerbsError(why);
    SessionReport rep;
    rep.role = "client";
    rep.plan = plan;
    Resources res(o, plan, false);  // fail on a missing device before touching the network
    SideChannel ch = SideChannel::connect_to(o.host, o.tcp_port, Clock::now() + o.connect_timeout);
    fill_identity(rep, res, ch);
    abort_on_failure(ch, [&] {
        ch.send(encode_hello({plan, res.endpoint()}));
        Message w = ch.receive(Clock::now() + o.connect_timeout);
        if (w.type != MessageType::welcome) throw VerbsError("server did not answer with welcome");
        check_peer(plan, w.endpoint, false);
        run_traffic(res, plan, w.endpoint, false, ch, o, rep);
    });
    return rep;
}

nlohmann::json to_json(const SessionReport& r) {
    using nlohmann::json;
    json ops = json::array();
    for (const OperationReport& op : r.operations) {
        json o = {{"name", op.name},
                  {"count", op.count},
                  {"bytes", op.bytes},
                  {"gbit_per_s", r.seconds > 0 ? double(op.bytes) * 8 / r.seconds / 1e9 : 0.0}};
        if (op.latency.samples)
            o["latency_us"] = {{"what", op.what},
                               {"samples", op.latency.samples},
                               {"p50", op.latency.p50_us},
                               {"p99", op.latency.p99_us},
                               {"p99.9", op.latency.p999_us},
                               {"max", op.latency.max_us},
                               {"mean", op.latency.mean_us}};
        ops.push_back(o);
    }
    auto outcome = [](const Outcome& o) {
        return json{{"operations_sent", o.operations_sent},
                    {"operations_received", o.operations_received},
                    {"bytes_sent", o.bytes_sent},
                    {"bytes_received", o.bytes_received},
                    {"errors", o.errors}};
    };
    const SessionPlan& p = r.plan;
    json plan = {{"pattern", pattern_name(p.pattern)},
                 {"qps", p.qps},
                 {"mtu", p.mtu},
                 {"iterations", p.iterations}};
    if (p.pattern == Pattern::gradient) {
        plan["message_bytes"] = p.message_bytes;
    } else {
        plan["request_bytes"] = p.request_bytes;
        plan["response_bytes"] = p.response_bytes;
        plan["read_bytes"] = p.read_bytes;
        plan["read_every"] = p.read_every;
    }
    return {{"schema", "weft.verbs/1"},
            {"role", r.role},
            {"ok", r.problems.empty()},
            {"device", r.device},
            {"gid_index", r.gid_index},
            {"gid", r.gid},
            {"peer", r.peer},
            {"path_mtu", r.mtu},
            {"plan", plan},
            {"seconds", r.seconds},
            {"operations", ops},
            {"local", outcome(r.local)},
            {"remote", outcome(r.remote)},
            {"problems", r.problems}};
}

std::string format(const SessionReport& r) {
    const SessionPlan& p = r.plan;
    std::string s =
        fmt::format("weft-verbs {} {}: {} QP(s) on {} (GID {} {}), path MTU {}, peer {}\n", r.role,
                    pattern_name(p.pattern), p.qps, r.device, r.gid_index, r.gid, r.mtu, r.peer);
    s += fmt::format("{:<24} {:>10} {:>14} {:>10} {:>10} {:>10} {:>10}\n", "operation", "count",
                     "bytes", "Gbit/s", "p50 us", "p99 us", "p99.9 us");
    for (const OperationReport& op : r.operations) {
        double gbps = r.seconds > 0 ? double(op.bytes) * 8 / r.seconds / 1e9 : 0;
        if (op.latency.samples)
            s += fmt::format("{:<24} {:>10} {:>14} {:>10.3f} {:>10.1f} {:>10.1f} {:>10.1f}\n",
                             op.name, op.count, op.bytes, gbps, op.latency.p50_us,
                             op.latency.p99_us, op.latency.p999_us);
        else
            s += fmt::format("{:<24} {:>10} {:>14} {:>10.3f} {:>10} {:>10} {:>10}\n", op.name,
                             op.count, op.bytes, gbps, "-", "-", "-");
    }
    s += fmt::format("{:.3f} s; peer reports {} operations / {} bytes received, {} errors\n",
                     r.seconds, r.remote.operations_received, r.remote.bytes_received,
                     r.remote.errors);
    for (const std::string& pr : r.problems) s += "problem: " + pr + "\n";
    return s;
}

}  // namespace weft::verbs

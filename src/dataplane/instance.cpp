#include "weft/dataplane/instance.hpp"

#include <fmt/format.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include <algorithm>
#include <chrono>
#include <thread>

#include "weft/flow/summary.hpp"

namespace weft::dataplane {

namespace {

struct Launch {
    Worker* worker;
    std::atomic<bool>* stop;
};

int worker_main(void* arg) {
    auto* l = static_cast<Launch*>(arg);
    l->worker->run(*l->stop);
    return 0;
}

}  // namespace

Instance::Instance(const Config& c, const Plan& p) : config_(c), plan_(p) {
    // Every capture a pcap port will replay is read once before DPDK opens it
    // (pcap_replay.hpp): refused, counted, or replayed from an Ethernet copy.
    replays_ = std::make_unique<PcapReplays>(config_.ports);
    if (c.exit_on_eof) expected_frames_ = replays_->records();
    eal_ = std::make_unique<Eal>(config_, p);
    ports_ = std::make_unique<PortSet>(config_);
    // Each worker sends on its own TX queue of every port: no locks on the TX path.
    if (c.mode == Mode::inline_)
        for (const Port& port : ports_->ports())
            if (port.tx_queues < c.workers)
                throw DataplaneError(fmt::format(
                    "port {}: its driver gives {} TX queue(s), fewer than the {} workers "
                    "(net_af_packet: add qpairs={} to its args)",
                    port.config.name, port.tx_queues, c.workers, c.workers));
    if (c.psp.enabled()) {
        psp_keys_ = std::make_unique<PspKeyState>(c.psp);
        if (std::string w = psp_mtu_problem(config_, *ports_); !w.empty())
            fmt::print(stderr, "weftd: warning: {}\n", w);
    }
    balance_ = std::make_unique<BalanceShared>(config_, ports_->fabric().size());
    for (unsigned i = 0; i < c.workers; ++i) {
        workers_.push_back(std::make_unique<Worker>(i, config_, *ports_));
        workers_.back()->pipeline().psp().follow(psp_keys_.get());
        workers_.back()->pipeline().share_balance(balance_.get(), i);
    }
    // A port with fewer RX queues than workers is read by the workers that have a queue,
    // and each frame handed to its flow's owner through that worker's inbox (dispatch.hpp).
    bool dispatch = std::any_of(ports_->ports().begin(), ports_->ports().end(),
                                [&](const Port& p) { return p.rx_queues < c.workers; });
    if (dispatch && c.workers > 1) {
        for (unsigned i = 0; i < c.workers; ++i) {
            std::string name = fmt::format("weftd_inbox_{}", i);
            rte_ring* r =
                rte_ring_create(name.c_str(), kInboxSize, int(rte_socket_id()), RING_F_SC_DEQ);
            if (!r)
                throw DataplaneError(
                    fmt::format("cannot create {}: {}", name, rte_strerror(rte_errno)));
            inboxes_.push_back(r);
        }
        for (auto& w : workers_) w->set_inboxes(inboxes_);
    }
}

Instance::~Instance() {
    // frames still in an inbox when the workers stopped go back to their pools first
    for (rte_ring* r : inboxes_) {
        void* m = nullptr;
        while (rte_ring_dequeue(r, &m) == 0) rte_pktmbuf_free(static_cast<rte_mbuf*>(m));
        rte_ring_free(r);
    }
    workers_.clear();
    ports_.reset();
    eal_.reset();
    replays_.reset();  // the replay copies, once net_pcap has closed them
}

PspRotation Instance::rotate_psp_keys() const {
    if (!psp_keys_) throw DataplaneError("PSP is not configured ([psp] in the config)");
    return psp_keys_->rotate();
}

PspEpoch Instance::psp_epoch() const {
    if (!psp_keys_) throw DataplaneError("PSP is not configured ([psp] in the config)");
    return psp_keys_->epoch();
}

BalancePolicy Instance::set_balance_policy(BalancePolicy p) const {
    if (config_.mode != Mode::inline_)
        throw DataplaneError("balancing needs inline mode: this weftd is passive");
    if (p != BalancePolicy::ecmp && balance_->monitor.paths().size() < 2)
        throw DataplaneError(fmt::format(
            "policy {} needs two paths at least: two fabric ports, or balance.source_ports "
            "of 2 or more in the config",
            to_string(p)));
    return balance_->policy.exchange(p, std::memory_order_relaxed);
}

void Instance::set_reorder_paused(bool paused) const {
    if (!config_.balance.reorder)
        throw DataplaneError("this weftd does not reorder ([balance] reorder = true)");
    balance_->reorder_paused.store(paused);
}

std::vector<PspSaReading> Instance::psp_sas() const {
    std::vector<PspSaReading> out;
    for (const auto& w : workers_) w->pipeline().psp().add_sa_counters(out);
    return out;
}

std::string Instance::run(std::atomic<bool>& stop) {
    started_ = std::chrono::system_clock::now();
    running_.store(true, std::memory_order_release);
    std::vector<Launch> launches;
    launches.reserve(workers_.size());
    for (size_t i = 0; i < workers_.size(); ++i) {
        launches.push_back({workers_[i].get(), &stop});
        int rc = rte_eal_remote_launch(worker_main, &launches.back(), unsigned(i));
        if (rc != 0) {
            stop = true;
            rte_eal_mp_wait_lcore();
            running_.store(false, std::memory_order_release);
            throw DataplaneError(fmt::format("cannot launch worker {} on lcore {} (CPU {})", i, i,
                                             plan_.worker_lcores[i]));
        }
    }
    std::string reason = "stopped by signal";
    using Clock = std::chrono::steady_clock;
    uint64_t last_seen = 0;
    auto last_progress = Clock::now();
    while (!stop.load()) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
        if (psp_keys_) rotate_on_timer();
        if (!config_.exit_on_eof) continue;
        uint64_t seen = 0;
        for (const auto& w : workers_) seen += w->received();
        if (seen >= expected_frames_) {
            reason = fmt::format("end of input ({} frames)", seen);
            break;
        }
        if (seen != last_seen) {
            last_seen = seen;
            last_progress = Clock::now();
        } else if (Clock::now() - last_progress > std::chrono::seconds(3)) {
            reason = fmt::format("input stalled: {} of {} frames delivered by the driver", seen,
                                 expected_frames_);
            break;
        }
    }
    stop = true;
    rte_eal_mp_wait_lcore();
    // After the workers' threads have ended (their last publication and answers are
    // visible): readers copy the tables themselves from now on.
    running_.store(false, std::memory_order_release);
    return reason;
}

void Instance::rotate_on_timer() {
    try {
        if (!psp_keys_->rotate_if_due(std::chrono::system_clock::now())) return;
        const PspEpoch e = psp_keys_->epoch();
        fmt::print(stderr, "weftd: PSP keys rotated by the timer: generation {}, master key {}\n",
                   e.generation, e.generation & 1);
    } catch (const std::exception& e) {
        // traffic goes on under the keys in use; the next boundary tries again
        fmt::print(stderr, "weftd: PSP key rotation by the timer refused: {}\n", e.what());
    }
}

void Instance::set_endpoints(std::string control_socket, std::string metrics_address) {
    control_socket_ = std::move(control_socket);
    metrics_address_ = std::move(metrics_address);
}

namespace {

// Copies one worker's flows into `buf`: through its mailbox while it runs, directly once
// its thread has ended. Returns {copied, missed}.
std::pair<size_t, size_t> copy_flows(Worker& w, std::span<flow::FlowCopy> buf,
                                     const std::atomic<bool>& running, uint64_t seq,
                                     bool& abandoned) {
    FlowRequest& rq = w.flow_request();
    if (running.load(std::memory_order_acquire)) {
        rq.buffer = buf;
        rq.requested.store(seq, std::memory_order_release);
        auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
        for (;;) {
            if (rq.answered.load(std::memory_order_acquire) == seq) return {rq.copied, rq.missed};
            if (!running.load(std::memory_order_acquire)) break;  // ended: copy below
            if (std::chrono::steady_clock::now() > deadline) {
                // The worker may still write into the buffer: the caller must keep it.
                abandoned = true;
                throw DataplaneError(fmt::format(
                    "worker {} did not answer a flow snapshot within 5 s (is it stuck?)",
                    w.index()));
            }
            std::this_thread::sleep_for(std::chrono::microseconds(200));
        }
        if (rq.answered.load(std::memory_order_acquire) == seq) return {rq.copied, rq.missed};
    }
    flow::TableCopier c;
    c.start(buf);
    while (!c.step(w.table(), UINT32_MAX)) {
    }
    return {c.copied(), c.missed()};
}

}  // namespace

Instance::PathExplanation Instance::explain_path(const roce::IpAddress& src,
                                                 const roce::IpAddress& dst,
                                                 uint32_t dest_qp) const {
    std::lock_guard lock(snapshot_mutex_);
    PathExplanation out;
    for (const auto& w : workers_) {
        PathQuery& q = w->path_query();
        q.src = src;
        q.dst = dst;
        q.dest_qp = dest_qp & 0xffffff;
        const uint64_t seq = ++snapshot_seq_;
        q.requested.store(seq, std::memory_order_release);
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
        while (q.answered.load(std::memory_order_acquire) != seq) {
            if (!running_.load(std::memory_order_acquire)) {
                w->serve_path_query();  // its thread has ended: answered here
                break;
            }
            if (std::chrono::steady_clock::now() > deadline)
                throw DataplaneError(
                    fmt::format("worker {} did not answer within 5 s (is it stuck?)", w->index()));
            std::this_thread::sleep_for(std::chrono::microseconds(200));
        }
        out.now_ns = std::max(out.now_ns, w->published().tsc_ns);
        if (q.found && out.worker < 0) {
            out.worker = int(w->index());
            out.state = q.state;
            out.packets = q.packets;
            out.bytes = q.bytes;
            out.first_ns = q.first_ns;
            out.last_ns = q.last_ns;
        }
    }
    return out;
}

Instance::Snapshot Instance::snapshot() const {
    std::lock_guard lock(snapshot_mutex_);
    Snapshot snap;
    for (const auto& w : workers_) {
        size_t live = w->published().flows_live;
        size_t capacity = live + live / 4 + 1024;
        auto buf = std::make_unique<std::vector<flow::FlowCopy>>();
        size_t copied = 0, missed = 0;
        for (int attempt = 0; attempt < 3; ++attempt) {
            buf->resize(capacity);
            bool abandoned = false;
            try {
                std::tie(copied, missed) =
                    copy_flows(*w, *buf, running_, ++snapshot_seq_, abandoned);
            } catch (...) {
                if (abandoned) buf.release();  // NOLINT: a stuck worker may still write it
                throw;
            }
            if (missed == 0) break;
            capacity = copied + 2 * missed + 1024;  // the table grew meanwhile
        }
        buf->resize(copied);
        snap.missed += missed;
        auto flows = flow::summarize_copies(*buf);
        std::move(flows.begin(), flows.end(), std::back_inserter(snap.flows));
        WorkerPublication pub = w->published();
        snap.totals += pub.stats.account;
        snap.table += pub.table;
    }
    // The two directions of a QP may live on different workers: pair once, across all.
    flow::pair_flows(snap.flows);
    return snap;
}

Instance::Reading Instance::read_workers() const {
    Reading r;
    r.workers.reserve(workers_.size());
    for (const auto& w : workers_) {
        const WorkerPublication& pub = r.workers.emplace_back(w->published());
        r.stats += pub.stats;
        r.table += pub.table;
        r.flows += pub.flows_live;
    }
    return r;
}

}  // namespace weft::dataplane

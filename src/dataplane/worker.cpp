#include "weft/dataplane/worker.hpp"

#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_mbuf_dyn.h>
#include <rte_prefetch.h>
#include <rte_ring.h>

#include "weft/dataplane/dispatch.hpp"
#include "weft/dataplane/eal.hpp"
#include "weft/flow/account.hpp"
#include "weft/flow/hash.hpp"

namespace weft::dataplane {

namespace {

constexpr uint16_t kPrefetchAhead = 4;

uint64_t tsc_ns() {
    static const double ns_per_cycle = 1e9 / double(rte_get_tsc_hz());
    return uint64_t(double(rte_get_tsc_cycles()) * ns_per_cycle);
}

}  // namespace

flow::TableConfig worker_table_config(const Config& c) {
    flow::TableConfig t;
    t.max_flows = std::max<uint32_t>(1, c.max_flows / c.workers);
    t.idle_timeout_ns = uint64_t(c.idle_timeout_s) * 1'000'000'000ull;  // 0: never
    return t;
}

Worker::Worker(unsigned index, const Config& c, const PortSet& ports)
    : index_(index),
      ports_(ports),
      passive_(c.mode == Mode::passive),
      verify_icrc_(c.verify_icrc),
      drop_bad_icrc_(c.drop_bad_icrc),
      idle_sleep_us_(c.idle_sleep_us),
      table_(worker_table_config(c)) {
    if (ports.ports().size() > kMaxPorts)
        throw DataplaneError("weftd runs at most " + std::to_string(kMaxPorts) + " ports");
    for (const Port& p : ports.ports()) {
        TxQueue q;
        q.port_id = p.id;
        tx_.push_back(q);
        // RX timestamps have no unit in DPDK; net_pcap gives the capture's in microseconds
        timestamp_scale_.push_back(p.config.driver() == "net_pcap" ? 1000 : 1);
    }
    timestamp_offset_ = rte_mbuf_dynfield_lookup(RTE_MBUF_DYNFIELD_TIMESTAMP_NAME, nullptr);
    int bit = rte_mbuf_dynflag_lookup(RTE_MBUF_DYNFLAG_RX_TIMESTAMP_NAME, nullptr);
    timestamp_flag_ = bit >= 0 ? 1ull << bit : 0;
    if (bit < 0) timestamp_offset_ = -1;
}

void Worker::set_inboxes(const std::vector<rte_ring*>& inboxes) {
    inboxes_ = inboxes;
    outbound_.assign(inboxes.size(), {});
    for (auto& o : outbound_) o.reserve(kBurst);
    const auto& ports = ports_.ports();
    for (size_t i = 0; i < ports.size(); ++i) port_index_of_[ports[i].id & 0xff] = uint8_t(i);
}

void Worker::dispatch(uint16_t port_index, rte_mbuf** pkts, uint16_t n) {
    const size_t workers = inboxes_.size();
    std::array<rte_mbuf*, kBurst> local;
    uint16_t nlocal = 0;
    for (uint16_t i = 0; i < n; ++i) {
        rte_mbuf* m = pkts[i];
        std::span<const uint8_t> frame(rte_pktmbuf_mtod(m, const uint8_t*), m->data_len);
        size_t owner = size_t(dispatch_hash(frame) % workers);
        if (owner == index_)
            local[nlocal++] = m;
        else
            outbound_[owner].push_back(m);  // capacity kBurst, reserved: no allocation
    }
    if (nlocal) process(port_index, local.data(), nlocal);
    for (size_t w = 0; w < workers; ++w) {
        auto& out = outbound_[w];
        if (out.empty()) continue;
        unsigned sent = rte_ring_mp_enqueue_burst(inboxes_[w], reinterpret_cast<void**>(out.data()),
                                                  unsigned(out.size()), nullptr);
        stats_.dispatched += sent;
        if (sent < out.size()) {
            stats_.dropped_dispatch_full += out.size() - sent;
            rte_pktmbuf_free_bulk(out.data() + sent, unsigned(out.size() - sent));
        }
        out.clear();
    }
}

bool Worker::drain_inbox() {
    std::array<rte_mbuf*, kBurst> burst;
    unsigned n = rte_ring_sc_dequeue_burst(inboxes_[index_], reinterpret_cast<void**>(burst.data()),
                                           kBurst, nullptr);
    // process() takes one port per call: cut the burst into runs of one port
    for (unsigned start = 0; start < n;) {
        uint16_t port = burst[start]->port;
        unsigned end = start + 1;
        while (end < n && burst[end]->port == port) ++end;
        process(port_index_of_[port & 0xff], burst.data() + start, uint16_t(end - start));
        start = end;
    }
    return n > 0;
}

void Worker::enqueue(uint16_t port_index, rte_mbuf* m) {
    TxQueue& q = tx_[port_index];
    q.mbufs[q.n++] = m;
    if (q.n == q.mbufs.size()) drain(port_index);
}

void Worker::drain(uint16_t port_index) {
    TxQueue& q = tx_[port_index];
    if (q.n == 0) return;
    uint16_t sent = rte_eth_tx_burst(q.port_id, uint16_t(index_), q.mbufs.data(), q.n);
    // one retry for a queue that was momentarily full, then count and free the rest
    if (sent < q.n)
        sent += rte_eth_tx_burst(q.port_id, uint16_t(index_), q.mbufs.data() + sent, q.n - sent);
    stats_.tx_packets[port_index] += sent;
    if (sent < q.n) {
        stats_.dropped_tx_full += q.n - sent;
        rte_pktmbuf_free_bulk(q.mbufs.data() + sent, q.n - sent);
    }
    q.n = 0;
}

void Worker::flush() {
    for (uint16_t i = 0; i < tx_.size(); ++i) drain(i);
}

void Worker::process(uint16_t port_index, rte_mbuf** pkts, uint16_t n) {
    const uint64_t now = tsc_ns();
    const int host = ports_.host();
    const std::vector<uint16_t>& fabric = ports_.fabric();
    std::array<rte_mbuf*, kBurst> to_free;
    uint16_t nfree = 0;
    stats_.rx_packets[port_index] += n;
    for (uint16_t i = 0; i < n && i < kPrefetchAhead; ++i)
        rte_prefetch0(rte_pktmbuf_mtod(pkts[i], void*));
    for (uint16_t i = 0; i < n; ++i) {
        rte_mbuf* m = pkts[i];
        // headers of a packet a few ahead: a burst's frames sit in L3 (DDIO) or memory,
        // and parsing waits on their first line otherwise
        if (i + kPrefetchAhead < n)
            rte_prefetch0(rte_pktmbuf_mtod(pkts[i + kPrefetchAhead], void*));
        uint64_t ts = now;
        if (timestamp_offset_ >= 0 && (m->ol_flags & timestamp_flag_))
            ts = *RTE_MBUF_DYNFIELD(m, timestamp_offset_, uint64_t*) * timestamp_scale_[port_index];
        latest_ns_ = std::max(latest_ns_, ts);
        // Only the first segment is parsed: a frame that does not fit one mbuf is cut
        // short here and counted as truncated by the parser, never read past.
        std::span<const uint8_t> frame(rte_pktmbuf_mtod(m, const uint8_t*), m->data_len);
        flow::FrameOutcome out =
            flow::account_frame(frame, m->pkt_len, ts, verify_icrc_, stats_.totals, table_, pkt_);
        if (passive_) {
            to_free[nfree++] = m;
            continue;
        }
        if (out.verdict != roce::Verdict::Ok && out.verdict != roce::Verdict::NotRoce) {
            ++stats_.dropped_malformed;
            to_free[nfree++] = m;
            continue;
        }
        if (out.verdict == roce::Verdict::Ok && !out.icrc_ok && drop_bad_icrc_) {
            ++stats_.dropped_bad_icrc;
            to_free[nfree++] = m;
            continue;
        }
        uint16_t dest;
        if (int(port_index) == host) {
            // the policy hook: where RoCE goes; everything else takes the first uplink
            dest = out.verdict == roce::Verdict::Ok
                       ? fabric[policy_.choose_uplink(
                             pkt_, out.flow == flow::kNoIndex ? nullptr : &table_.record(out.flow),
                             uint32_t(fabric.size()))]
                       : fabric[0];
        } else {
            dest = uint16_t(host);
        }
        ++(out.verdict == roce::Verdict::Ok ? stats_.forwarded_roce : stats_.forwarded_other);
        enqueue(dest, m);
    }
    if (nfree) rte_pktmbuf_free_bulk(to_free.data(), nfree);
    received_.store(stats_.totals.frames, std::memory_order_relaxed);
}

void Worker::publish(uint64_t now_ns) {
    WorkerPublication p;
    p.stats = stats_;
    p.table = table_.counters();
    p.flows_live = table_.size();
    p.extensions_live = table_.extensions_in_use();
    p.tsc_ns = now_ns;
    published_.store(p);
}

void Worker::serve_flow_request(uint32_t max_records) {
    uint64_t want = flow_request_.requested.load(std::memory_order_acquire);
    if (want == answered_) return;
    if (serving_ != want) {
        copier_.start(flow_request_.buffer);
        serving_ = want;
    }
    if (!copier_.step(table_, max_records)) return;
    flow_request_.copied = copier_.copied();
    flow_request_.missed = copier_.missed();
    flow_request_.answered.store(want, std::memory_order_release);
    answered_ = want;
}

void Worker::run(const std::atomic<bool>& stop) {
    std::array<rte_mbuf*, kBurst> burst;
    const auto& ports = ports_.ports();
    uint64_t next_eviction = tsc_ns() + 1'000'000'000ull;
    uint64_t next_publish = 0;
    uint32_t empty_polls = 0;
    while (!stop.load(std::memory_order_relaxed)) {
        // Telemetry costs a clock read per loop, a counter copy per millisecond, and a
        // bounded slice of table copy while a snapshot is pending (telemetry.hpp).
        uint64_t now = tsc_ns();
        if (now >= next_publish) {
            publish(now);
            next_publish = now + 1'000'000;
        }

        if (idle_sleep_us_ && empty_polls > 1024) rte_delay_us_sleep(idle_sleep_us_);
        bool idle = true;
        for (uint16_t pi = 0; pi < ports.size(); ++pi) {
            if (index_ >= ports[pi].rx_queues) continue;
            uint16_t n = rte_eth_rx_burst(ports[pi].id, uint16_t(index_), burst.data(), kBurst);
            if (n) {
                idle = false;
                if (!inboxes_.empty() && ports[pi].rx_queues < inboxes_.size())
                    dispatch(pi, burst.data(), n);
                else
                    process(pi, burst.data(), n);
            }
        }
        if (!inboxes_.empty() && drain_inbox()) idle = false;
        if (!passive_) flush();
        // A pending snapshot takes a small slice after a busy poll (64 records, ~2 us
        // with the table out of cache) and a large one after an idle poll.
        serve_flow_request(idle ? 4096 : 64);
        empty_polls = idle ? empty_polls + 1 : 0;
        if (idle && table_.config().idle_timeout_ns) {
            // Idle flows go when there is time for it, a bounded scan at a time. Flow
            // times are the packets' (a capture's own clock for a pcap port), so "now" is
            // the latest packet time seen, never the wall clock.
            if (now >= next_eviction) {
                table_.evict_idle(latest_ns_, 4096);
                next_eviction = now + 1'000'000'000ull;
            }
        }
    }
    flush();
    publish(tsc_ns());
    serve_flow_request(UINT32_MAX);  // a request pending at stop is answered in full
}

}  // namespace weft::dataplane

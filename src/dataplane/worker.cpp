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

uint64_t tsc_ns() {
    static const double ns_per_cycle = 1e9 / double(rte_get_tsc_hz());
    return uint64_t(double(rte_get_tsc_cycles()) * ns_per_cycle);
}

}  // namespace

Worker::Worker(unsigned index, const Config& c, const PortSet& ports)
    : index_(index),
      ports_(ports),
      idle_sleep_us_(c.idle_sleep_us),
      pipeline_(c, ports, uint16_t(index)) {
    if (ports.ports().size() > kMaxPorts)
        throw DataplaneError("weftd runs at most " + std::to_string(kMaxPorts) + " ports");
    for (const Port& p : ports.ports())
        // RX timestamps have no unit in DPDK; net_pcap gives the capture's in microseconds
        timestamp_scale_.push_back(p.config.driver() == "net_pcap" ? 1000 : 1);
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
        RxCounters& rx = pipeline_.stats().rx;
        rx.dispatched += sent;
        if (sent < out.size()) {
            rx.dropped_dispatch_full += out.size() - sent;
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

void Worker::process(uint16_t port_index, rte_mbuf** pkts, uint16_t n) {
    Burst& b = burst_;
    b.direction = pipeline_.direction_of(port_index);
    b.in_port = port_index;
    b.size = n;
    b.now_ns = tsc_ns();
    const bool stamped = timestamp_offset_ >= 0;
    for (uint16_t i = 0; i < n; ++i) {
        PacketState& s = b.packets[i];
        rte_mbuf* m = pkts[i];
        s.mbuf = m;
        s.timestamp_ns =
            stamped && (m->ol_flags & timestamp_flag_)
                ? *RTE_MBUF_DYNFIELD(m, timestamp_offset_, uint64_t*) * timestamp_scale_[port_index]
                : b.now_ns;
        latest_ns_ = std::max(latest_ns_, s.timestamp_ns);
    }
    pipeline_.stats().ports[port_index].rx_packets += n;
    pipeline_.run(b);
    frames_ += n;
    received_.store(frames_, std::memory_order_relaxed);
}

void Worker::publish(uint64_t now_ns) {
    WorkerPublication p;
    p.stats = pipeline_.stats();
    const flow::Table& table = pipeline_.table();
    p.table = table.counters();
    p.flows_live = table.size();
    p.extensions_live = table.extensions_in_use();
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
    if (!copier_.step(pipeline_.table(), max_records)) return;
    flow_request_.copied = copier_.copied();
    flow_request_.missed = copier_.missed();
    flow_request_.answered.store(want, std::memory_order_release);
    answered_ = want;
}

void Worker::serve_path_query() {
    const uint64_t want = path_query_.requested.load(std::memory_order_acquire);
    if (want == path_answered_) return;
    PathQuery& q = path_query_;
    const flow::Table& table = pipeline_.table();
    const uint32_t index = table.find(q.src, q.dst, q.dest_qp);
    q.found = index != flow::kNoIndex && pipeline_.flowlet_state(index);
    if (q.found) {
        q.state = *pipeline_.flowlet_state(index);
        const flow::FlowRecord& r = table.record(index);
        q.packets = r.packets;
        q.bytes = r.wire_bytes;
        q.first_ns = r.first_ns;
        q.last_ns = r.last_ns;
    }
    path_query_.answered.store(want, std::memory_order_release);
    path_answered_ = want;
}

void Worker::run(const std::atomic<bool>& stop) {
    std::array<rte_mbuf*, kBurst> burst;
    const auto& ports = ports_.ports();
    uint64_t next_eviction = tsc_ns() + 1'000'000;
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
        // after the poll, with the time now: a reorder gap whose frame was waiting in an RX
        // ring (the worker descheduled for a while) is filled before it can time out
        pipeline_.housekeeping(tsc_ns());
        pipeline_.flush();
        // A pending snapshot takes a small slice after a busy poll (64 records, ~2 us
        // with the table out of cache) and a large one after an idle poll.
        serve_flow_request(idle ? 4096 : 64);
        serve_path_query();
        empty_polls = idle ? empty_polls + 1 : 0;
        if (pipeline_.table().config().idle_timeout_ns && now >= next_eviction) {
            // Idle flows go a bounded scan at a time, every millisecond: 4096 records after
            // an idle poll, 64 after a busy one (~2 us), so a worker that never runs out of
            // traffic still sweeps a million-flow table in ~16 s (it was swept only when a
            // poll came back empty: never, under sustained load). Flow times are the
            // packets' (a capture's own clock for a pcap port), so "now" is the latest
            // packet time seen, never the wall clock.
            pipeline_.table().evict_idle(latest_ns_, idle ? 4096 : 64);
            next_eviction = now + 1'000'000;
        }
    }
    pipeline_.release_held();
    flush();
    publish(tsc_ns());
    serve_flow_request(UINT32_MAX);  // a request pending at stop is answered in full
}

}  // namespace weft::dataplane

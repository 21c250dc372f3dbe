// The flow table: bounded, open addressing over a 32-bit slot array (8-bit hash tag +
// 24-bit record index), records preallocated. After construction nothing is allocated,
// nothing locks and nothing throws; a full table refuses new flows and counts them.
// One table belongs to one thread (weftd shards flows by QP across lcores).
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "weft/flow/host_table.hpp"
#include "weft/flow/record.hpp"
#include "weft/flow/zeroed_array.hpp"
#include "weft/roce/packet.hpp"
#include "weft/telemetry/counters.hpp"

namespace weft::flow {

struct TableConfig {
    uint32_t max_flows = 1u << 20;
    uint32_t max_hosts = 1u << 16;  // at most kMaxHostIds (2^20)
    // Flows with rare state (NAKs, PSN anomalies, CNPs...) take an extension record from
    // this pool; when it is empty the rare detail is lost and counted (extension_refused).
    uint32_t max_extensions = 0;            // 0: max_flows / 64 (at least 1024)
    uint64_t idle_timeout_ns = 0;           // 0: flows never expire
    uint64_t seed = 0x7765667473656564ull;  // keys the hash against crafted collisions
};

// Table-level counters: everything the table could not do is counted here.
#define WEFT_FLOW_TABLE_COUNTERS(COUNTER, ARRAY)                                                   \
    COUNTER(packets, "packets given to the flow table")                                            \
    COUNTER(flows_created, "queue-pair flows created")                                             \
    COUNTER(flows_evicted_idle, "flows removed after the idle timeout")                            \
    COUNTER(flows_refused_table_full, "packets of new flows refused: no free flow record")         \
    COUNTER(hosts_refused_table_full, "packets whose host could not be interned: host table full") \
    COUNTER(extension_refused, "rare-state updates lost: the extension pool was empty")            \
    COUNTER(opcode_detail_overflow, "packets of a flow's 17th or later distinct opcode")

struct TableCounters {
    WEFT_COUNTER_LIST(TableCounters, WEFT_FLOW_TABLE_COUNTERS)
};

class Table {
  public:
    static constexpr uint32_t kMaxFlowsLimit = (1u << 24) - 2;

    explicit Table(const TableConfig& config);
    Table(const Table&) = delete;
    Table& operator=(const Table&) = delete;

    // What touch() did: the flow's record index (kNoIndex when refused), whether the flow
    // was created by this packet (its index may have held another flow before: state kept
    // beside the table under that index must be reset), and when the flow was last seen
    // before this packet (0 for a new flow): a flowlet gap is now_ns - prev_last_ns.
    struct Touched {
        uint32_t index = kNoIndex;
        bool created = false;
        uint64_t prev_last_ns = 0;
    };

    // Accounts one parsed packet (parse() returned Ok) to its flow, creating the flow if
    // needed. `icrc_ok` false counts an ICRC error and keeps the packet out of PSN and
    // message tracking.
    Touched touch(const roce::Packet& p, uint32_t wire_len, uint64_t now_ns, bool icrc_ok = true);

    uint32_t find(const FlowKey& key) const;
    // Looks up by addresses; kNoIndex if either host or the flow is unknown.
    uint32_t find(const roce::IpAddress& src, const roce::IpAddress& dst, uint32_t dest_qp) const;

    // Scans at most `max_scan` records from where the last call stopped and removes the
    // flows idle for longer than the configured timeout. Returns how many were removed.
    size_t evict_idle(uint64_t now_ns, size_t max_scan);

    template <class F>
    void for_each(F&& f) const {
        for (uint32_t i = 0; i < high_water_; ++i)
            if (records_[i].state & kLive) f(i, records_[i]);
    }
    const FlowRecord& record(uint32_t index) const { return records_[index]; }
    // Records [0, record_span()) have held a flow at some time; only kLive ones hold one now.
    uint32_t record_span() const { return high_water_; }
    const FlowExtension* extension(const FlowRecord& r) const {
        return r.ext == kNoIndex ? nullptr : &extensions_[r.ext];
    }
    const HostTable& hosts() const { return hosts_; }
    const TableCounters& counters() const { return counters_; }
    const TableConfig& config() const { return config_; }
    uint32_t size() const { return live_; }
    uint32_t extensions_in_use() const { return ext_live_; }
    // Bytes held by the table, hosts and extension pool (all preallocated).
    size_t memory_bytes() const;

  private:
    // The slot hash of a flow, from its addresses and QPN as they arrive: a packet finds
    // its flow without interning its hosts first (hosts are interned only when a flow is
    // created); a candidate record is confirmed against the host table's addresses.
    uint64_t hash(const roce::IpAddress& src, const roce::IpAddress& dst, uint32_t dest_qp) const;
    uint64_t hash(const FlowKey& k) const;
    bool matches(const FlowRecord& r, const roce::IpAddress& src, const roce::IpAddress& dst,
                 uint32_t dest_qp) const;
    uint32_t allocate_record();
    void remove(uint32_t index);
    FlowExtension* ext(FlowRecord& r);

    void update(FlowRecord& r, const roce::Packet& p, uint32_t wire_len, uint64_t now_ns,
                bool icrc_ok);
    void count_opcode(FlowRecord& r, uint8_t opcode);
    void note_src_port(FlowRecord& r, uint16_t port);
    bool track_request_psn(FlowRecord& r, const roce::Packet& p);  // true: duplicate
    bool track_read_response_psn(FlowRecord& r, const roce::Packet& p);
    void note_acknowledged_psn(FlowRecord& r, uint32_t psn);
    void account_message(FlowRecord& r, const roce::Packet& p);
    void account_read_response(FlowRecord& r, roce::Position position, uint32_t bytes);
    void complete_message(FlowRecord& r, uint64_t bytes);

    TableConfig config_;
    HostTable hosts_;
    uint32_t slot_mask_ = 0;
    ZeroedArray<uint32_t> slots_;  // tag << 24 | (record index + 1); 0 = empty
    ZeroedArray<FlowRecord> records_;
    ZeroedArray<FlowExtension> extensions_;
    uint32_t max_extensions_ = 0;
    uint32_t high_water_ = 0;  // records [0, high_water_) have been used at least once
    uint32_t free_head_ = kNoIndex;
    uint32_t ext_high_water_ = 0;
    uint32_t ext_free_head_ = kNoIndex;
    uint32_t live_ = 0;
    uint32_t ext_live_ = 0;
    uint32_t evict_cursor_ = 0;
    TableCounters counters_;
};

}  // namespace weft::flow

// libFuzzer target: frame parsing, ICRC and flow tracking across the packets of one
// input (the format is in frames.hpp), through flow::account_frame, the path weftd's
// workers and `weftctl analyze` share. The flow report builders have their own target
// (fuzz_flow_report.cpp): rendering JSON for every input cost ~60% of this target's time
// and kept it near 1.5 k executions/s under ASan.
//
// Besides the sanitizers, every property below is checked and traps when violated:
//   - dispatch: weftd's software dispatch hash gives a RoCE flow one owner whatever its
//     UDP source port;
//   - ICRC: icrc_compute equals an independent reference (zlib over one masked copy, as
//     the unit tests compute it); after the source port is rewritten, the frame still
//     parses the same and icrc_after_src_port_change equals a full recompute;
//   - flow table: a touched flow is found again under its addresses; a refusal is counted
//     exactly once and only when the host or flow table is really full; eviction removes
//     what it says; at the end, created - evicted == live == what for_each visits;
//   - totals: every frame is counted under exactly one verdict class.
#include <sanitizer/asan_interface.h>
#include <zlib.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>

#include "check.hpp"
#include "frames.hpp"
#include "weft/dataplane/dispatch.hpp"
#include "weft/flow/account.hpp"
#include "weft/flow/table.hpp"
#include "weft/flow/totals.hpp"
#include "weft/roce/bytes.hpp"
#include "weft/roce/icrc.hpp"
#include "weft/roce/packet.hpp"

namespace {

using namespace weft;

// Frames are at most 0x7fff bytes (frames.hpp). One buffer for the whole run rather than
// a vector per frame: a heap allocation under ASan (malloc with a stack capture, then the
// quarantine) was ~15 % of the old target's profile. The bytes past the frame in use are
// poisoned (byte-exact, checked), so ASan still reports a read beyond the frame's end as
// it would on the heap.
constexpr size_t kMaxFrame = 0x7fff;
alignas(64) std::array<uint8_t, 8 + kMaxFrame> scratch;

std::span<uint8_t> scratch_frame(std::span<const uint8_t> frame) {
    ASAN_UNPOISON_MEMORY_REGION(scratch.data(), scratch.size());
    std::memcpy(scratch.data(), frame.data(), frame.size());
    ASAN_POISON_MEMORY_REGION(scratch.data() + frame.size(), scratch.size() - frame.size());
    return {scratch.data(), frame.size()};
}

// The ICRC the slow, obvious way, as test/unit/test_packets.hpp's reference_icrc: the
// eight 0xff bytes standing in for the LRH, then IP header .. payload with the variant
// fields set to ones, one zlib crc32 over a copy. The IP header's length and version are
// read from the frame, not from the parsed packet.
uint32_t reference_icrc(std::span<const uint8_t> f, size_t l3, size_t icrc_offset) {
    const size_t n = 8 + icrc_offset - l3;
    ASAN_UNPOISON_MEMORY_REGION(scratch.data(), scratch.size());
    uint8_t* c = scratch.data();
    std::memset(c, 0xff, 8);
    std::memcpy(c + 8, f.data() + l3, icrc_offset - l3);
    uint8_t* ip = c + 8;
    size_t ip_len;
    if ((ip[0] >> 4) == 4) {
        ip_len = size_t(ip[0] & 0x0f) * 4;
        ip[1] = 0xff;            // TOS
        ip[8] = 0xff;            // TTL
        ip[10] = ip[11] = 0xff;  // header checksum
    } else {
        ip_len = 40;
        ip[0] |= 0x0f;         // traffic class, high nibble
        ip[1] = 0xff;          // traffic class low nibble + flow label high nibble
        ip[2] = ip[3] = 0xff;  // flow label
        ip[7] = 0xff;          // hop limit
    }
    uint8_t* udp = ip + ip_len;
    CHECK(size_t(udp - c) + 8 + 12 <= n);  // the parser accepted a frame too short for BTH
    udp[6] = udp[7] = 0xff;                // UDP checksum
    udp[8 + 4] = 0xff;                     // BTH resv8a
    return uint32_t(::crc32(0, c, uInt(n)));
}

void check_icrc_and_dispatch(std::span<const uint8_t> frame, const roce::Packet& p) {
    const uint32_t computed = roce::icrc_compute(p);
    CHECK(computed == reference_icrc(frame, p.l3_offset, p.icrc_offset));

    const uint64_t owner = dataplane::dispatch_hash(frame);
    const uint16_t new_port = uint16_t(p.src_port ^ 0x5a5a);
    const uint32_t predicted = roce::icrc_after_src_port_change(p, new_port);

    std::span<uint8_t> moved = scratch_frame(frame);
    roce::store_be16(moved.data() + p.l4_offset, new_port);
    CHECK(dataplane::dispatch_hash(moved) == owner);
    // The source port is covered by the ICRC but by no validity check: the rewritten frame
    // parses the same, and its full ICRC is what the incremental update predicted. The
    // update starts from the ICRC on the wire, so a wrong one stays wrong by the same
    // error (CRC linearity): predicted ^ wire == recomputed(new) ^ recomputed(old), which
    // for a frame with a valid ICRC is predicted == recomputed(new).
    roce::Packet q;
    CHECK(roce::parse(moved, q) == roce::Verdict::Ok);
    CHECK(q.src_port == new_port && q.l4_offset == p.l4_offset && q.icrc_offset == p.icrc_offset);
    CHECK((predicted ^ p.wire_icrc()) == (roce::icrc_compute(q) ^ computed));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    // Small, so that a short input reaches refusals (a 17th flow, a 9th host), the
    // extension pool running dry, and eviction; constructing it costs a few callocs.
    flow::TableConfig cfg;
    cfg.max_flows = 16;
    cfg.max_hosts = 8;
    cfg.max_extensions = 4;
    cfg.idle_timeout_ns = 1000;
    flow::Table table(cfg);
    flow::Totals totals;
    roce::Packet p;
    uint64_t now = 0, touched = 0;

    fuzz::for_each_frame(data, size, [&](std::span<const uint8_t> frame, bool verify_icrc) {
        now += 300;
        const flow::TableCounters before = table.counters();
        const uint32_t live_before = table.size();
        const flow::FrameOutcome out =
            flow::account_frame(frame, uint32_t(frame.size()), now, verify_icrc, totals, table, p);

        // Not RoCE or malformed: dispatch must still read the frame within bounds.
        if (out.verdict != roce::Verdict::Ok) {
            (void)dataplane::dispatch_hash(frame);
        } else {
            ++touched;
            check_icrc_and_dispatch(frame, p);
            const flow::TableCounters& c = table.counters();
            CHECK(c.packets == before.packets + 1);
            const uint64_t host_refusals =
                c.hosts_refused_table_full - before.hosts_refused_table_full;
            const uint64_t flow_refusals =
                c.flows_refused_table_full - before.flows_refused_table_full;
            if (out.flow.index == flow::kNoIndex) {
                CHECK(host_refusals + flow_refusals == 1);
                if (host_refusals) CHECK(table.hosts().size() == table.hosts().capacity());
                if (flow_refusals) CHECK(table.size() == cfg.max_flows);
                CHECK(table.size() == live_before);
            } else {
                CHECK(host_refusals + flow_refusals == 0);
                CHECK(table.find(p.src, p.dst, p.bth.dest_qp) == out.flow.index);
                const flow::FlowRecord& r = table.record(out.flow.index);
                CHECK((r.state & flow::kLive) && r.last_ns == now);
                CHECK(table.size() == live_before + (out.flow.created ? 1 : 0));
                if (out.flow.created) CHECK(r.first_ns == now && out.flow.prev_last_ns == 0);
            }
        }
        if ((now / 300) % 7 == 0) {
            const uint32_t live = table.size();
            const size_t removed = table.evict_idle(now, 16);
            CHECK(table.size() + removed == live);
        }
    });

    const flow::TableCounters& c = table.counters();
    CHECK(c.packets == touched);
    CHECK(c.flows_created - c.flows_evicted_idle == table.size());
    CHECK(table.size() <= cfg.max_flows && table.extensions_in_use() <= cfg.max_extensions);
    uint32_t visited = 0;
    table.for_each([&](uint32_t, const flow::FlowRecord&) { ++visited; });
    CHECK(visited == table.size());
    CHECK(totals.roce_packets + totals.not_roce + totals.malformed() == totals.frames);
    return 0;
}

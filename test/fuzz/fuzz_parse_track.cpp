// libFuzzer target: frame parsing, ICRC, flow tracking and report building.
// Input: a sequence of frames, each as a 2-byte little-endian length and that many
// bytes (a trailing partial frame is used as is), so one input drives a flow's state
// machine across packets as a capture would. Sanitizers do the checking, plus one
// property: weftd's dispatch hash keeps a RoCE flow on one worker.
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "weft/dataplane/dispatch.hpp"
#include "weft/flow/report.hpp"
#include "weft/flow/summary.hpp"
#include "weft/flow/table.hpp"
#include "weft/roce/bytes.hpp"
#include "weft/roce/icrc.hpp"
#include "weft/roce/packet.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace weft;
    flow::TableConfig cfg;
    cfg.max_flows = 64;  // small, so refusals and eviction are reached
    cfg.max_hosts = 16;
    cfg.max_extensions = 8;
    cfg.idle_timeout_ns = 1000;
    flow::Table table(cfg);
    flow::Totals totals;
    uint64_t now = 0;
    size_t at = 0;
    while (at < size) {
        size_t len = size - at >= 2 ? size_t(data[at]) | size_t(data[at + 1]) << 8 : 0;
        at += 2;
        if (at > size) break;
        if (len > size - at) len = size - at;
        std::span<const uint8_t> frame(data + at, len);
        at += len;
        roce::Packet p;
        roce::Verdict v = roce::parse(frame, p);
        ++totals.verdicts[size_t(v)];
        // weftd's software dispatch reads the same bytes with its own bounds checks, and
        // must give a RoCE flow one owner whatever its UDP source port
        uint64_t owner = dataplane::dispatch_hash(frame);
        if (v == roce::Verdict::Ok) {
            std::vector<uint8_t> moved(frame.begin(), frame.end());
            roce::store_be16(moved.data() + p.l4_offset, uint16_t(p.src_port ^ 0x5a5a));
            if (dataplane::dispatch_hash(moved) != owner) __builtin_trap();
        }
        now += 300;
        if (v == roce::Verdict::Ok) {
            bool ok = roce::icrc_valid(p);
            // exercise the incremental update against a full recompute
            uint32_t updated = roce::icrc_after_src_port_change(p, uint16_t(p.src_port ^ 0x5a5a));
            (void)updated;
            table.touch(p, uint32_t(len), now, ok || (len & 1));
        }
        if ((now / 300) % 7 == 0) table.evict_idle(now, 16);
    }
    auto flows = flow::summarize_all(table);
    auto selected = flow::select_flows(flows, {});
    auto doc = flow::flows_document(flows, selected, totals, table.counters());
    (void)doc.dump();
    (void)flow::format_report(flows, selected, totals, table.counters());
    return 0;
}

// libFuzzer target: the flow report builders over the table a sequence of frames leaves
// (input format in frames.hpp; the frames go through flow::account_frame as in weftd and
// `weftctl analyze`). Split from fuzz_parse_track.cpp because rendering JSON is most of
// an execution's cost: that target stays fast on parse, ICRC and table properties, and
// this one spends its time where the reports are built.
//
// Properties, each trapping when violated:
//   - a snapshot taken the way weftd takes it (TableCopier in small steps, then
//     summarize_copies and pair_flows) equals summarize_all on the table;
//   - select_flows keeps at most `top` flows, only flows passing the filter, largest first;
//   - the weft.flows/1 document lists the selected flows and counts all of them, and
//     renders (dump() throws on a string that is not UTF-8, which is how a bad address
//     or opcode name would show; parsing the text back measured a third of the run time
//     and would test nlohmann::json rather than Weft);
//   - the human report has a line per selected flow after its header lines.
// The filter (top, sort key, destination QP) comes from the input's first byte.
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <tuple>
#include <vector>

#include <nlohmann/json.hpp>

#include "check.hpp"
#include "frames.hpp"
#include "weft/flow/account.hpp"
#include "weft/flow/filter.hpp"
#include "weft/flow/report.hpp"
#include "weft/flow/snapshot.hpp"
#include "weft/flow/summary.hpp"
#include "weft/flow/table.hpp"
#include "weft/flow/table_flows.hpp"

namespace {

using namespace weft;

bool same(const flow::FlowSummary& a, const flow::FlowSummary& b) {
    auto fields = [](const flow::FlowSummary& f) {
        return std::tie(f.src, f.dst, f.dest_qp, f.src_ports, f.src_ports_truncated, f.packets,
                        f.wire_bytes, f.payload_bytes, f.first_ns, f.last_ns, f.opcodes,
                        f.opcodes_truncated, f.psn_gaps, f.psn_duplicates, f.psn_out_of_order,
                        f.acks, f.naks, f.cnp, f.ecn_ce, f.icrc_errors, f.messages, f.message_sizes,
                        f.request_psn_next, f.acknowledged_psn_next, f.reverse,
                        f.outstanding_reads);
    };
    return fields(a) == fields(b);
}

// The sort rule written out here, independently of flow::sort_value.
uint64_t expected_sort_value(const flow::FlowSummary& f, flow::FlowFilter::SortKey key) {
    using K = flow::FlowFilter::SortKey;
    switch (key) {
        case K::Bytes:
            return f.wire_bytes;
        case K::Packets:
            return f.packets;
        case K::Messages:
            return f.messages;
        case K::Naks:
            return f.nak_total();
        case K::Gaps:
            return f.psn_gaps;
    }
    __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size == 0) return 0;
    // Small: a report of a handful of flows covers every rendering path (two pairs of
    // directions, filters that keep some), and refusals and eviction (which the report
    // counters show) are reached by a short input. Each flow is ~40 JSON allocations,
    // the bulk of an execution's cost under ASan.
    flow::TableConfig cfg;
    cfg.max_flows = 4;
    cfg.max_hosts = 4;
    cfg.max_extensions = 2;
    cfg.idle_timeout_ns = 1000;
    flow::Table table(cfg);
    flow::Totals totals;
    roce::Packet p;
    uint64_t now = 0;

    const uint8_t knobs = data[0];
    fuzz::for_each_frame(data + 1, size - 1, [&](std::span<const uint8_t> frame, bool verify) {
        now += 300;
        (void)flow::account_frame(frame, uint32_t(frame.size()), now, verify, totals, table, p);
        if ((now / 300) % 7 == 0) table.evict_idle(now, 16);
    });

    std::vector<flow::FlowSummary> flows = flow::summarize_all(table);
    CHECK(flows.size() == table.size());

    // weftd's snapshot: the owner copies a few records per step into the reader's buffer.
    std::vector<flow::FlowCopy> copies(table.size());
    flow::TableCopier copier;
    copier.start(copies);
    while (!copier.step(table, 3)) {
    }
    CHECK(copier.copied() == table.size() && copier.missed() == 0);
    std::vector<flow::FlowSummary> snapshot = flow::summarize_copies(copies);
    flow::pair_flows(snapshot);
    CHECK(snapshot.size() == flows.size());
    for (size_t i = 0; i < flows.size(); ++i) CHECK(same(flows[i], snapshot[i]));

    flow::FlowFilter filter;
    filter.top = knobs & 3;  // 0: all
    filter.sort = flow::FlowFilter::SortKey((knobs >> 2) % 5);
    if ((knobs & 0x20) && !flows.empty()) filter.dest_qp = flows[knobs % flows.size()].dest_qp;
    if ((knobs & 0x40) && !flows.empty()) filter.hosts.push_back(flows.back().dst);
    const std::vector<size_t> selected = flow::select_flows(flows, filter);
    CHECK(filter.top == 0 || selected.size() <= filter.top);
    for (size_t k = 0; k < selected.size(); ++k) {
        const flow::FlowSummary& f = flows.at(selected[k]);
        CHECK(!filter.dest_qp || f.dest_qp == *filter.dest_qp);
        CHECK(filter.hosts.empty() || f.src == filter.hosts[0] || f.dst == filter.hosts[0]);
        if (k)
            CHECK(expected_sort_value(flows[selected[k - 1]], filter.sort) >=
                  expected_sort_value(f, filter.sort));
    }

    // weftctl analyze's path: the table's flows summarised on demand must select and read
    // exactly as every summary made at once.
    const flow::TableFlows lazy(table);
    CHECK(lazy.size() == flows.size());
    CHECK(lazy.select(filter) == selected);
    for (size_t i = 0; i < flows.size(); ++i) CHECK(same(lazy.summary(i), flows[i]));

    const nlohmann::json doc = flow::flows_document(flows, selected, totals, table.counters());
    CHECK(doc.at("flows").size() == selected.size());
    CHECK(doc.at("totals").at("flows") == flows.size());
    CHECK(!doc.dump().empty());

    const std::string text = flow::format_report(flows, selected, totals, table.counters());
    size_t lines = 0;
    for (char ch : text) lines += ch == '\n';
    CHECK(lines >= 2 + selected.size());
    return 0;
}

#include "weft/flow/report.hpp"

#include <fmt/format.h>

#include "weft/telemetry/render.hpp"

#include <algorithm>

namespace weft::flow {

using nlohmann::json;

namespace {

std::string opcode_name(uint8_t op) {
    const auto& info = roce::opcode_info(op);
    return info.valid ? std::string(info.name) : fmt::format("0x{:02x}", op);
}

}  // namespace

json flow_to_json(const FlowSummary& f, const std::vector<FlowSummary>& all) {
    json opcodes = json::object();
    for (auto& [code, count] : f.opcodes) opcodes[opcode_name(code)] = count;
    json naks = json::object();
    for (size_t k = 0; k < roce::kAckKindCount; ++k)
        if (f.naks[k]) naks[std::string(roce::to_string(roce::AckKind(k)))] = f.naks[k];
    json sizes = json::object();
    for (size_t b = 0; b < kSizeBuckets; ++b) sizes[kSizeBucketNames[b]] = f.message_sizes[b];
    json reverse = nullptr;
    if (f.reverse) {
        const FlowSummary& g = all[*f.reverse];
        reverse = {{"src", g.src.to_string()}, {"dst", g.dst.to_string()}, {"dqpn", g.dest_qp}};
    }
    return {
        {"src", f.src.to_string()},
        {"dst", f.dst.to_string()},
        {"dqpn", f.dest_qp},
        {"sports", f.src_ports},
        {"sports_truncated", f.src_ports_truncated},
        {"packets", f.packets},
        {"bytes", f.wire_bytes},
        {"payload_bytes", f.payload_bytes},
        {"first_ns", f.first_ns},
        {"last_ns", f.last_ns},
        {"opcodes", opcodes},
        {"opcodes_truncated", f.opcodes_truncated},
        {"psn",
         {{"gaps", f.psn_gaps},
          {"duplicates", f.psn_duplicates},
          {"out_of_order", f.psn_out_of_order}}},
        {"acks", f.acks},
        {"naks", naks},
        {"cnp", f.cnp},
        {"ecn_ce", f.ecn_ce},
        {"icrc_errors", f.icrc_errors},
        {"messages", f.messages},
        {"message_sizes", sizes},
        {"reverse", reverse},
        {"outstanding_reads", f.outstanding_reads ? json(*f.outstanding_reads) : json(nullptr)},
    };
}

json totals_to_json(const Totals& t) {
    json j = telemetry::to_json(t);
    j["malformed"] = t.malformed();
    return j;
}

json table_counters_to_json(const TableCounters& c) {
    return telemetry::to_json(c);
}

json flows_document(const std::vector<FlowSummary>& flows, const std::vector<size_t>& selected,
                    const Totals& totals, const TableCounters& counters) {
    json malformed = json::object();
    for (size_t v = 0; v < roce::kVerdictCount; ++v)
        if (roce::is_malformed(roce::Verdict(v)))
            malformed[std::string(roce::to_string(roce::Verdict(v)))] = totals.verdicts[v];
    json list = json::array();
    for (size_t i : selected) list.push_back(flow_to_json(flows[i], flows));
    json t = totals_to_json(totals);
    t["flows"] = flows.size();
    t["flows_shown"] = selected.size();
    return {{"schema", kSchemaName},
            {"totals", t},
            {"malformed", malformed},
            {"table", table_counters_to_json(counters)},
            {"flows", list}};
}

std::string format_bytes(uint64_t bytes) {
    static constexpr const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    double v = double(bytes);
    int u = 0;
    while (v >= 1024 && u < 4) v /= 1024, ++u;
    return u == 0 ? fmt::format("{} B", bytes) : fmt::format("{:.1f} {}", v, units[u]);
}

std::string format_report(const std::vector<FlowSummary>& flows,
                          const std::vector<size_t>& selected, const Totals& t,
                          const TableCounters& counters) {
    std::string out;
    auto line = [&]<typename... A>(fmt::format_string<A...> format, A&&... args) {
        out += fmt::format(format, std::forward<A>(args)...);
        out += '\n';
    };
    line("frames {}  ({})   RoCEv2 packets {}  ({})   not RoCE {}   malformed {}", t.frames,
         format_bytes(t.bytes), t.roce_packets, format_bytes(t.roce_bytes), t.not_roce,
         t.malformed());
    line("QP flows {}   ICRC checked {}   ICRC errors {}{}", flows.size(), t.icrc_checked,
         t.icrc_errors,
         t.truncated_records ? fmt::format("   truncated records {}", t.truncated_records) : "");
    if (counters.flows_refused_table_full || counters.hosts_refused_table_full ||
        counters.extension_refused)
        line("table full: flows refused {}  hosts refused {}  extensions refused {}",
             counters.flows_refused_table_full, counters.hosts_refused_table_full,
             counters.extension_refused);
    if (t.malformed()) {
        std::string parts;
        for (size_t v = 0; v < roce::kVerdictCount; ++v)
            if (roce::is_malformed(roce::Verdict(v)) && t.verdicts[v])
                parts += fmt::format("  {} {}", roce::to_string(roce::Verdict(v)), t.verdicts[v]);
        line("malformed by verdict:{}", parts);
    }
    if (selected.empty()) {
        line("no QP flows match");
        return out;
    }
    line("");
    line("{:<16} {:<16} {:>8} {:>6} {:>10} {:>11} {:>8} {:>5} {:>5} {:>5} {:>5} {:>5} {:>4}  {}",
         "SRC", "DST", "DQPN", "SPORT", "PACKETS", "BYTES", "MSGS", "GAPS", "DUPS", "NAKS", "CNP",
         "ECN", "ICRC", "OPCODES");
    for (size_t i : selected) {
        const FlowSummary& f = flows[i];
        std::string ops;
        for (auto& [code, count] : f.opcodes) {
            if (!ops.empty()) ops += ' ';
            ops += fmt::format("{}:{}", opcode_name(code), count);
        }
        line(
            "{:<16} {:<16} {:>#8x} {:>6} {:>10} {:>11} {:>8} {:>5} {:>5} {:>5} {:>5} {:>5} {:>4}  "
            "{}",
            f.src.to_string(), f.dst.to_string(), f.dest_qp,
            f.src_ports.empty()
                ? std::string("-")
                : fmt::format("{}{}", f.src_ports[0], f.src_ports.size() > 1 ? "+" : ""),
            f.packets, format_bytes(f.wire_bytes), f.messages, f.psn_gaps, f.psn_duplicates,
            f.nak_total(), f.cnp, f.ecn_ce, f.icrc_errors, ops);
    }
    if (selected.size() < flows.size())
        line("({} of {} flows shown)", selected.size(), flows.size());
    return out;
}

}  // namespace weft::flow

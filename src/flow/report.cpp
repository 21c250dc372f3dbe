#include "weft/flow/report.hpp"

#include <fmt/format.h>

#include "weft/telemetry/render.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string_view>

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

namespace {

// The document without its flows: "flows" is an empty array, for the caller to fill.
json document_head(size_t flow_count, size_t shown, const Totals& totals,
                   const TableCounters& counters) {
    json malformed = json::object();
    for (size_t v = 0; v < roce::kVerdictCount; ++v)
        if (roce::is_malformed(roce::Verdict(v)))
            malformed[std::string(roce::to_string(roce::Verdict(v)))] = totals.verdicts[v];
    json t = totals_to_json(totals);
    t["flows"] = flow_count;
    t["flows_shown"] = shown;
    return {{"schema", kSchemaName},
            {"totals", t},
            {"malformed", malformed},
            {"table", table_counters_to_json(counters)},
            {"flows", json::array()}};
}

}  // namespace

json flows_document(const std::vector<FlowSummary>& flows, const std::vector<size_t>& selected,
                    const Totals& totals, const TableCounters& counters) {
    json doc = document_head(flows.size(), selected.size(), totals, counters);
    json& list = doc["flows"];
    for (size_t i : selected) list.push_back(flow_to_json(flows[i], flows));
    return doc;
}

// ---- the streamed document ----------------------------------------------------------------
// nlohmann::json keeps object keys in a std::map, so dump() writes them sorted; the flow
// object below is written in that order, with dump(2)'s indentation at the depth flows
// have (the flows array is at depth 1), and the unit tests compare the two texts whole.

namespace {

// The document's text, gathered in a fixed buffer handed to the sink whenever it fills.
class JsonText {
  public:
    explicit JsonText(const TextSink& sink)
        : sink_(sink), buf_(std::make_unique<char[]>(kCapacity)), p_(buf_.get()) {}
    template <size_t N>
    void raw(const char (&s)[N]) {  // a literal: a memcpy of known size
        put(s, N - 1);
    }
    void raw(std::string_view s) { put(s.data(), s.size()); }
    void number(uint64_t v) {
        room(24);
        p_ = std::to_chars(p_, p_ + 24, v).ptr;
    }
    void number(int64_t v) {
        room(24);
        p_ = std::to_chars(p_, p_ + 24, v).ptr;
    }
    void boolean(bool b) {
        if (b)
            raw("true");
        else
            raw("false");
    }
    // A JSON string exactly as nlohmann writes it: the names and addresses written here are
    // plain ASCII, anything else goes through nlohmann's own serializer.
    void string(std::string_view s) {
        bool plain = true;
        for (char c : s)
            if (uint8_t(c) < 0x20 || uint8_t(c) > 0x7e || c == '"' || c == '\\') plain = false;
        if (plain) {
            room(s.size() + 2);
            *p_++ = '"';
            put(s.data(), s.size());
            *p_++ = '"';
        } else {
            raw(json(std::string(s)).dump(-1, ' ', false, json::error_handler_t::replace));
        }
    }
    // As IpAddress::to_string() writes it (inet_ntop), without its allocation for IPv4.
    void address(const roce::IpAddress& a) {
        if (!a.is_v4()) return string(a.to_string());
        room(17);
        *p_++ = '"';
        for (size_t i = 12; i < 16; ++i) {
            p_ = std::to_chars(p_, p_ + 3, unsigned(a.bytes[i])).ptr;
            *p_++ = i < 15 ? '.' : '"';
        }
    }
    void flush() {
        if (p_ == buf_.get()) return;
        sink_(std::string_view(buf_.get(), size_t(p_ - buf_.get())));
        p_ = buf_.get();
    }

  private:
    static constexpr size_t kCapacity = 256 * 1024;
    void room(size_t n) {
        if (n > size_t(buf_.get() + kCapacity - p_)) [[unlikely]]
            flush();
    }
    // Inline, so a literal's copy is a few moves of known size; the rare rest out of line.
    [[gnu::always_inline]] void put(const char* s, size_t n) {
        if (n > size_t(buf_.get() + kCapacity - p_)) [[unlikely]]
            return put_after_flush(s, n);
        std::memcpy(p_, s, n);
        p_ += n;
    }
    [[gnu::noinline]] void put_after_flush(const char* s, size_t n) {
        flush();
        if (n > kCapacity) return sink_(std::string_view(s, n));
        std::memcpy(p_, s, n);
        p_ += n;
    }

    const TextSink& sink_;
    std::unique_ptr<char[]> buf_;
    char* p_;
};

// Indices 0..N-1 ordered by name, as a std::map<std::string, ...> orders its keys.
template <size_t N, typename Name>
std::array<size_t, N> sorted_by_name(Name name) {
    std::array<size_t, N> order;
    for (size_t i = 0; i < N; ++i) order[i] = i;
    std::stable_sort(order.begin(), order.end(),
                     [&](size_t a, size_t b) { return name(a) < name(b); });
    return order;
}

const std::array<std::string, 256>& opcode_names() {
    static const std::array<std::string, 256> names = [] {
        std::array<std::string, 256> n;
        for (size_t op = 0; op < 256; ++op) n[op] = opcode_name(uint8_t(op));
        return n;
    }();
    return names;
}

class FlowWriter {
  public:
    explicit FlowWriter(JsonText& out) : o_(out) {}

    void write(const FlowSummary& f, const FlowSource& all) {
        static const auto size_order = sorted_by_name<kSizeBuckets>(
            [](size_t b) { return std::string_view(kSizeBucketNames[b]); });
        static const auto nak_order = sorted_by_name<roce::kAckKindCount>(
            [](size_t k) { return roce::to_string(roce::AckKind(k)); });
        JsonText& o = o_;
        o.raw("    {\n      \"acks\": ");
        o.number(f.acks);
        o.raw(",\n      \"bytes\": ");
        o.number(f.wire_bytes);
        o.raw(",\n      \"cnp\": ");
        o.number(f.cnp);
        o.raw(",\n      \"dqpn\": ");
        o.number(uint64_t(f.dest_qp));
        o.raw(",\n      \"dst\": ");
        o.address(f.dst);
        o.raw(",\n      \"ecn_ce\": ");
        o.number(f.ecn_ce);
        o.raw(",\n      \"first_ns\": ");
        o.number(f.first_ns);
        o.raw(",\n      \"icrc_errors\": ");
        o.number(f.icrc_errors);
        o.raw(",\n      \"last_ns\": ");
        o.number(f.last_ns);
        o.raw(",\n      \"message_sizes\": ");
        begin_object();
        for (size_t b : size_order) member(kSizeBucketNames[b], f.message_sizes[b]);
        end_object();
        o.raw(",\n      \"messages\": ");
        o.number(f.messages);
        o.raw(",\n      \"naks\": ");
        begin_object();
        for (size_t k : nak_order)
            if (f.naks[k]) member(roce::to_string(roce::AckKind(k)), f.naks[k]);
        end_object();
        o.raw(",\n      \"opcodes\": ");
        write_opcodes(f);
        o.raw(",\n      \"opcodes_truncated\": ");
        o.boolean(f.opcodes_truncated);
        o.raw(",\n      \"outstanding_reads\": ");
        if (f.outstanding_reads)
            o.number(int64_t(*f.outstanding_reads));
        else
            o.raw("null");
        o.raw(",\n      \"packets\": ");
        o.number(f.packets);
        o.raw(",\n      \"payload_bytes\": ");
        o.number(f.payload_bytes);
        o.raw(",\n      \"psn\": {\n        \"duplicates\": ");
        o.number(f.psn_duplicates);
        o.raw(",\n        \"gaps\": ");
        o.number(f.psn_gaps);
        o.raw(",\n        \"out_of_order\": ");
        o.number(f.psn_out_of_order);
        o.raw("\n      },\n      \"reverse\": ");
        if (f.reverse) {
            const FlowId g = all.id(*f.reverse);
            o.raw("{\n        \"dqpn\": ");
            o.number(uint64_t(g.dest_qp));
            o.raw(",\n        \"dst\": ");
            o.address(g.dst);
            o.raw(",\n        \"src\": ");
            o.address(g.src);
            o.raw("\n      }");
        } else {
            o.raw("null");
        }
        o.raw(",\n      \"sports\": ");
        if (f.src_ports.empty()) {
            o.raw("[]");
        } else {
            for (size_t i = 0; i < f.src_ports.size(); ++i) {
                o.raw(i == 0 ? "[\n        " : ",\n        ");
                o.number(uint64_t(f.src_ports[i]));
            }
            o.raw("\n      ]");
        }
        o.raw(",\n      \"sports_truncated\": ");
        o.boolean(f.src_ports_truncated);
        o.raw(",\n      \"src\": ");
        o.address(f.src);
        o.raw("\n    }");
    }

  private:
    // An object member of a flow (depth 3): "{}" when there is none, as dump() writes it.
    void begin_object() { members_ = 0; }
    void member(std::string_view key, uint64_t value) {
        o_.raw(members_++ == 0 ? "{\n        " : ",\n        ");
        o_.string(key);
        o_.raw(": ");
        o_.number(value);
    }
    void end_object() { o_.raw(members_ ? "\n      }" : "{}"); }

    void write_opcodes(const FlowSummary& f) {
        // By name, as the tree's map orders them; were two opcodes to share a name, the
        // tree would keep the later one's count (the last assignment), and so does this.
        const auto& names = opcode_names();
        ops_.clear();
        for (auto& [code, count] : f.opcodes) ops_.emplace_back(names[code], count);
        std::stable_sort(ops_.begin(), ops_.end(),
                         [](const auto& a, const auto& b) { return a.first < b.first; });
        begin_object();
        for (size_t i = 0; i < ops_.size(); ++i)
            if (i + 1 == ops_.size() || ops_[i + 1].first != ops_[i].first)
                member(ops_[i].first, ops_[i].second);
        end_object();
    }

    JsonText& o_;
    size_t members_ = 0;
    std::vector<std::pair<std::string_view, uint64_t>> ops_;  // reused: no allocation per flow
};

}  // namespace

FlowSource flow_source(const std::vector<FlowSummary>& flows) {
    return {flows.size(),
            [&flows](size_t i, FlowSummary&) -> const FlowSummary& { return flows[i]; },
            [&flows](size_t i) {
                return FlowId{flows[i].src, flows[i].dst, flows[i].dest_qp};
            }};
}

FlowSource flow_source(const TableFlows& flows) {
    return {flows.size(),
            [&flows](size_t i, FlowSummary& scratch) -> const FlowSummary& {
                scratch = flows.summary(i);
                return scratch;
            },
            [&flows](size_t i) { return flows.id(i); }};
}

void write_flows_document(const TextSink& sink, const std::vector<FlowSummary>& flows,
                          const std::vector<size_t>& selected, const Totals& totals,
                          const TableCounters& counters, const json& extra) {
    write_flows_document(sink, flow_source(flows), selected, totals, counters, extra);
}

void write_flows_document(const TextSink& sink, const FlowSource& flows,
                          const std::vector<size_t>& selected, const Totals& totals,
                          const TableCounters& counters, const json& extra) {
    // Everything but the flows is small: made as a tree and dumped, with the flows array
    // left empty, then the flows are written into its place one at a time.
    json head = document_head(flows.count, selected.size(), totals, counters);
    for (auto& [key, value] : extra.items()) {
        if (key == "flows")
            throw std::invalid_argument("write_flows_document: extra has \"flows\"");
        head[key] = value;
    }
    // Invalid UTF-8 (a file name is bytes) becomes U+FFFD instead of an exception.
    const std::string text = head.dump(2, ' ', false, json::error_handler_t::replace);
    // Keys at depth 1 are indented by exactly two spaces and strings hold no raw newline,
    // so this is the top-level "flows" and no other.
    static constexpr std::string_view kMarker = "\n  \"flows\": []";
    const size_t at = text.find(kMarker);
    if (at == std::string::npos) throw std::logic_error("write_flows_document: no flows array");
    const size_t open = at + kMarker.size() - 1;  // the ']' of "[]"
    JsonText o(sink);
    o.raw(std::string_view(text).substr(0, open));
    if (!selected.empty()) {
        FlowWriter w(o);
        FlowSummary scratch;
        for (size_t n = 0; n < selected.size(); ++n) {
            o.raw(n == 0 ? "\n" : ",\n");
            w.write(flows.summary(selected[n], scratch), flows);
        }
        o.raw("\n  ");
    }
    o.raw(std::string_view(text).substr(open));
    o.raw("\n");
    o.flush();
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
                          const TableCounters& counters, const TableStyle& style) {
    return format_report(flow_source(flows), selected, t, counters, style);
}

std::string format_report(const FlowSource& flows, const std::vector<size_t>& selected,
                          const Totals& t, const TableCounters& counters, const TableStyle& style) {
    std::string out;
    auto line = [&]<typename... A>(fmt::format_string<A...> format, A&&... args) {
        out += fmt::format(format, std::forward<A>(args)...);
        out += '\n';
    };
    // Short lines: the summary fits 80 columns as the table does.
    line("frames {} ({})   RoCEv2 packets {} ({})", t.frames, format_bytes(t.bytes), t.roce_packets,
         format_bytes(t.roce_bytes));
    line("not RoCE {}   malformed {}{}", t.not_roce, t.malformed(),
         t.truncated_records ? fmt::format("   truncated records {}", t.truncated_records) : "");
    line("QP flows {}   ICRC checked {}   ICRC errors {}", flows.count, t.icrc_checked,
         t.icrc_errors);
    if (counters.flows_refused_table_full || counters.hosts_refused_table_full ||
        counters.extension_refused)
        line("table full: packets of untracked flows {}  hosts refused {}  extensions refused {}",
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
    // The columns, in the order they are shown, each with the rank it keeps its place by:
    // the table takes columns by rank while they fit the width; the rest (and the opcode
    // mix, unbounded) are for --wide. Addresses take the width of the widest shown, so
    // IPv6 rows stay aligned.
    struct Column {
        const char* title;
        int rank;
        bool left;
        std::function<std::string(const FlowSummary&)> cell;
        size_t width = 0;
        bool shown = false;
    };
    std::vector<Column> columns = {
        {"SRC", 0, true, [](const FlowSummary& f) { return f.src.to_string(); }},
        {"DST", 1, true, [](const FlowSummary& f) { return f.dst.to_string(); }},
        {"DQPN", 2, false, [](const FlowSummary& f) { return fmt::format("{:#x}", f.dest_qp); }},
        {"SPORT", 12, false,
         [](const FlowSummary& f) {
             return f.src_ports.empty()
                        ? std::string("-")
                        : fmt::format("{}{}", f.src_ports[0], f.src_ports.size() > 1 ? "+" : "");
         }},
        {"PACKETS", 3, false, [](const FlowSummary& f) { return std::to_string(f.packets); }},
        {"BYTES", 4, false, [](const FlowSummary& f) { return format_bytes(f.wire_bytes); }},
        {"MSGS", 10, false, [](const FlowSummary& f) { return std::to_string(f.messages); }},
        {"GAPS", 6, false, [](const FlowSummary& f) { return std::to_string(f.psn_gaps); }},
        {"DUPS", 11, false, [](const FlowSummary& f) { return std::to_string(f.psn_duplicates); }},
        {"NAKS", 5, false, [](const FlowSummary& f) { return std::to_string(f.nak_total()); }},
        {"CNP", 7, false, [](const FlowSummary& f) { return std::to_string(f.cnp); }},
        {"ECN", 8, false, [](const FlowSummary& f) { return std::to_string(f.ecn_ce); }},
        {"ICRC", 9, false, [](const FlowSummary& f) { return std::to_string(f.icrc_errors); }},
    };
    // Rows are rendered once: cells first (for the widths), then the lines.
    std::vector<std::vector<std::string>> cells;
    std::vector<std::string> opcodes;
    cells.reserve(selected.size());
    FlowSummary scratch;
    for (size_t i : selected) {
        const FlowSummary& f = flows.summary(i, scratch);
        std::vector<std::string> row;
        row.reserve(columns.size());
        for (Column& c : columns) {
            row.push_back(c.cell(f));
            c.width = std::max({c.width, row.back().size(), std::strlen(c.title)});
        }
        cells.push_back(std::move(row));
        if (style.wide) {
            std::string ops;
            for (auto& [code, count] : f.opcodes) {
                if (!ops.empty()) ops += ' ';
                ops += fmt::format("{}:{}", opcode_name(code), count);
            }
            opcodes.push_back(std::move(ops));
        }
    }
    std::vector<size_t> by_rank(columns.size());
    for (size_t c = 0; c < columns.size(); ++c) by_rank[size_t(columns[c].rank)] = c;
    size_t used = 0;
    std::vector<const char*> hidden;
    bool full = false;
    for (size_t c : by_rank) {
        const size_t need = columns[c].width + (used ? 1 : 0);
        // the first three (who and which QP) always; the rest in order of importance while
        // they fit: once one does not, none after it is taken (a narrow column of less
        // use must not take the place of a wider, more useful one)
        full = full || (!style.wide && columns[c].rank >= 3 && used + need > style.width);
        if (!full) {
            columns[c].shown = true;
            used += need;
        }
    }
    for (const Column& c : columns)
        if (!c.shown) hidden.push_back(c.title);
    auto row_text = [&](auto&& text_of) {
        std::string r;
        for (size_t c = 0; c < columns.size(); ++c) {
            if (!columns[c].shown) continue;
            if (!r.empty()) r += ' ';
            const std::string t = text_of(c);
            if (columns[c].left)
                r += fmt::format("{:<{}}", t, columns[c].width);
            else
                r += fmt::format("{:>{}}", t, columns[c].width);
        }
        return r;
    };
    std::string header = row_text([&](size_t c) { return std::string(columns[c].title); });
    if (style.wide) header += "  OPCODES";
    // no trailing blanks: the last column may be a left-aligned address
    auto trim = [](std::string t) {
        t.erase(t.find_last_not_of(' ') + 1);
        return t;
    };
    line("{}", trim(header));
    for (size_t r = 0; r < cells.size(); ++r) {
        std::string text = row_text([&](size_t c) { return cells[r][c]; });
        if (style.wide) text += "  " + opcodes[r];
        line("{}", trim(text));
    }
    if (!hidden.empty())
        line("(to fit {} columns: {} hidden; --wide shows them and the opcodes)", style.width,
             fmt::join(hidden, " "));
    if (selected.size() < flows.count) line("({} of {} flows shown)", selected.size(), flows.count);
    return out;
}

}  // namespace weft::flow

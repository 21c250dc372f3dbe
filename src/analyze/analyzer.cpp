#include "weft/analyze/analyzer.hpp"

#include <chrono>
#include <memory>

#include "weft/capture/pcap_file.hpp"
#include "weft/flow/account.hpp"

namespace weft::analyze {

Result analyze_file(const std::string& path, const Options& options) {
    using Clock = std::chrono::steady_clock;
    capture::PcapReader reader(path);
    if (!reader.delivers_ethernet())
        throw capture::CaptureError(
            (path == "-" ? std::string("standard input") : path) + ": " + reader.link_type_name() +
            " is not a link type Weft reads (Ethernet, or Linux cooked as tcpdump -i any "
            "writes)");
    Result result;
    result.flow_table = std::make_unique<flow::Table>(options.table);
    flow::Table& table = *result.flow_table;
    flow::Totals& t = result.totals;
    const auto start = Clock::now();
    auto next_report = start + std::chrono::seconds(1);

    capture::Record rec;
    roce::Packet pkt;
    while (reader.next(rec)) {
        if (rec.data.size() < rec.wire_length) {
            // Cut by the capture's snap length: headers may be intact but the ICRC is
            // gone, so the packet can be neither verified nor counted as malformed.
            ++t.frames;
            t.bytes += rec.wire_length;
            ++t.truncated_records;
            continue;
        }
        flow::account_frame(rec.data, rec.wire_length, rec.timestamp_ns, options.verify_icrc, t,
                            table, pkt);
        if (options.on_progress && (t.frames & 0x3fff) == 0) {
            auto now = Clock::now();
            if (now >= next_report) {
                next_report = now + std::chrono::seconds(1);
                options.on_progress({t.frames, reader.position(), reader.file_size(),
                                     std::chrono::duration<double>(now - start).count()});
            }
        }
    }
    if (reader.truncated()) {
        result.truncation = reader.truncation();
        ++t.truncated_records;
    }
    // Not a record, so not counted as one: what came before it was analysed.
    if (reader.corrupt()) result.corruption = reader.corruption();
    result.table = table.counters();
    result.flows = flow::TableFlows(table);
    result.seconds = std::chrono::duration<double>(Clock::now() - start).count();
    return result;
}

}  // namespace weft::analyze

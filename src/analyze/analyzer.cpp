#include "weft/analyze/analyzer.hpp"

#include <chrono>
#include <cstring>
#include <map>
#include <memory>
#include <vector>

#include "weft/crypt/psp.hpp"
#include "weft/roce/bytes.hpp"
#include "weft/roce/locate.hpp"

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
    // PSP: a receiver deriving each SPI's SA on first sight (a holder of both master keys
    // can), and a buffer to open frames in
    std::unique_ptr<crypt::DerivingReceiver> receiver;
    if (options.psp_keys) receiver = std::make_unique<crypt::DerivingReceiver>(*options.psp_keys);
    std::vector<uint8_t> scratch;
    constexpr uint32_t kRoom = 256;
    auto psp_of = [&](std::span<const uint8_t> frame) -> PspSpiCounters* {
        const roce::Located loc = roce::locate(frame);
        if (!roce::is_psp(loc) || size_t(loc.l4_offset) + 8 + 8 > frame.size()) return nullptr;
        const uint8_t* h = frame.data() + loc.l4_offset + 8;
        return &result.psp[{roce::load_be32(h + 4), uint8_t((h[3] >> 2) & 0x0f)}];
    };
    while (reader.next(rec)) {
        if (receiver && rec.data.size() == rec.wire_length) {
            if (PspSpiCounters* c = psp_of(rec.data)) {
                ++c->frames;
                c->bytes += rec.wire_length;
                scratch.resize(kRoom + rec.data.size() + kRoom);
                std::memcpy(scratch.data() + kRoom, rec.data.data(), rec.data.size());
                crypt::FrameBuffer f{scratch.data() + kRoom, uint32_t(rec.data.size()), kRoom,
                                     kRoom};
                const crypt::OpenStatus st = receiver->open(f);
                if (st != crypt::OpenStatus::opened) {
                    ++c->refused[std::string(crypt::to_string(st))];
                    ++t.frames;
                    t.bytes += rec.wire_length;
                    ++t.verdicts[size_t(roce::Verdict::NotRoce)];
                    ++t.not_roce;
                    continue;
                }
                ++c->opened;
                flow::account_frame({f.data, f.len}, f.len, rec.timestamp_ns, options.verify_icrc,
                                    t, table, pkt);
                continue;
            }
        }
        if (rec.data.size() < rec.wire_length) {
            // Cut by the capture's snap length: headers may be intact but the ICRC is
            // gone, so the packet can be neither verified nor counted as malformed.
            ++t.frames;
            t.bytes += rec.wire_length;
            ++t.truncated_records;
            continue;
        }
        const flow::FrameOutcome outcome = flow::account_frame(
            rec.data, rec.wire_length, rec.timestamp_ns, options.verify_icrc, t, table, pkt);
        if (outcome.verdict == roce::Verdict::NotRoce && !options.psp_keys) [[unlikely]]
            if (PspSpiCounters* c = psp_of(rec.data)) {
                ++c->frames;
                c->bytes += rec.wire_length;
            }
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

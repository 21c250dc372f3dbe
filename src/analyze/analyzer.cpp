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
    // PSP: receive SAs derived on first sight of an SPI (a holder of both master keys can),
    // and a buffer to open frames in
    using SaMap = std::map<std::pair<uint32_t, uint8_t>, std::unique_ptr<crypt::RxSa>>;
    SaMap sas;
    std::vector<uint8_t> scratch;
    constexpr uint32_t kRoom = 256;
    auto psp_of = [&](std::span<const uint8_t> frame) -> PspSpiCounters* {
        const roce::Located loc = roce::locate(frame);
        if (!roce::is_psp(loc) || loc.l4_offset + 8 + 8 > frame.size()) return nullptr;
        const uint8_t* h = frame.data() + loc.l4_offset + 8;
        return &result.psp[{roce::load_be32(h + 4), uint8_t((h[3] >> 2) & 0x0f)}];
    };
    while (reader.next(rec)) {
        if (options.psp_keys && rec.data.size() == rec.wire_length) {
            if (PspSpiCounters* c = psp_of(rec.data)) {
                ++c->frames;
                c->bytes += rec.wire_length;
                const uint8_t* h = rec.data.data() + roce::locate(rec.data).l4_offset + 8;
                const std::pair<uint32_t, uint8_t> key{roce::load_be32(h + 4),
                                                       uint8_t((h[3] >> 2) & 0x0f)};
                scratch.resize(kRoom + rec.data.size() + kRoom);
                std::memcpy(scratch.data() + kRoom, rec.data.data(), rec.data.size());
                crypt::FrameBuffer f{scratch.data() + kRoom, uint32_t(rec.data.size()), kRoom,
                                     kRoom};
                struct Ctx {
                    SaMap& by_spi;
                    const crypt::MasterKeys& keys;
                    uint8_t version;
                } ctx{sas, *options.psp_keys, key.second};
                auto lookup = [](uint32_t spi, void* p) -> crypt::RxSa* {
                    auto* c = static_cast<Ctx*>(p);
                    if (c->version > 1) return nullptr;
                    auto& slot = c->by_spi[{spi, c->version}];
                    if (!slot)
                        slot = std::make_unique<crypt::RxSa>(c->keys, spi,
                                                             roce::psp::Version(c->version));
                    return slot.get();
                };
                const crypt::OpenStatus st = crypt::open(f, lookup, &ctx);
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

#include "weft/crypt/pcap_files.hpp"

#include <array>
#include <cstring>
#include <memory>
#include <vector>

#include "weft/capture/pcap_file.hpp"
#include "weft/roce/locate.hpp"

namespace weft::crypt {

namespace {

constexpr uint32_t kHeadroom = 256, kTailroom = 256;

// One buffer for every frame: the capture's largest record plus room on both sides.
struct Scratch {
    std::vector<uint8_t> bytes =
        std::vector<uint8_t>(kHeadroom + capture::PcapReader::kMaxCaptureLength + kTailroom);
    FrameBuffer load(std::span<const uint8_t> frame) {
        std::memcpy(bytes.data() + kHeadroom, frame.data(), frame.size());
        return {bytes.data() + kHeadroom, uint32_t(frame.size()), kHeadroom, kTailroom};
    }
};

}  // namespace

FileCounters seal_file(const std::string& in, const std::string& out, const MasterKeys& keys,
                       uint32_t spi, const SealOptions& options, uint64_t first_iv) {
    TxSa sa(keys, spi, options, first_iv);
    capture::PcapReader reader(in);
    if (reader.link_type() != 1)
        throw CryptError(in + ": " + reader.link_type_name() +
                         ": PSP seals Ethernet frames (convert a cooked capture with weftd or "
                         "editcap first)");
    capture::PcapWriter writer(out, capture::PcapReader::kMaxCaptureLength);
    FileCounters c;
    Scratch scratch;
    capture::Record rec;
    while (reader.next(rec)) {
        ++c.frames;
        if (rec.data.size() < rec.wire_length) {
            ++c.refused["snap_length_cut"];  // the ICV would cover bytes that are gone
            continue;
        }
        FrameBuffer f = scratch.load(rec.data);
        const SealStatus s = sa.seal(f);
        if (s != SealStatus::sealed) {
            ++c.refused[std::string(to_string(s))];
            continue;
        }
        writer.write({f.data, f.len}, rec.timestamp_ns);
        ++c.written;
    }
    if (reader.corrupt()) throw CryptError(in + ": corrupt capture: " + reader.corruption());
    writer.close();
    return c;
}

FileCounters open_file(const std::string& in, const std::string& out, const MasterKeys& keys) {
    capture::PcapReader reader(in);
    if (reader.link_type() != 1)
        throw CryptError(in + ": " + reader.link_type_name() + ": not Ethernet");
    capture::PcapWriter writer(out, capture::PcapReader::kMaxCaptureLength);
    // a receive SA per (SPI, version) met, derived on first sight
    struct Sas {
        const MasterKeys& keys;
        std::map<std::pair<uint32_t, uint8_t>, std::unique_ptr<RxSa>> by_spi;
        uint8_t version = 0;  // of the frame being opened (set before the lookup)
    } sas{keys, {}, 0};
    auto lookup = [](uint32_t spi, void* ctx) -> RxSa* {
        auto* s = static_cast<Sas*>(ctx);
        if (s->version > 1) return nullptr;  // GMAC versions: not Weft's
        auto& slot = s->by_spi[{spi, s->version}];
        if (!slot) slot = std::make_unique<RxSa>(s->keys, spi, roce::psp::Version(s->version));
        return slot.get();
    };
    FileCounters c;
    Scratch scratch;
    capture::Record rec;
    while (reader.next(rec)) {
        ++c.frames;
        FrameBuffer f = scratch.load(rec.data);
        // the version decides which SA: read it from the header before opening
        const roce::Located loc = roce::locate({f.data, f.len});
        if (roce::is_psp(loc) && loc.l4_offset + 8 + 4 <= f.len)
            sas.version = uint8_t((f.data[loc.l4_offset + 8 + 3] >> 2) & 0x0f);
        roce::psp::Header h;
        const OpenStatus s =
            rec.data.size() < rec.wire_length ? OpenStatus::malformed : open(f, lookup, &sas, &h);
        if (s != OpenStatus::opened) {
            ++c.refused[std::string(to_string(s))];
            continue;
        }
        ++c.by_spi[h.spi];
        writer.write({f.data, f.len}, rec.timestamp_ns);
        ++c.written;
    }
    if (reader.corrupt()) throw CryptError(in + ": corrupt capture: " + reader.corruption());
    writer.close();
    return c;
}

}  // namespace weft::crypt

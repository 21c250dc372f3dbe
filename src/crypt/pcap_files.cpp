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
    c.truncation = reader.truncation();
    writer.close();
    return c;
}

FileCounters open_file(const std::string& in, const std::string& out, const MasterKeys& keys) {
    capture::PcapReader reader(in);
    if (reader.link_type() != 1)
        throw CryptError(in + ": " + reader.link_type_name() + ": not Ethernet");
    capture::PcapWriter writer(out, capture::PcapReader::kMaxCaptureLength);
    DerivingReceiver receiver(keys);
    FileCounters c;
    Scratch scratch;
    capture::Record rec;
    while (reader.next(rec)) {
        ++c.frames;
        FrameBuffer f = scratch.load(rec.data);
        roce::psp::Header h;
        const OpenStatus s =
            rec.data.size() < rec.wire_length ? OpenStatus::malformed : receiver.open(f, &h);
        if (s != OpenStatus::opened) {
            ++c.refused[std::string(to_string(s))];
            continue;
        }
        ++c.by_spi[h.spi];
        writer.write({f.data, f.len}, rec.timestamp_ns);
        ++c.written;
    }
    if (reader.corrupt()) throw CryptError(in + ": corrupt capture: " + reader.corruption());
    c.truncation = reader.truncation();
    writer.close();
    return c;
}

}  // namespace weft::crypt

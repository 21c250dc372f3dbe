#include "weft/dataplane/pcap_replay.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <cstdlib>
#include <vector>

#include "weft/capture/pcap_file.hpp"
#include "weft/dataplane/instance.hpp"

namespace weft::dataplane {

namespace {

// Replaces the value of `key` in a vdev argument list ("rx_pcap=a.pcap,infinite_rx=0").
void set_arg(PortConfig& port, std::string_view key, const std::string& value) {
    std::vector<std::string> items;
    size_t start = 0;
    while (start <= port.args.size()) {
        size_t end = port.args.find(',', start);
        if (end == std::string::npos) end = port.args.size();
        std::string item = port.args.substr(start, end - start);
        if (item.size() > key.size() && item.compare(0, key.size(), key) == 0 &&
            item[key.size()] == '=')
            item = std::string(key) + "=" + value;
        if (!item.empty()) items.push_back(std::move(item));
        start = end + 1;
    }
    port.args = fmt::format("{}", fmt::join(items, ","));
}

}  // namespace

PcapReplays::PcapReplays(std::vector<PortConfig>& ports) {
    for (PortConfig& port : ports) {
        const std::string file = port.arg("rx_pcap");
        if (port.driver() != "net_pcap" || file.empty()) continue;
        files_.push_back(file);
        uint64_t records = 0, cut = 0;
        bool cooked = false;
        std::string corruption;
        try {
            capture::PcapReader reader(file);
            if (!reader.delivers_ethernet())
                throw DataplaneError(fmt::format(
                    "{}: {} is not a link type Weft reads (Ethernet, or Linux cooked as "
                    "tcpdump -i any writes)",
                    file, reader.link_type_name()));
            cooked = reader.link_type() != 1;
            capture::Record rec;
            while (reader.next(rec)) {
                ++records;
                cut += rec.data.size() < rec.wire_length;
            }
            corruption = reader.corruption();
            if (reader.truncated())
                truncations_.push_back(
                    fmt::format("{}: last record truncated ({}); the {} complete "
                                "records before it are replayed",
                                file, reader.truncation(), records));
        } catch (const capture::CaptureError& e) {
            throw DataplaneError(e.what());
        }
        if (cut)
            throw DataplaneError(fmt::format(
                "{}: {} of {} records are cut short by the capture's snap length; DPDK's "
                "net_pcap gives weftd only their captured bytes, so they would be counted as "
                "malformed: analyse this file with weftctl analyze, which counts them as "
                "truncated",
                file, cut, records));
        if (!corruption.empty())
            corruptions_.push_back(fmt::format("{}: corrupt capture: {}", file, corruption));
        records_ += records;
        if (!cooked && corruption.empty()) continue;
        // The copy: what the reader delivered, as Ethernet, in a directory of our own.
        if (copy_dir_.empty()) {
            const char* tmp = std::getenv("TMPDIR");
            std::string tmpl = fmt::format("{}/weftd-replay-XXXXXX", tmp && *tmp ? tmp : "/tmp");
            std::vector<char> name(tmpl.begin(), tmpl.end());
            name.push_back('\0');
            if (!::mkdtemp(name.data()))
                throw DataplaneError(
                    fmt::format("cannot make a directory for a replay copy of {}: {}: {}", file,
                                tmpl, std::strerror(errno)));
            copy_dir_ = name.data();
        }
        const std::string copy = fmt::format("{}/{}.pcap", copy_dir_, copies_.size());
        try {
            capture::PcapReader reader(file);
            capture::PcapWriter writer(copy, capture::PcapReader::kMaxCaptureLength);
            copies_.push_back(copy);
            capture::Record rec;
            while (reader.next(rec)) writer.write(rec.data, rec.timestamp_ns);
            writer.close();
        } catch (const capture::CaptureError& e) {
            throw DataplaneError(fmt::format("replay copy of {}: {}", file, e.what()));
        }
        set_arg(port, "rx_pcap", copy);
    }
}

PcapReplays::~PcapReplays() {
    for (const std::string& copy : copies_) ::unlink(copy.c_str());
    if (!copy_dir_.empty()) ::rmdir(copy_dir_.c_str());
}

}  // namespace weft::dataplane

// Capture files replayed through DPDK's net_pcap, read once by Weft's own reader first:
// the same reader and the same rules as `weftctl analyze`, so the two never disagree on
// a file.
//  - A capture Weft cannot read (a link type other than Ethernet or Linux cooked, frames
//    cut by the snap length: net_pcap hands weftd only their captured bytes, which would
//    be judged malformed) is refused before EAL starts, with analyze's words.
//  - A Linux cooked capture (tcpdump -i any) or one corrupt part-way is replayed from a
//    copy: the records before the corruption, as Ethernet, in a private directory
//    (mkdtemp, 0700) removed with this object. net_pcap would hand the cooked headers to
//    the parser, and read on past a corrupt record header into garbage.
//  - The records it will deliver are counted, so the end of input is known exactly
//    (net_pcap gives no end-of-file signal).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "weft/dataplane/config.hpp"

namespace weft::dataplane {

class PcapReplays {
  public:
    // Reads every net_pcap port's rx_pcap and points it at a copy where one is needed.
    // Throws DataplaneError.
    explicit PcapReplays(std::vector<PortConfig>& ports);
    ~PcapReplays();  // removes the copies and the directory it made, nothing else
    PcapReplays(const PcapReplays&) = delete;
    PcapReplays& operator=(const PcapReplays&) = delete;

    uint64_t records() const { return records_; }
    // The capture files as the operator named them (not the copies).
    const std::vector<std::string>& files() const { return files_; }
    // "FILE: corrupt capture: record N at byte offset X: ...": one per corrupt file.
    const std::vector<std::string>& corruptions() const { return corruptions_; }
    // "FILE: last record truncated (...)": one per file whose end cuts its last record
    // (reported, as analyze reports it; not an error).
    const std::vector<std::string>& truncations() const { return truncations_; }

  private:
    std::string copy_dir_;  // "" until a copy is needed
    std::vector<std::string> copies_;
    uint64_t records_ = 0;
    std::vector<std::string> files_;
    std::vector<std::string> corruptions_;
    std::vector<std::string> truncations_;
};

}  // namespace weft::dataplane

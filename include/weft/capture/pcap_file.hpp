// Capture files through libpcap: pcap and pcapng in, nanosecond pcap out. Errors are
// exceptions carrying a message an operator can act on (file, reason).
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <stdexcept>
#include <string>

struct pcap;
struct pcap_dumper;

namespace weft::capture {

class CaptureError : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

struct Record {
    std::span<const uint8_t> data;  // captured bytes (caplen)
    uint32_t wire_length = 0;       // bytes on the wire (may exceed data.size())
    uint64_t timestamp_ns = 0;
};

class PcapReader {
  public:
    explicit PcapReader(const std::string& path);  // throws CaptureError
    ~PcapReader();
    PcapReader(const PcapReader&) = delete;
    PcapReader& operator=(const PcapReader&) = delete;

    // The next record, or false at the end of the file. A last record cut short by the
    // end of the file ends the reading too and is reported by truncated().
    bool next(Record& out);
    bool truncated() const { return !truncation_.empty(); }
    const std::string& truncation() const { return truncation_; }
    // Link type (DLT_*); Weft parses Ethernet (DLT_EN10MB = 1).
    int link_type() const { return link_type_; }
    bool is_ethernet() const { return link_type_ == 1; }
    // For progress: bytes consumed so far and the file's size (0 when unknown).
    uint64_t position() const;
    uint64_t file_size() const { return file_size_; }

  private:
    static constexpr size_t kStreamBuffer = 1 << 20;
    std::unique_ptr<char[]> stream_buffer_;  // outlives handle_ (declared first)
    std::string path_;
    pcap* handle_ = nullptr;
    int link_type_ = 0;
    uint64_t file_size_ = 0;
    std::string truncation_;
};

class PcapWriter {
  public:
    // Ethernet, nanosecond timestamps. Throws CaptureError.
    explicit PcapWriter(const std::string& path, uint32_t snap_length = 65535);
    ~PcapWriter();
    PcapWriter(const PcapWriter&) = delete;
    PcapWriter& operator=(const PcapWriter&) = delete;

    void write(std::span<const uint8_t> frame, uint64_t timestamp_ns);
    void close();  // flushes; throws CaptureError if the data could not be written
    uint64_t records() const { return records_; }

  private:
    std::string path_;
    pcap* dead_ = nullptr;
    pcap_dumper* dumper_ = nullptr;
    uint64_t records_ = 0;
};

}  // namespace weft::capture

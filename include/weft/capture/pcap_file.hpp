// Capture files: classic pcap read in place from a memory mapping, pcapng and pipes
// through libpcap, nanosecond pcap written through libpcap. Errors are exceptions carrying
// a message an operator can act on (file, reason).
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <span>
#include <stdexcept>
#include <string>

struct pcap;
struct pcap_dumper;

namespace weft::io {
class OutputFile;
}

namespace weft::capture {

class CaptureError : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

struct Record {
    std::span<const uint8_t> data;  // captured bytes (caplen); valid until the next next()
    uint32_t wire_length = 0;       // bytes on the wire (may exceed data.size())
    uint64_t timestamp_ns = 0;
};

class PcapReader {
  public:
    enum class Backend {
        automatic,  // memory-mapped for a regular classic-pcap file, libpcap otherwise
        libpcap,    // always libpcap (tests compare the two readers on the same file)
    };
    // The largest capture length either reader accepts: libpcap's own limit for Ethernet
    // (MAXIMUM_SNAPLEN), far above any frame a NIC delivers.
    static constexpr uint32_t kMaxCaptureLength = 256 * 1024;

    // `path` "-" reads standard input (through libpcap: a pipe has no size, so progress
    // is in bytes). Throws CaptureError.
    explicit PcapReader(const std::string& path, Backend backend = Backend::automatic);
    ~PcapReader();
    PcapReader(const PcapReader&) = delete;
    PcapReader& operator=(const PcapReader&) = delete;

    // The next record, or false at the end of the file. A last record cut short by the
    // end of the file ends the reading too and is reported by truncated(); a record whose
    // header cannot be right (a capture length beyond the snap length) ends it and is
    // reported by corrupt(). Every record before either was delivered.
    bool next(Record& out) { return map_ ? next_mapped(out) : next_libpcap(out); }
    bool truncated() const { return !truncation_.empty(); }
    const std::string& truncation() const { return truncation_; }
    bool corrupt() const { return !corruption_.empty(); }
    const std::string& corruption() const { return corruption_; }
    // Link type (DLT_*) of the file. Weft parses Ethernet; Linux cooked captures (what
    // `tcpdump -i any` writes: SLL, DLT 113, and SLL2, DLT 276) are delivered as Ethernet
    // frames too: the cooked header is replaced by a 14-byte Ethernet header carrying its
    // protocol (the addresses are not the frame's: a cooked capture has no destination
    // MAC), and wire_length shrinks by the difference. Nothing Weft reads (IP, UDP, BTH,
    // ICRC) is in the link header.
    int link_type() const { return link_type_; }
    // True when next() delivers Ethernet frames (Ethernet, SLL or SLL2 files).
    bool delivers_ethernet() const { return cooked_ != Cooked::unsupported; }
    // "Ethernet", "Linux cooked (SLL)", "Linux cooked v2 (SLL2)" or "link type N".
    std::string link_type_name() const;
    // Records delivered so far (the number of the next is this + 1).
    uint64_t records() const { return records_; }
    // For progress: bytes consumed so far and the file's size (0 when unknown).
    uint64_t position() const;
    uint64_t file_size() const { return file_size_; }
    // True when the file is read from a memory mapping (regular classic-pcap file).
    bool memory_mapped() const { return map_ != nullptr; }

  private:
    static constexpr size_t kFileHeader = 24, kRecordHeader = 16;
    static constexpr size_t kPrefetchDistance = 4096;

    bool open_mapped(int fd);
    void open_libpcap(int fd);
    bool next_libpcap(Record& out);
    enum class Stop { header_cut, data_cut, caplen_too_large };
    bool stop_mapped(Stop why, uint32_t caplen);  // sets truncation_ or corruption_
    void publish(size_t record_start);            // tells the pager where the reader is

    uint32_t load32(const uint8_t* p) const {
        uint32_t v;
        std::memcpy(&v, p, 4);  // records are not aligned in the file
        return swapped_ ? __builtin_bswap32(v) : v;
    }

    // The whole record loop of the mapped reader; inline because it runs once per frame.
    bool next_mapped(Record& out) {
        const size_t left = map_size_ - offset_;
        if (left < kRecordHeader) [[unlikely]]
            return left == 0 ? false : stop_mapped(Stop::header_cut, 0);
        const uint8_t* h = map_ + offset_;
        const uint32_t caplen = load32(h + 8);
        // Never trust the length: one too large for the file's own snap length is
        // corruption, one that runs past the end of the file is a truncated last record.
        if (caplen > snap_limit_) [[unlikely]]
            return stop_mapped(Stop::caplen_too_large, caplen);
        if (caplen > left - kRecordHeader) [[unlikely]]
            return stop_mapped(Stop::data_cut, caplen);
        out.data = std::span<const uint8_t>(h + kRecordHeader, caplen);
        out.wire_length = load32(h + 12);
        out.timestamp_ns = uint64_t(load32(h)) * 1000000000ull + uint64_t(load32(h + 4)) * frac_ns_;
        offset_ += kRecordHeader + caplen;
        ++records_;
        // The frame is read right away (parse, ICRC over every byte): start loading the
        // bytes a few frames ahead, across the page boundaries hardware prefetch stops at.
        const size_t want = std::min(map_size_, offset_ + kPrefetchDistance);
        for (; prefetched_to_ < want; prefetched_to_ += 64)
            __builtin_prefetch(map_ + prefetched_to_);
        if (offset_ >= publish_mark_) [[unlikely]]
            publish(offset_ - kRecordHeader - caplen);
        return true;
    }

    enum class Cooked { none, sll, sll2, unsupported };
    bool to_ethernet(Record& out);  // SLL/SLL2 to Ethernet; false: a record too short

    std::string path_;
    int link_type_ = 0;
    Cooked cooked_ = Cooked::none;
    std::unique_ptr<uint8_t[]> cooked_frame_;  // SLL2 frames rebuilt as Ethernet
    uint64_t stream_offset_ = 0;               // libpcap, classic pcap: offset of the next record
    uint64_t file_size_ = 0;
    std::string truncation_;
    std::string corruption_;

    // memory-mapped classic pcap
    const uint8_t* map_ = nullptr;
    size_t map_size_ = 0;
    size_t offset_ = 0;         // of the next record header
    size_t prefetched_to_ = 0;  // cache lines before it were prefetched
    size_t publish_mark_ = 0;   // publish() when offset_ passes it
    struct Pager;
    std::unique_ptr<Pager> pager_;  // populates the mapping ahead of the reader
    uint64_t records_ = 0;          // delivered so far
    uint32_t snap_limit_ = 0;       // the largest valid caplen
    uint32_t frac_ns_ = 1000;       // nanoseconds per timestamp fraction unit
    bool swapped_ = false;          // file written on a host of the other byte order

    // libpcap (pcapng, pipes, anything not a regular classic-pcap file)
    static constexpr size_t kStreamBuffer = 1 << 20;
    std::unique_ptr<char[]> stream_buffer_;  // outlives handle_ (declared first)
    pcap* handle_ = nullptr;
};

class PcapWriter {
  public:
    // Ethernet, nanosecond timestamps; "-" is standard output. The file is created as
    // io::OutputFile creates outputs (no symlink followed, mode 0600) and appears at `path`
    // only when close() succeeds. Throws CaptureError.
    explicit PcapWriter(const std::string& path, uint32_t snap_length = 65535);
    ~PcapWriter();
    PcapWriter(const PcapWriter&) = delete;
    PcapWriter& operator=(const PcapWriter&) = delete;

    // Both throw CaptureError "PATH: OS error" when a write fails (disk full, I/O error);
    // the writer is closed then.
    void write(std::span<const uint8_t> frame, uint64_t timestamp_ns);
    void close();  // flushes, syncs and renames into place; without it nothing appears
    uint64_t records() const { return records_; }

  private:
    static constexpr size_t kStreamBuffer = 1 << 20;
    void check_stream();
    void abandon();  // closes without flushing checks

    std::string path_;
    std::unique_ptr<io::OutputFile> out_;    // the file (a temporary one until close())
    std::unique_ptr<char[]> stream_buffer_;  // outlives the stream (declared first)
    pcap* dead_ = nullptr;
    pcap_dumper* dumper_ = nullptr;
    FILE* file_ = nullptr;  // the dumper's stream
    uint64_t records_ = 0;
};

}  // namespace weft::capture

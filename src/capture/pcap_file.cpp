#include "weft/capture/pcap_file.hpp"

#include "weft/io/output.hpp"

#include <fcntl.h>
#include <pcap/pcap.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <limits>
#include <system_error>
#include <thread>

namespace weft::capture {

namespace {

// Classic pcap magics as read in this host's byte order: micro- or nanosecond timestamps,
// written on a host of the same or of the other byte order.
constexpr uint32_t kMagicMicro = 0xa1b2c3d4, kMagicNano = 0xa1b23c4d;
constexpr uint32_t kMagicMicroSwapped = 0xd4c3b2a1, kMagicNanoSwapped = 0x4d3cb2a1;
constexpr uint32_t kLinkTypeEthernet = 1;

// The pager thread keeps the page tables of the next kPagerAhead bytes populated (one
// madvise(MADV_POPULATE_READ) per kPagerChunk) and unmaps what the reader has passed
// (MADV_DONTNEED: the page cache keeps the data). Mapping a gigabyte of page cache costs
// tens of milliseconds of kernel time (a page-table entry and a folio walk per 4 KiB page:
// a third of the reader's time when it faulted them in itself), which the pager spends on
// the other core; dropping behind keeps the process's resident set to a window instead of
// the whole file (a 100 GB capture must not look like 100 GB of process memory) and leaves
// munmap nothing to do at the end. Measured side by side on the idle 2-core VM: 0.149 s
// for the 1 GB inference file against 0.197 s with the reader unmapping behind itself
// (0.068 s against 0.076 s for the 301 MB gradient file). When the other core is busy the
// pager cannot run ahead and the reader faults pages in itself, ~10 % slower than without
// a pager.
constexpr size_t kPagerChunk = 2u << 20;
constexpr size_t kPagerAhead = 16u << 20;

std::string record_at(uint64_t number, size_t offset) {
    return "record " + std::to_string(number) + " at byte offset " + std::to_string(offset);
}

}  // namespace

struct PcapReader::Pager {
    uint8_t* base;
    size_t size;
    // Start of the record the reader holds: everything before its page is done with.
    std::atomic<size_t> reader_at{0};
    std::atomic<bool> stop{false};
    std::thread thread;

    Pager(const uint8_t* b, size_t n) : base(const_cast<uint8_t*>(b)), size(n) {}

    // [0, populated) is populated already (the constructor did the first chunk).
    void run(size_t populated) {
        const size_t page = size_t(::sysconf(_SC_PAGESIZE));
        size_t dropped = 0;
        bool populate = true;
        for (;;) {
            const size_t at = reader_at.load(std::memory_order_acquire);
            if (stop.load(std::memory_order_acquire)) return;
            // Behind the reader (it outran us): it faults those pages in itself; populating
            // where it is would only contend with it for the same page-table locks.
            if (populated < at) populated = std::min(size, (at & ~(page - 1)) + kPagerChunk);
            if (populate && populated < size && populated < at + kPagerAhead) {
                size_t len = std::min(kPagerChunk, size - populated);
                // Kernels before 5.14 do not know it: page faults then do the same work.
                if (::madvise(base + populated, len, MADV_POPULATE_READ) != 0) populate = false;
                populated += len;
                continue;
            }
            // Whole 2 MiB steps (the mapping starts 2 MiB-aligned): a file in large
            // page-cache folios may be mapped by huge page-table entries, which a partial
            // release would split.
            const size_t done = at & ~(kPagerChunk - 1);
            if (done >= dropped + kPagerChunk) {
                ::madvise(base + dropped, done - dropped, MADV_DONTNEED);
                dropped = done;
                continue;
            }
            reader_at.wait(at, std::memory_order_acquire);  // until the reader moves on
        }
    }
};

PcapReader::PcapReader(const std::string& path, Backend backend)
    : path_(path == "-" ? "standard input" : path) {
    // Open first and ask the descriptor, so the file checked is the file read.
    int fd = path == "-" ? ::fcntl(STDIN_FILENO, F_DUPFD_CLOEXEC, 0)
                         : ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) throw CaptureError(path_ + ": " + std::strerror(errno));
    struct stat st;
    if (::fstat(fd, &st) != 0) {
        int e = errno;
        ::close(fd);
        throw CaptureError(path_ + ": " + std::strerror(e));
    }
    if (S_ISDIR(st.st_mode)) {
        ::close(fd);
        throw CaptureError(path_ + ": is a directory, not a capture file");
    }
    file_size_ = S_ISREG(st.st_mode) ? uint64_t(st.st_size) : 0;
    // Pipes, devices and pcapng go to libpcap; so does a classic file the mapped reader
    // does not handle (other versions, link types), so their behaviour stays libpcap's.
    if (backend == Backend::automatic && S_ISREG(st.st_mode) && open_mapped(fd)) {
        ::close(fd);  // the mapping keeps the file
        return;
    }
    open_libpcap(fd);
}

bool PcapReader::open_mapped(int fd) {
    if (file_size_ < kFileHeader || file_size_ > std::numeric_limits<size_t>::max()) return false;
    uint8_t header[kFileHeader];
    if (::pread(fd, header, sizeof header, 0) != ssize_t(sizeof header)) return false;
    uint32_t magic, linktype, snaplen;
    uint16_t major, minor;
    std::memcpy(&magic, header, 4);
    switch (magic) {
        case kMagicMicro:
            swapped_ = false, frac_ns_ = 1000;
            break;
        case kMagicNano:
            swapped_ = false, frac_ns_ = 1;
            break;
        case kMagicMicroSwapped:
            swapped_ = true, frac_ns_ = 1000;
            break;
        case kMagicNanoSwapped:
            swapped_ = true, frac_ns_ = 1;
            break;
        default:
            return false;  // pcapng, or not a capture: libpcap says which
    }
    std::memcpy(&major, header + 4, 2);
    std::memcpy(&minor, header + 6, 2);
    if (swapped_) major = __builtin_bswap16(major), minor = __builtin_bswap16(minor);
    snaplen = load32(header + 16);
    linktype = load32(header + 20);
    // Version 2.4 only: libpcap knows the quirks of older writers (2.3 swapped caplen and
    // len). Ethernet only: libpcap maps other LINKTYPE_ values to DLT_ numbers.
    if (major != 2 || minor != 4 || linktype != kLinkTypeEthernet) return false;
    // A file cut shorter by another process while mapped would raise SIGBUS on the pages
    // past its new end; captures being analysed are not rewritten in place (tcpdump -C/-G
    // rotates to new files), and a file still growing is only read up to its size now.
    void* m = ::mmap(nullptr, size_t(file_size_), PROT_READ, MAP_PRIVATE, fd, 0);
    if (m == MAP_FAILED) return false;  // a file system without mmap: libpcap reads it
    // Read-ahead in large steps and early eviction behind the reader (advice only).
    ::madvise(m, size_t(file_size_), MADV_SEQUENTIAL);
    map_ = static_cast<const uint8_t*>(m);
    map_size_ = size_t(file_size_);
    offset_ = kFileHeader;
    link_type_ = int(linktype);
    // libpcap's rule: a snap length of 0 or above its maximum means the maximum.
    snap_limit_ = (snaplen == 0 || snaplen > kMaxCaptureLength) ? kMaxCaptureLength : snaplen;
    // The first chunk here, so the reader does not start by contending with the pager.
    const size_t first = std::min(kPagerChunk, map_size_);
    ::madvise(m, first, MADV_POPULATE_READ);  // advice: failure only means page faults
    try {
        pager_ = std::make_unique<Pager>(map_, map_size_);
        pager_->thread = std::thread([p = pager_.get(), first] { p->run(first); });
    } catch (const std::system_error&) {
        pager_.reset();  // no thread to spare: the reader takes the page faults itself
    }
    publish_mark_ = kPagerChunk / 2;
    return true;
}

void PcapReader::publish(size_t record_start) {
    publish_mark_ = offset_ + kPagerChunk / 2;
    if (!pager_) return;
    pager_->reader_at.store(record_start, std::memory_order_release);
    pager_->reader_at.notify_one();
}

bool PcapReader::stop_mapped(Stop why, uint32_t caplen) {
    const size_t left = map_size_ - offset_;
    const std::string where = record_at(records_ + 1, offset_);
    if (why == Stop::header_cut) {
        truncation_ = "truncated dump file; " + where + ": tried to read " +
                      std::to_string(kRecordHeader) + " header bytes, only got " +
                      std::to_string(left);
    } else if (why == Stop::data_cut) {
        truncation_ = "truncated dump file; " + where + ": tried to read " +
                      std::to_string(caplen) + " captured bytes, only got " +
                      std::to_string(left - kRecordHeader);
    } else {
        corruption_ = where + ": capture length " + std::to_string(caplen) +
                      " is larger than the file's snap length " + std::to_string(snap_limit_) +
                      " (the file is corrupt from there)";
    }
    offset_ = map_size_;  // nothing after a bad record is read
    publish_mark_ = std::numeric_limits<size_t>::max();
    return false;
}

void PcapReader::open_libpcap(int fd) {
    char err[PCAP_ERRBUF_SIZE] = {};
    // Our own stream with a 1 MiB buffer (glibc honours the size only when given the
    // buffer): the default 4 KiB turns a gigabyte capture into 250 000 read() calls.
    FILE* f = ::fdopen(fd, "rb");
    if (!f) {
        int e = errno;
        ::close(fd);
        throw CaptureError(path_ + ": " + std::strerror(e));
    }
    stream_buffer_ = std::make_unique<char[]>(kStreamBuffer);
    std::setvbuf(f, stream_buffer_.get(), _IOFBF, kStreamBuffer);
    handle_ = pcap_fopen_offline_with_tstamp_precision(f, PCAP_TSTAMP_PRECISION_NANO, err);
    if (!handle_) {
        std::fclose(f);
        std::string why = err;
        if (why.find("unknown file format") != std::string::npos ||
            why.find("bad dump file") != std::string::npos)
            why = "not a pcap or pcapng capture (" + why + ")";
        if (why.empty() || why.find("truncated") != std::string::npos)
            why = "not a pcap or pcapng capture (file too short)";
        throw CaptureError(path_ + ": " + why);
    }
    link_type_ = pcap_datalink(handle_);
    switch (link_type_) {
        case kLinkTypeEthernet:
            cooked_ = Cooked::none;
            break;
        case DLT_LINUX_SLL:
            cooked_ = Cooked::sll;
            break;
        case DLT_LINUX_SLL2:
            cooked_ = Cooked::sll2;
            cooked_frame_ = std::make_unique<uint8_t[]>(kMaxCaptureLength);
            break;
        default:
            cooked_ = Cooked::unsupported;
    }
    // Record offsets for messages are known for classic pcap (a 24-byte header, then
    // records of 16 + caplen bytes); pcapng's blocks are libpcap's business.
    stream_offset_ = pcap_major_version(handle_) == 2 ? kFileHeader : 0;
}

std::string PcapReader::link_type_name() const {
    switch (link_type_) {
        case kLinkTypeEthernet:
            return "Ethernet";
        case DLT_LINUX_SLL:
            return "Linux cooked (SLL)";
        case DLT_LINUX_SLL2:
            return "Linux cooked v2 (SLL2)";
        default: {
            // libpcap's name for it (a file's LINKTYPE_ is mapped to a DLT_ on reading)
            const char* name = pcap_datalink_val_to_name(link_type_);
            return "link type " +
                   (name ? std::string(name) + " (DLT " + std::to_string(link_type_) + ")"
                         : std::to_string(link_type_));
        }
    }
}

bool PcapReader::to_ethernet(Record& out) {
    // SLL: packet type, ARPHRD, address length, 8 address bytes, protocol (16 bytes).
    // SLL2: protocol, reserved, ifindex, ARPHRD, packet type, address length, 8 address
    // bytes (20 bytes). Both carry the EtherType Ethernet carries at bytes 12-13.
    constexpr size_t kEthernet = 14, kSll = 16, kSll2 = 20;
    if (cooked_ == Cooked::sll) {
        if (out.data.size() < kSll) return false;
        // In place: the last 14 bytes of the SLL header end with its protocol, where an
        // Ethernet header has its EtherType; the 12 before stand for the addresses.
        out.data = out.data.subspan(kSll - kEthernet);
        out.wire_length -= std::min<uint32_t>(out.wire_length, kSll - kEthernet);
        return true;
    }
    if (out.data.size() < kSll2) return false;
    uint8_t* f = cooked_frame_.get();
    std::memset(f, 0, 6);                         // destination: unknown
    std::memcpy(f + 6, out.data.data() + 12, 6);  // source: the link address
    std::memcpy(f + 12, out.data.data(), 2);      // EtherType: the protocol
    const size_t payload = out.data.size() - kSll2;
    std::memcpy(f + kEthernet, out.data.data() + kSll2, payload);
    out.data = std::span<const uint8_t>(f, kEthernet + payload);
    out.wire_length -= std::min<uint32_t>(out.wire_length, kSll2 - kEthernet);
    return true;
}

PcapReader::~PcapReader() {
    if (pager_) {
        pager_->stop.store(true, std::memory_order_release);
        pager_->reader_at.store(std::numeric_limits<size_t>::max(), std::memory_order_release);
        pager_->reader_at.notify_one();
        pager_->thread.join();
    }
    if (map_) ::munmap(const_cast<uint8_t*>(map_), map_size_);
    if (handle_) pcap_close(handle_);
}

bool PcapReader::next_libpcap(Record& out) {
    struct pcap_pkthdr* header;
    const u_char* data;
    int rc = pcap_next_ex(handle_, &header, &data);
    if (rc == 1) {
        out.data = std::span<const uint8_t>(data, header->caplen);
        out.wire_length = header->len;
        out.timestamp_ns =
            uint64_t(header->ts.tv_sec) * 1000000000ull + uint64_t(header->ts.tv_usec);
        const uint64_t at = stream_offset_;
        if (stream_offset_) stream_offset_ += kRecordHeader + header->caplen;
        ++records_;
        if ((cooked_ == Cooked::sll || cooked_ == Cooked::sll2) && !to_ethernet(out)) {
            corruption_ = (at ? record_at(records_, at) : "record " + std::to_string(records_)) +
                          ": " + std::to_string(header->caplen) +
                          " bytes, shorter than its Linux cooked header (the file is corrupt "
                          "from there)";
            --records_;
            return false;
        }
        return true;
    }
    if (rc == PCAP_ERROR) {
        // libpcap says "truncated" when the file ends inside a record: a capture cut short
        // (tcpdump killed), reported and not an error. Anything else (a capture length
        // beyond the snap length, a bad pcapng block) is a header that cannot be right:
        // the file is corrupt there, and nothing after it can be trusted.
        const std::string why = pcap_geterr(handle_);
        const std::string where = stream_offset_ ? record_at(records_ + 1, stream_offset_)
                                                 : "record " + std::to_string(records_ + 1);
        if (why.find("truncated") != std::string::npos)
            truncation_ = why;
        else
            corruption_ = where + ": " + why + " (the file is corrupt from there)";
    }
    return false;  // PCAP_ERROR_BREAK: end of file
}

uint64_t PcapReader::position() const {
    if (map_) return offset_;
    FILE* f = pcap_file(handle_);
    if (!f) return 0;
    long p = std::ftell(f);
    return p > 0 ? uint64_t(p) : 0;
}
PcapWriter::PcapWriter(const std::string& path, uint32_t snap_length) : path_(path) {
    // The file is created as every Weft output is (io/output.hpp): never through a
    // symbolic link, mode 0600, into a temporary file renamed into place by close().
    try {
        out_ = std::make_unique<io::OutputFile>(path, io::OutputFile::Mode::replace);
    } catch (const io::OutputError& e) {
        throw CaptureError(e.what());
    }
    dead_ = pcap_open_dead_with_tstamp_precision(DLT_EN10MB, int(snap_length),
                                                 PCAP_TSTAMP_PRECISION_NANO);
    if (!dead_) throw CaptureError(path + ": cannot create a pcap handle");
    // Our own stream with a 1 MiB buffer: stdio's 4 KiB writes made a gigabyte capture
    // 250 000 write() calls, and left it in the page cache as 4 KiB folios, which a reader
    // must then map page by page; 1 MiB writes let the file system keep large folios.
    // The stream gets a descriptor of its own: libpcap closes it, the OutputFile keeps
    // the file for the rename.
    const int fd = ::fcntl(out_->fd(), F_DUPFD_CLOEXEC, 0);
    FILE* f = fd >= 0 ? ::fdopen(fd, "wb") : nullptr;
    if (!f) {
        int e = errno;
        if (fd >= 0) ::close(fd);
        pcap_close(dead_);
        dead_ = nullptr;
        throw CaptureError(out_->name() + ": " + std::strerror(e));
    }
    stream_buffer_ = std::make_unique<char[]>(kStreamBuffer);
    std::setvbuf(f, stream_buffer_.get(), _IOFBF, kStreamBuffer);
    dumper_ = pcap_dump_fopen(dead_, f);
    if (!dumper_) {
        std::string why = pcap_geterr(dead_);
        std::fclose(f);
        pcap_close(dead_);
        dead_ = nullptr;
        throw CaptureError(out_->name() + ": " + why);
    }
    file_ = f;
    check_stream();  // the file header
}

PcapWriter::~PcapWriter() {
    // Not closed: a run that failed part-way. Its temporary file goes with out_, so no
    // half-written capture appears at the path.
    abandon();
}

void PcapWriter::check_stream() {
    // A failed write() leaves the stream's error flag set and errno saying why.
    if (std::ferror(file_)) [[unlikely]] {
        const int e = errno;
        abandon();
        throw CaptureError(path_ + ": " + std::strerror(e));
    }
}

void PcapWriter::abandon() {
    if (!dumper_) return;
    pcap_dump_close(dumper_);  // closes file_
    pcap_close(dead_);
    dumper_ = nullptr;
    dead_ = nullptr;
    file_ = nullptr;
}

void PcapWriter::write(std::span<const uint8_t> frame, uint64_t timestamp_ns) {
    if (!dumper_) throw CaptureError(path_ + ": write after close");
    struct pcap_pkthdr h {};
    h.ts.tv_sec = time_t(timestamp_ns / 1000000000ull);
    h.ts.tv_usec = suseconds_t(timestamp_ns % 1000000000ull);  // nanoseconds: NANO precision
    h.caplen = h.len = uint32_t(frame.size());
    pcap_dump(reinterpret_cast<u_char*>(dumper_), &h, frame.data());
    check_stream();
    ++records_;
}

void PcapWriter::close() {
    if (!dumper_) return;
    // Flushed and checked here: pcap_dump_close() closes the stream without saying whether
    // its last write succeeded.
    errno = 0;
    if (std::fflush(file_) != 0 || std::ferror(file_)) {
        const int e = errno ? errno : EIO;
        abandon();
        throw CaptureError(path_ + ": " + std::strerror(e));
    }
    abandon();
    try {
        out_->commit();  // synced and renamed into place
    } catch (const io::OutputError& e) {
        throw CaptureError(e.what());
    }
}

}  // namespace weft::capture

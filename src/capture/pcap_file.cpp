#include "weft/capture/pcap_file.hpp"

#include <pcap/pcap.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>

namespace weft::capture {

PcapReader::PcapReader(const std::string& path) : path_(path) {
    struct stat st;
    if (::stat(path.c_str(), &st) != 0) throw CaptureError(path + ": " + std::strerror(errno));
    if (S_ISDIR(st.st_mode)) throw CaptureError(path + ": is a directory, not a capture file");
    file_size_ = uint64_t(st.st_size);
    char err[PCAP_ERRBUF_SIZE] = {};
    // Our own stream with a 1 MiB buffer (glibc honours the size only when given the
    // buffer): the default 4 KiB turns a gigabyte capture into 250 000 read() calls.
    FILE* f = std::fopen(path.c_str(), "rb");
    if (!f) throw CaptureError(path + ": " + std::strerror(errno));
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
        throw CaptureError(path + ": " + why);
    }
    link_type_ = pcap_datalink(handle_);
}

PcapReader::~PcapReader() {
    if (handle_) pcap_close(handle_);
}

bool PcapReader::next(Record& out) {
    struct pcap_pkthdr* header;
    const u_char* data;
    int rc = pcap_next_ex(handle_, &header, &data);
    if (rc == 1) {
        out.data = std::span<const uint8_t>(data, header->caplen);
        out.wire_length = header->len;
        out.timestamp_ns =
            uint64_t(header->ts.tv_sec) * 1000000000ull + uint64_t(header->ts.tv_usec);
        return true;
    }
    if (rc == PCAP_ERROR) truncation_ = pcap_geterr(handle_);
    return false;  // PCAP_ERROR_BREAK: end of file
}

uint64_t PcapReader::position() const {
    FILE* f = pcap_file(handle_);
    if (!f) return 0;
    long p = std::ftell(f);
    return p > 0 ? uint64_t(p) : 0;
}

PcapWriter::PcapWriter(const std::string& path, uint32_t snap_length) : path_(path) {
    dead_ = pcap_open_dead_with_tstamp_precision(DLT_EN10MB, int(snap_length),
                                                 PCAP_TSTAMP_PRECISION_NANO);
    if (!dead_) throw CaptureError(path + ": cannot create a pcap handle");
    dumper_ = pcap_dump_open(dead_, path.c_str());
    if (!dumper_) {
        std::string why = pcap_geterr(dead_);
        pcap_close(dead_);
        dead_ = nullptr;
        throw CaptureError(path + ": " + why);
    }
}

PcapWriter::~PcapWriter() {
    try {
        close();
    } catch (...) {
        // destructors do not throw; callers that care call close() themselves
    }
}

void PcapWriter::write(std::span<const uint8_t> frame, uint64_t timestamp_ns) {
    struct pcap_pkthdr h {};
    h.ts.tv_sec = time_t(timestamp_ns / 1000000000ull);
    h.ts.tv_usec = suseconds_t(timestamp_ns % 1000000000ull);  // nanoseconds: NANO precision
    h.caplen = h.len = uint32_t(frame.size());
    pcap_dump(reinterpret_cast<u_char*>(dumper_), &h, frame.data());
    ++records_;
}

void PcapWriter::close() {
    if (!dumper_) return;
    bool ok = pcap_dump_flush(dumper_) == 0;
    FILE* f = pcap_dump_file(dumper_);
    ok = ok && !std::ferror(f);
    pcap_dump_close(dumper_);
    pcap_close(dead_);
    dumper_ = nullptr;
    dead_ = nullptr;
    if (!ok) throw CaptureError(path_ + ": write failed (disk full?)");
}

}  // namespace weft::capture

// libFuzzer target: the capture reader (capture::PcapReader), what `weftctl analyze` and
// weftd's pcap replay read every file with: classic pcap from a memory mapping, pcapng and
// everything else through libpcap, Linux cooked (SLL, SLL2) rebuilt as Ethernet. The input
// is the file's bytes, read through both backends.
//
// Properties, each trapping when violated:
//   - nothing but CaptureError is thrown, whatever the bytes;
//   - every record's captured bytes are within the largest capture length, and a rebuilt
//     cooked frame carries its protocol where Ethernet has its EtherType;
//   - a file ends in at most one of truncation and corruption, and each is said in words;
//   - records() counts what was delivered.
#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "check.hpp"
#include "weft/capture/pcap_file.hpp"

namespace {

using namespace weft::capture;

// One memory file for the whole run, rewritten per input: a regular file, so the mapped
// reader is reached as it is for a capture on disk.
int memory_file() {
    static const int fd = ::memfd_create("fuzz-capture", MFD_CLOEXEC);
    return fd;
}

void read_all(const std::string& path, PcapReader::Backend backend) {
    try {
        PcapReader reader(path, backend);
        Record rec;
        uint64_t n = 0;
        while (reader.next(rec)) {
            ++n;
            CHECK(rec.data.size() <= PcapReader::kMaxCaptureLength);
            if (reader.delivers_ethernet() && reader.link_type() != 1) CHECK(rec.data.size() >= 14);
            // every byte readable (ASan checks the span)
            volatile uint8_t sum = 0;
            for (uint8_t b : rec.data) sum = uint8_t(sum + b);
        }
        CHECK(reader.records() == n);
        CHECK(!(reader.truncated() && reader.corrupt()));
        if (reader.corrupt()) CHECK(!reader.corruption().empty());
        CHECK(!reader.link_type_name().empty());
    } catch (const CaptureError& e) {
        CHECK(std::string(e.what()).size() > 0);
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const int fd = memory_file();
    CHECK(fd >= 0);
    CHECK(::ftruncate(fd, 0) == 0);
    CHECK(::pwrite(fd, data, size, 0) == ssize_t(size));
    const std::string path = "/proc/self/fd/" + std::to_string(fd);
    read_all(path, PcapReader::Backend::automatic);
    read_all(path, PcapReader::Backend::libpcap);
    return 0;
}

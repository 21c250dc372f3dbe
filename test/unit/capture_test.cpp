// Capture files: the memory-mapped classic-pcap reader against libpcap on the same files
// (the committed fixtures, weft-gen scenarios, both byte orders, micro- and nanosecond
// timestamps), records cut at every byte of the last one, corrupt lengths, the files it
// leaves to libpcap (pcapng-like, other versions and link types, pipes), and the errors.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <csignal>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <random>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "weft/analyze/analyzer.hpp"
#include "weft/capture/pcap_file.hpp"
#include "weft/gen/scenario.hpp"

namespace weft::capture {
namespace {

namespace fs = std::filesystem;
using Backend = PcapReader::Backend;
using Bytes = std::vector<uint8_t>;

constexpr uint32_t kMicro = 0xa1b2c3d4, kNano = 0xa1b23c4d;

// A scratch directory of this test's own, removed at the end.
class Scratch {
  public:
    Scratch() {
        char tmpl[] = "/tmp/weft-capture-test-XXXXXX";
        dir_ = ::mkdtemp(tmpl);
    }
    ~Scratch() {
        std::error_code ec;
        fs::remove_all(dir_, ec);
    }
    std::string path(const std::string& name) const { return (dir_ / name).string(); }
    const fs::path& dir() const { return dir_; }
    std::string write(const std::string& name, std::span<const uint8_t> bytes) const {
        std::string p = path(name);
        std::ofstream(p, std::ios::binary)
            .write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
        return p;
    }

  private:
    fs::path dir_;
};

// A classic pcap built field by field, in either byte order.
class PcapBytes {
  public:
    explicit PcapBytes(uint32_t magic = kNano, bool swapped = false, uint32_t snaplen = 65535,
                       uint32_t linktype = 1, uint16_t major = 2, uint16_t minor = 4)
        : swapped_(swapped) {
        u32(magic);
        u16(major);
        u16(minor);
        u32(0);  // thiszone
        u32(0);  // sigfigs
        u32(snaplen);
        u32(linktype);
    }
    // caplen defaults to the data's size; the data written is always `data`.
    PcapBytes& record(uint32_t sec, uint32_t frac, const Bytes& data, uint32_t wire_len,
                      std::optional<uint32_t> caplen = std::nullopt) {
        u32(sec);
        u32(frac);
        u32(caplen.value_or(uint32_t(data.size())));
        u32(wire_len);
        bytes.insert(bytes.end(), data.begin(), data.end());
        return *this;
    }
    Bytes bytes;

  private:
    // Little-endian, or big-endian for a file "written on a host of the other order".
    void u32(uint32_t v) {
        for (int i = 0; i < 4; ++i) bytes.push_back(uint8_t(v >> (swapped_ ? 24 - 8 * i : 8 * i)));
    }
    void u16(uint16_t v) {
        for (int i = 0; i < 2; ++i) bytes.push_back(uint8_t(v >> (swapped_ ? 8 - 8 * i : 8 * i)));
    }
    bool swapped_;
};

Bytes frame(size_t n, uint8_t seed) {
    Bytes b(n);
    for (size_t i = 0; i < n; ++i) b[i] = uint8_t(seed + i * 7);
    return b;
}

struct Read {
    std::vector<Bytes> data;
    std::vector<uint32_t> wire;
    std::vector<uint64_t> ts;
    bool mapped = false;
    std::string truncation, corruption;
    int link_type = 0;
    uint64_t position = 0, file_size = 0;
};

Read read_all(const std::string& path, Backend backend) {
    PcapReader r(path, backend);
    Read out;
    out.mapped = r.memory_mapped();
    out.link_type = r.link_type();
    Record rec;
    while (r.next(rec)) {
        out.data.emplace_back(rec.data.begin(), rec.data.end());
        out.wire.push_back(rec.wire_length);
        out.ts.push_back(rec.timestamp_ns);
    }
    out.truncation = r.truncation();
    out.corruption = r.corruption();
    out.position = r.position();
    out.file_size = r.file_size();
    return out;
}

// The two readers deliver the same records; the automatic one from the mapping.
void expect_readers_agree(const std::string& path, bool expect_mapped = true) {
    SCOPED_TRACE(path);
    const Read mapped = read_all(path, Backend::automatic);
    const Read lib = read_all(path, Backend::libpcap);
    EXPECT_EQ(mapped.mapped, expect_mapped);
    EXPECT_FALSE(lib.mapped);
    ASSERT_EQ(mapped.data.size(), lib.data.size());
    for (size_t i = 0; i < lib.data.size(); ++i) {
        ASSERT_EQ(mapped.data[i], lib.data[i]) << "record " << i + 1;
        ASSERT_EQ(mapped.wire[i], lib.wire[i]) << "record " << i + 1;
        ASSERT_EQ(mapped.ts[i], lib.ts[i]) << "record " << i + 1;
    }
    EXPECT_EQ(mapped.truncation.empty(), lib.truncation.empty())
        << mapped.truncation << " / " << lib.truncation;
    EXPECT_EQ(mapped.link_type, lib.link_type);
    EXPECT_EQ(mapped.file_size, lib.file_size);
}

class GenSink : public gen::FrameSink {
  public:
    explicit GenSink(PcapWriter& w) : w_(w) {}
    void put(std::span<const uint8_t> f, uint64_t ts) override { w_.write(f, ts); }

  private:
    PcapWriter& w_;
};

std::string generate(const Scratch& s, const std::string& scenario, gen::ScenarioOptions o,
                     uint64_t frames) {
    const std::string path = s.path(scenario + ".pcap");
    PcapWriter w(path);
    GenSink sink(w);
    gen::Wire wire(sink, 100, 1767225600000000000ull, frames);
    gen::run_scenario(scenario, o, wire);
    w.close();
    return path;
}

// ---- the same records as libpcap -----------------------------------------------------------

TEST(PcapReader, CommittedFixturesReadTheSameMappedAsThroughLibpcap) {
    const fs::path root = fs::path(WEFT_SOURCE_ROOT) / "test" / "fixtures";
    for (const char* name : {"softroce-small", "softroce-loss"})
        expect_readers_agree((root / name / "capture.pcap").string());
}

TEST(PcapReader, EveryScenarioReadsTheSameMappedAsThroughLibpcap) {
    Scratch s;
    gen::ScenarioOptions o;
    o.hosts = 4;
    o.message_size = 64 * 1024;
    o.iterations = 1;
    o.clients = 3;
    o.requests = 3;
    o.attack_count = 32;
    for (const auto& info : gen::scenarios())
        expect_readers_agree(generate(s, std::string(info.name), o, 3000));
}

// Larger than the pager's window several times over, so records are read while the pager
// populates ahead and unmaps behind: every byte must still be the file's.
TEST(PcapReader, ALargeFileReadsTheSameWhileThePagerMovesAlong) {
    Scratch s;
    gen::ScenarioOptions o;
    o.hosts = 4;
    o.iterations = 0;
    const std::string path = generate(s, "gradient", o, 40000);  // ~160 MB at 4 KB MTU
    ASSERT_GT(fs::file_size(path), 100u << 20);
    PcapReader mapped(path), lib(path, Backend::libpcap);
    ASSERT_TRUE(mapped.memory_mapped());
    Record a, b;
    uint64_t n = 0;
    while (lib.next(b)) {
        ASSERT_TRUE(mapped.next(a)) << "record " << n + 1;
        ASSERT_EQ(a.data.size(), b.data.size());
        ASSERT_EQ(0, std::memcmp(a.data.data(), b.data.data(), a.data.size())) << n + 1;
        ++n;
    }
    EXPECT_FALSE(mapped.next(a));
    EXPECT_EQ(n, 40000u);
    EXPECT_EQ(mapped.position(), mapped.file_size());
}

TEST(PcapReader, BothByteOrdersAndBothTimestampResolutions) {
    Scratch s;
    for (bool swapped : {false, true})
        for (uint32_t magic : {kMicro, kNano}) {
            PcapBytes p(magic, swapped);
            p.record(1767225600, 999999, frame(60, 1), 60)
                .record(1767225601, 5, frame(1500, 2), 1500)
                .record(7, 0, frame(64, 3), 9000, 64);  // snapped: caplen < wire length
            const std::string path = s.write("order.pcap", p.bytes);
            expect_readers_agree(path);
            const Read r = read_all(path, Backend::automatic);
            ASSERT_EQ(r.ts.size(), 3u);
            const uint64_t unit = magic == kMicro ? 1000 : 1;
            EXPECT_EQ(r.ts[0], 1767225600ull * 1000000000ull + 999999 * unit);
            EXPECT_EQ(r.ts[1], 1767225601ull * 1000000000ull + 5 * unit);
            EXPECT_EQ(r.wire[2], 9000u);
            EXPECT_EQ(r.data[2].size(), 64u);
            EXPECT_EQ(r.data[1], frame(1500, 2));
            EXPECT_EQ(r.position, r.file_size);
        }
}

// The seconds field is unsigned (the pcap format's definition); libpcap 1.10 reads it
// as signed, which turns times after 2038-01-19 into nonsense. The mapped reader does not.
TEST(PcapReader, SecondsAfter2038AreNotSignExtended) {
    Scratch s;
    PcapBytes p(kNano);
    p.record(0x90000000u, 5, frame(60, 1), 60);
    const Read r = read_all(s.write("y2038.pcap", p.bytes), Backend::automatic);
    ASSERT_EQ(r.ts.size(), 1u);
    EXPECT_EQ(r.ts[0], 0x90000000ull * 1000000000ull + 5);
}

// ---- never trusting a length ---------------------------------------------------------------

TEST(PcapReader, ALastRecordCutAnywhereIsATruncationAfterEveryCompleteRecord) {
    Scratch s;
    PcapBytes p(kNano);
    p.record(1, 1, frame(100, 1), 100).record(1, 2, frame(80, 2), 80);
    const size_t second = 24 + 16 + 100;  // where the second record's header starts
    for (size_t cut = second + 1; cut < p.bytes.size(); ++cut) {
        SCOPED_TRACE(cut);
        const std::string path = s.write("cut.pcap", std::span<const uint8_t>(p.bytes.data(), cut));
        const Read r = read_all(path, Backend::automatic);
        const Read lib = read_all(path, Backend::libpcap);
        ASSERT_TRUE(r.mapped);
        ASSERT_EQ(r.data.size(), 1u);
        EXPECT_EQ(r.data[0], frame(100, 1));
        EXPECT_NE(r.truncation.find("truncated"), std::string::npos) << r.truncation;
        EXPECT_NE(r.truncation.find("record 2 at byte offset 140"), std::string::npos)
            << r.truncation;
        EXPECT_TRUE(r.corruption.empty());
        EXPECT_EQ(lib.data.size(), 1u);
        EXPECT_FALSE(lib.truncation.empty());
    }
    // Cut exactly between records: a clean end.
    const Read whole = read_all(
        s.write("cut.pcap", std::span<const uint8_t>(p.bytes.data(), second)), Backend::automatic);
    EXPECT_EQ(whole.data.size(), 1u);
    EXPECT_TRUE(whole.truncation.empty());
}

TEST(PcapReader, ACaptureLengthAboveTheSnapLengthIsCorruptionWhereverTheFileEnds) {
    Scratch s;
    PcapBytes p(kNano, false, /*snaplen=*/128);
    p.record(1, 1, frame(100, 1), 100).record(1, 2, frame(128, 2), 128);
    // Third record: a header claiming 129 bytes, with plenty of file after it.
    p.record(1, 3, frame(4000, 3), 4000, 129);
    const Read r = read_all(s.write("snap.pcap", p.bytes), Backend::automatic);
    ASSERT_TRUE(r.mapped);
    ASSERT_EQ(r.data.size(), 2u);
    EXPECT_TRUE(r.truncation.empty());
    EXPECT_NE(r.corruption.find("record 3 at byte offset 284"), std::string::npos)
        << r.corruption;  // 24 + (16 + 100) + (16 + 128)
    EXPECT_NE(r.corruption.find("capture length 129"), std::string::npos) << r.corruption;
    EXPECT_NE(r.corruption.find("snap length 128"), std::string::npos) << r.corruption;
}

TEST(PcapReader, WithoutASnapLengthTheLimitIs256KiB) {
    Scratch s;
    for (uint32_t snaplen : {0u, 0xffffffffu}) {
        PcapBytes p(kNano, false, snaplen);
        p.record(1, 1, frame(262144, 1), 262144);  // the largest valid record
        p.record(1, 2, frame(64, 2), 64, 262145);
        const Read r = read_all(s.write("big.pcap", p.bytes), Backend::automatic);
        ASSERT_TRUE(r.mapped);
        EXPECT_EQ(r.data.size(), 1u);
        EXPECT_NE(r.corruption.find("record 2"), std::string::npos) << r.corruption;
    }
    // A huge length in a swapped file (the byte order read wrong would look like this).
    PcapBytes p(kNano, true);
    p.record(1, 1, frame(60, 1), 60, 0x3c000000);
    const Read r = read_all(s.write("huge.pcap", p.bytes), Backend::automatic);
    EXPECT_TRUE(r.data.empty());
    EXPECT_NE(r.corruption.find("record 1 at byte offset 24"), std::string::npos);
}

// Random bytes written over a capture's record headers: whatever the lengths say, no
// record reaches past the end of the file or above the snap length, and reading stops.
TEST(PcapReader, MangledHeadersNeverTakeTheReaderOutsideTheFile) {
    Scratch s;
    PcapBytes p(kNano, false, /*snaplen=*/2048);
    for (uint8_t i = 0; i < 40; ++i) p.record(1, i, frame(20 + 37 * i, i), 20 + 37 * i);
    std::mt19937 rng(9);
    for (int round = 0; round < 300; ++round) {
        Bytes b = p.bytes;
        for (int k = 0; k < 4; ++k) b[24 + rng() % (b.size() - 24)] = uint8_t(rng());
        // A new file each round: rewriting one in place makes ext4 flush it on close.
        const std::string path = s.write("mangled" + std::to_string(round) + ".pcap", b);
        PcapReader r(path);
        ASSERT_TRUE(r.memory_mapped());
        Record rec;
        uint64_t n = 0, end = 24;
        while (r.next(rec)) {
            ASSERT_LE(rec.data.size(), 2048u);
            end += 16 + rec.data.size();
            ASSERT_EQ(r.position(), end);
            ASSERT_LE(end, b.size());
            ASSERT_LT(++n, 1000u);
        }
        EXPECT_LE(r.position(), b.size());
        if (end < b.size()) {
            EXPECT_TRUE(r.truncated() || r.corrupt()) << round;
        }
    }
}

// What `weftctl analyze` makes of it: the frames before the corrupt record analysed, the
// record itself not counted as one (it is not a truncated record), the reason kept.
TEST(PcapReader, AnalyzeKeepsWhatCameBeforeACorruptRecord) {
    Scratch s;
    gen::ScenarioOptions o;
    o.hosts = 4;
    o.message_size = 64 * 1024;
    o.iterations = 1;
    const std::string path = generate(s, "gradient", o, 100);
    std::ifstream in(path, std::ios::binary);
    Bytes bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    size_t at = 24;
    for (int i = 0; i < 9; ++i) {  // to the 10th record's header
        uint32_t caplen;
        std::memcpy(&caplen, bytes.data() + at + 8, 4);
        at += 16 + caplen;
    }
    const uint32_t bad = 65536;  // weft-gen's snap length is 65535
    std::memcpy(bytes.data() + at + 8, &bad, 4);
    const std::string corrupt = s.write("corrupt.pcap", bytes);
    const analyze::Result r = analyze::analyze_file(corrupt, analyze::Options{});
    EXPECT_EQ(r.totals.frames, 9u);
    EXPECT_EQ(r.totals.truncated_records, 0u);
    EXPECT_TRUE(r.truncation.empty());
    EXPECT_NE(r.corruption.find("record 10 at byte offset " + std::to_string(at)),
              std::string::npos)
        << r.corruption;
}

// ---- what stays with libpcap ---------------------------------------------------------------

TEST(PcapReader, OtherVersionsAndLinkTypesAreLeftToLibpcap) {
    Scratch s;
    PcapBytes v23(kMicro, false, 65535, 1, 2, 3);
    v23.record(1, 1, frame(60, 1), 60);
    expect_readers_agree(s.write("v23.pcap", v23.bytes), /*expect_mapped=*/false);
    PcapBytes raw(kMicro, false, 65535, /*LINKTYPE_RAW*/ 101);
    raw.record(1, 1, frame(60, 1), 60);
    const Read r = read_all(s.write("raw.pcap", raw.bytes), Backend::automatic);
    EXPECT_FALSE(r.mapped);
    EXPECT_NE(r.link_type, 1);
    EXPECT_EQ(r.data.size(), 1u);
}

TEST(PcapReader, APipeIsReadThroughLibpcap) {
    Scratch s;
    PcapBytes p(kNano);
    for (uint8_t i = 0; i < 50; ++i) p.record(1, i, frame(200 + i, i), 200 + i);
    const std::string fifo = s.path("fifo");
    ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
    std::thread writer([&] {
        int fd = ::open(fifo.c_str(), O_WRONLY);
        ASSERT_GE(fd, 0);
        size_t off = 0;
        while (off < p.bytes.size()) {
            ssize_t n = ::write(fd, p.bytes.data() + off, p.bytes.size() - off);
            ASSERT_GT(n, 0);
            off += size_t(n);
        }
        ::close(fd);
    });
    const Read r = read_all(fifo, Backend::automatic);
    writer.join();
    EXPECT_FALSE(r.mapped);
    ASSERT_EQ(r.data.size(), 50u);
    EXPECT_EQ(r.data[49], frame(249, 49));
    EXPECT_EQ(r.file_size, 0u);
}

TEST(PcapReader, ErrorsNameTheFileAndTheReason) {
    Scratch s;
    auto error_of = [](const std::string& path) -> std::string {
        try {
            PcapReader r(path);
        } catch (const CaptureError& e) {
            return e.what();
        }
        return "";
    };
    const std::string missing = s.path("missing.pcap");
    EXPECT_EQ(error_of(missing), missing + ": No such file or directory");
    EXPECT_EQ(error_of(s.path("")), s.path("") + ": is a directory, not a capture file");
    const std::string empty = s.write("empty.pcap", Bytes{});
    EXPECT_EQ(error_of(empty), empty + ": not a pcap or pcapng capture (file too short)");
    const Bytes text(240, 'x');
    const std::string garbage = s.write("garbage.pcap", text);
    EXPECT_NE(error_of(garbage).find(garbage + ": not a pcap or pcapng capture"),
              std::string::npos);
    // A header alone is a capture with no records, read from the mapping.
    const Read r = read_all(s.write("header.pcap", PcapBytes(kNano).bytes), Backend::automatic);
    EXPECT_TRUE(r.mapped);
    EXPECT_TRUE(r.data.empty());
    EXPECT_TRUE(r.truncation.empty());
}

// ---- the writer ---------------------------------------------------------------------------

// A file-size limit makes writes past it fail with EFBIG (SIGXFSZ ignored): a full disk
// for one process. /dev/full cannot stand in any more: outputs are regular files only.
class FileSizeLimit {
  public:
    explicit FileSizeLimit(rlim_t bytes) {
        old_handler_ = std::signal(SIGXFSZ, SIG_IGN);
        ::getrlimit(RLIMIT_FSIZE, &old_);
        struct rlimit l = old_;
        l.rlim_cur = bytes;
        ::setrlimit(RLIMIT_FSIZE, &l);
    }
    ~FileSizeLimit() {
        ::setrlimit(RLIMIT_FSIZE, &old_);
        std::signal(SIGXFSZ, old_handler_);
    }

  private:
    struct rlimit old_ {};
    void (*old_handler_)(int) = nullptr;
};

TEST(PcapWriter, AFailedWriteNamesTheFileAndTheOsError) {
    Scratch s;
    const std::string path = s.path("limited.pcap");
    std::string error;
    {
        FileSizeLimit limit(100 * 1024);
        try {
            PcapWriter w(path);
            const Bytes f = frame(1500, 1);
            for (int i = 0; i < 2000; ++i) w.write(f, uint64_t(i));  // more than the buffer
            w.close();
        } catch (const CaptureError& e) {
            error = e.what();
        }
    }
    EXPECT_EQ(error, path + ": File too large");
    EXPECT_FALSE(fs::exists(path)) << "a failed capture must not appear at its path";
    // Caught at close() when everything fitted in the buffer.
    error.clear();
    {
        FileSizeLimit limit(10);
        try {
            PcapWriter w(path);
            w.write(frame(60, 1), 1);
            w.close();
        } catch (const CaptureError& e) {
            error = e.what();
        }
    }
    EXPECT_EQ(error, path + ": File too large");
    EXPECT_FALSE(fs::exists(path));
    EXPECT_EQ(std::distance(fs::directory_iterator(s.dir()), fs::directory_iterator()), 0)
        << "the temporary file was left behind";
}

TEST(PcapWriter, RefusesASymbolicLinkAtThePathAndCreatesPrivateFiles) {
    Scratch s;
    const std::string target = s.path("target"), link = s.path("planted.pcap");
    { std::ofstream(target) << "precious"; }
    fs::create_symlink(target, link);
    try {
        PcapWriter w(link);
        ADD_FAILURE() << "wrote through a symbolic link";
    } catch (const CaptureError& e) {
        EXPECT_NE(std::string(e.what()).find("symbolic link"), std::string::npos) << e.what();
    }
    std::string kept;
    std::getline(std::ifstream(target), kept);
    EXPECT_EQ(kept, "precious");
    const std::string path = s.path("new.pcap");
    PcapWriter w(path);
    EXPECT_FALSE(fs::exists(path)) << "the file appears only when complete";
    w.write(frame(60, 1), 1);
    w.close();
    EXPECT_EQ(fs::status(path).permissions() & fs::perms::all,
              fs::perms::owner_read | fs::perms::owner_write);
}

TEST(PcapWriter, AWriterNeverClosedLeavesNothing) {
    Scratch s;
    const std::string path = s.path("abandoned.pcap");
    {
        PcapWriter w(path);
        w.write(frame(60, 1), 1);
    }
    EXPECT_FALSE(fs::exists(path));
    EXPECT_EQ(std::distance(fs::directory_iterator(s.dir()), fs::directory_iterator()), 0);
}

TEST(PcapWriter, WritesWhatTheReaderReads) {
    Scratch s;
    const std::string path = s.path("w.pcap");
    {
        PcapWriter w(path, 9000);
        for (uint8_t i = 0; i < 100; ++i) w.write(frame(60 + 80 * i, i), 1000000000ull * i + i);
        EXPECT_EQ(w.records(), 100u);
        w.close();
        EXPECT_THROW(w.write(frame(60, 0), 0), CaptureError);
    }
    expect_readers_agree(path);
    const Read r = read_all(path, Backend::automatic);
    ASSERT_EQ(r.data.size(), 100u);
    EXPECT_EQ(r.data[99], frame(60 + 80 * 99, 99));
    EXPECT_EQ(r.ts[99], 99000000099ull);
}

}  // namespace
}  // namespace weft::capture

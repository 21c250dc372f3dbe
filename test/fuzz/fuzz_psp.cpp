// libFuzzer target: PSP sealing and opening (crypt::TxSa::seal, crypt::open), what weftd's
// crypt stages and `weftctl psp` run on every frame. The input's first four bytes choose
// the SA (mode, version, crypt offset, cookie) and a bit to flip; the rest is a frame.
//
// Properties, each trapping when violated:
//   - the input opened as it is (any bytes from the fabric) is never "opened": nobody
//     can forge the ICV, and nothing is read or written outside the frame (ASan);
//   - a frame that seals opens again to itself, cut at the end of its IP packet (in
//     transport mode with its IPv4 header checksum recomputed);
//   - the sealed frame with one bit flipped anywhere from its PSP header on never opens;
//   - the same sealed frame opened twice is refused the second time (replay).
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "../common/psp_spec_keys.hpp"
#include "check.hpp"
#include "weft/crypt/psp.hpp"
#include "weft/roce/bytes.hpp"
#include "weft/roce/headers.hpp"
#include "weft/roce/locate.hpp"

namespace {

using namespace weft;
namespace psp = roce::psp;

const crypt::MasterKeys& keys() {
    return weft::test::spec_master_keys();
}

constexpr uint32_t kSpi128 = 0x12345678, kSpi256 = 0x9A345678;

struct Receiver {
    crypt::RxSa v0{keys(), kSpi128, psp::Version::aes_gcm_128};
    crypt::RxSa v1{keys(), kSpi256, psp::Version::aes_gcm_256};
    static crypt::RxSa* find(uint32_t spi, uint8_t, void* self) {
        auto* r = static_cast<Receiver*>(self);
        return spi == kSpi128 ? &r->v0 : spi == kSpi256 ? &r->v1 : nullptr;
    }
    crypt::OpenStatus open(crypt::FrameBuffer& f) { return crypt::open(f, &find, this); }
};

constexpr uint32_t kHeadroom = 160, kTailroom = 64;

struct Buffer {
    std::vector<uint8_t> bytes;
    crypt::FrameBuffer frame;
    Buffer(const uint8_t* data, size_t len) : bytes(kHeadroom + len + kTailroom) {
        if (len) std::memcpy(bytes.data() + kHeadroom, data, len);
        frame = {bytes.data() + kHeadroom, uint32_t(len), kHeadroom, kTailroom};
    }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size < 4 || size > 9000) return 0;
    const uint8_t choose = data[0], offset = data[1] & 0x3f;
    const uint16_t flip = uint16_t(data[2] | data[3] << 8);
    const uint8_t* frame = data + 4;
    const size_t len = size - 4;

    {  // whatever arrives from the fabric
        Buffer b(frame, len);
        Receiver r;
        CHECK(r.open(b.frame) != crypt::OpenStatus::opened);
    }

    crypt::SealOptions o;
    o.mode = (choose & 1) ? psp::Mode::tunnel : psp::Mode::transport;
    o.version = (choose & 2) ? psp::Version::aes_gcm_256 : psp::Version::aes_gcm_128;
    o.cookie = (choose & 4) != 0;
    o.source_port = (choose & 8) ? crypt::SourcePort::xor_ports : crypt::SourcePort::entropy;
    o.crypt_offset = offset;
    crypt::TxSa tx(keys(), (choose & 2) ? kSpi256 : kSpi128, o);
    Buffer sealed(frame, len);
    if (tx.seal(sealed.frame) != crypt::SealStatus::sealed) return 0;
    const std::vector<uint8_t> wire(sealed.frame.data, sealed.frame.data + sealed.frame.len);

    // where the original IP packet ends: what opening gives back
    const roce::Located loc = roce::locate({frame, len});
    CHECK(loc.ip_version != roce::IpVersion::None);
    const uint8_t* ip = frame + loc.l3_offset;
    const size_t ip_end =
        loc.l3_offset + (loc.ip_version == roce::IpVersion::V6 ? 40 + roce::load_be16(ip + 4)
                                                               : roce::load_be16(ip + 2));
    CHECK(ip_end <= len);

    Receiver r;
    Buffer opened(wire.data(), wire.size());
    CHECK(r.open(opened.frame) == crypt::OpenStatus::opened);
    CHECK(opened.frame.len == ip_end);
    // transport mode rewrites the IPv4 header (length, then back) and so recomputes its
    // checksum: a frame that came with a wrong one gets it right
    std::vector<uint8_t> want(frame, frame + ip_end);
    if (o.mode == psp::Mode::transport && loc.ip_version == roce::IpVersion::V4) {
        uint8_t* h = want.data() + loc.l3_offset;
        roce::store_be16(h + 10, 0);
        roce::store_be16(h + 10, roce::ipv4_header_checksum(h, size_t(h[0] & 0x0f) * 4));
    }
    CHECK(std::memcmp(opened.frame.data, want.data(), ip_end) == 0);
    Buffer again(wire.data(), wire.size());
    CHECK(r.open(again.frame) == crypt::OpenStatus::replayed);

    // one flipped bit from the PSP header on
    const roce::Located sealed_loc = roce::locate({wire.data(), wire.size()});
    const size_t psp_start = sealed_loc.l4_offset + psp::kUdpBytes;
    if (psp_start < wire.size()) {
        std::vector<uint8_t> bad = wire;
        const size_t bit = psp_start * 8 + flip % ((wire.size() - psp_start) * 8);
        bad[bit / 8] ^= uint8_t(1u << (bit % 8));
        Receiver fresh;
        Buffer b(bad.data(), bad.size());
        CHECK(fresh.open(b.frame) != crypt::OpenStatus::opened);
    }
    return 0;
}

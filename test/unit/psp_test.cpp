// PSP: the spec's key-derivation vectors; the header format; every mode x version x crypt
// offset x cookie x address family round-trips; an independent AES-GCM (OpenSSL EVP)
// opens what Weft seals and Weft opens what it seals; any flipped bit in the
// authenticated part is refused (with an empty encrypted region too); replays and IVs
// behind the window are refused; the master-key file rules.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "../common/psp_spec_keys.hpp"
#include "test_packets.hpp"
#include "weft/crypt/keys.hpp"
#include "weft/crypt/psp.hpp"
#include "weft/roce/locate.hpp"
#include "weft/roce/opcode.hpp"
#include "weft/roce/psp.hpp"

namespace weft::crypt {
namespace {

namespace psp = roce::psp;
using test::Bytes;

// The spec's example master keys (test/common/psp_spec_keys.hpp).
const std::string kKeys = weft::test::kSpecMasterKeys;

std::string hex(std::span<const uint8_t> b) {
    std::string s;
    for (uint8_t x : b) s += fmt::format("{:02x}", x);
    return s;
}

TEST(PspKeys, TheSpecsDerivationVectors) {
    const MasterKeys keys = parse_master_keys(kKeys, "spec");
    EXPECT_EQ(hex(derive_key(keys, 0x12345678, psp::Version::aes_gcm_128).bytes()),
              "96c22dc799198090b74b70ae468e4e30");
    EXPECT_EQ(hex(derive_key(keys, 0x9A345678, psp::Version::aes_gcm_128).bytes()),
              "3946da2554eae46ad1ef77a64372edc4");
    EXPECT_EQ(hex(derive_key(keys, 0x12345678, psp::Version::aes_gcm_256).bytes()),
              "2b7d72074e42ca334487f2990e3f8c4037e436f38283449b76463e9b7fb2e3de");
}

TEST(PspKeys, AKeyFileIsRefusedUnlessPrivateAndWellFormed) {
    char tmpl[] = "/tmp/weft-psp-keys-XXXXXX";
    const std::string dir = ::mkdtemp(tmpl);
    const std::string path = dir + "/keys";
    std::ofstream(path) << "# test keys\n" << kKeys;
    ::chmod(path.c_str(), 0644);
    try {
        load_master_keys(path);
        ADD_FAILURE() << "a world-readable key file was accepted";
    } catch (const CryptError& e) {
        EXPECT_NE(std::string(e.what()).find("mode 0644"), std::string::npos) << e.what();
        EXPECT_EQ(std::string(e.what()).find("34448a"), std::string::npos)
            << "key bytes in an error";
    }
    ::chmod(path.c_str(), 0600);
    EXPECT_NO_THROW(load_master_keys(path));
    std::filesystem::create_symlink(path, dir + "/link");
    EXPECT_THROW(load_master_keys(dir + "/link"), CryptError);
    for (const char* bad : {"zz448a064292601b11a0978f56a2d34cf3fc35ede1a6bc04f8db3e5243a2b0ca\n",
                            "34448a\n563952\n", ""}) {
        try {
            parse_master_keys(bad, "k");
            ADD_FAILURE() << "accepted: " << bad;
        } catch (const CryptError& e) {
            EXPECT_EQ(std::string(e.what()).find("34448a0642"), std::string::npos) << e.what();
        }
    }
    std::filesystem::remove_all(dir);
}

TEST(PspHeader, WritesAndReadsEveryField) {
    psp::Header h;
    h.next_header = 17;
    h.crypt_offset = 63;
    h.version = 1;
    h.has_cookie = true;
    h.cookie = 0x0102030405060708ull;
    h.spi = 0x9A345678;
    h.iv = 0xfedcba9876543210ull;
    uint8_t b[24];
    psp::write_header(b, h);
    EXPECT_EQ(b[1], 2);
    EXPECT_EQ(b[3], (1 << 2) | 0x02 | 0x01);  // version 1, V, the always-one bit
    psp::Header r;
    ASSERT_EQ(psp::read_header(b, r), psp::HeaderProblem::none);
    EXPECT_EQ(r.crypt_offset, 63);
    EXPECT_EQ(r.spi, h.spi);
    EXPECT_EQ(r.iv, h.iv);
    EXPECT_EQ(r.cookie, h.cookie);
    EXPECT_EQ(psp::read_header({b, 20}, r), psp::HeaderProblem::truncated);
    b[3] &= 0xfe;
    EXPECT_EQ(psp::read_header(b, r), psp::HeaderProblem::fixed_bit_clear);
    b[3] |= 1;
    b[1] = 1;
    EXPECT_EQ(psp::read_header(b, r), psp::HeaderProblem::bad_ext_length);
    b[1] = 2;
    roce::store_be32(b + 4, 0x80000000u);
    EXPECT_EQ(psp::read_header(b, r), psp::HeaderProblem::zero_spi);
}

// ---- sealing and opening --------------------------------------------------------------------

constexpr uint32_t kHeadroom = 128, kTailroom = 64;

// A frame in a buffer with room on both sides.
struct Buffer {
    std::vector<uint8_t> bytes;
    FrameBuffer frame;
    explicit Buffer(const Bytes& f) : bytes(kHeadroom + f.size() + kTailroom) {
        std::memcpy(bytes.data() + kHeadroom, f.data(), f.size());
        frame = {bytes.data() + kHeadroom, uint32_t(f.size()), kHeadroom, kTailroom};
    }
    Bytes contents() const { return Bytes(frame.data, frame.data + frame.len); }
};

Bytes roce_frame(test::Family family, uint32_t payload, uint8_t vlans = 0) {
    return test::build(test::spec_for(roce::opcode::kRcWriteOnly, payload, family, vlans));
}

struct Receiver {
    std::map<uint32_t, RxSa*> sas;
    static RxSa* find(uint32_t spi, uint8_t, void* self) {
        auto& m = static_cast<Receiver*>(self)->sas;
        auto it = m.find(spi);
        return it == m.end() ? nullptr : it->second;
    }
    OpenStatus open(FrameBuffer& f, psp::Header* h = nullptr) {
        return crypt::open(f, &find, this, h);
    }
};

const MasterKeys& keys() {
    static const MasterKeys k = parse_master_keys(kKeys, "spec");
    return k;
}

struct Case {
    psp::Mode mode;
    psp::Version version;
    bool cookie;
    test::Family family;
    uint8_t offset;
};

std::string name(const Case& c) {
    return fmt::format("{}/{}/{}/{}/offset {}",
                       c.mode == psp::Mode::tunnel ? "tunnel" : "transport",
                       psp::to_string(c.version), c.cookie ? "vc" : "no-vc",
                       c.family == test::Family::V6 ? "v6" : "v4", c.offset);
}

std::vector<Case> every_case() {
    std::vector<Case> out;
    for (auto mode : {psp::Mode::transport, psp::Mode::tunnel})
        for (auto version : {psp::Version::aes_gcm_128, psp::Version::aes_gcm_256})
            for (bool cookie : {false, true})
                for (auto family : {test::Family::V4, test::Family::V6})
                    for (uint8_t offset : {0, 1, 2, 5, 7, 10, 15, 17, 63})
                        out.push_back({mode, version, cookie, family, offset});
    return out;
}

TEST(PspSeal, EveryModeVersionOffsetCookieAndFamilyRoundTrips) {
    for (const Case& c : every_case()) {
        SCOPED_TRACE(name(c));
        for (uint32_t payload : {0u, 64u, 1024u}) {
            const Bytes original = roce_frame(c.family, payload);
            Buffer b(original);
            SealOptions o{c.version,          c.mode, c.offset, c.cookie, 0x1122334455667788ull,
                          SourcePort::entropy};
            TxSa tx(keys(), 0x12345678, o);
            const SealStatus s = tx.seal(b.frame);
            const size_t protected_bytes =
                (c.mode == psp::Mode::tunnel
                     ? original.size() - 14
                     : original.size() - 14 - (c.family == test::Family::V6 ? 40 : 20)) +
                (c.cookie ? 8 : 0);
            if (size_t(c.offset) * 4 > protected_bytes) {
                EXPECT_EQ(s, SealStatus::crypt_offset_too_large);
                continue;
            }
            ASSERT_EQ(s, SealStatus::sealed);
            EXPECT_EQ(
                b.frame.len,
                original.size() + psp::overhead(c.mode, c.family == test::Family::V6, c.cookie));
            const roce::Located loc = roce::locate({b.frame.data, b.frame.len});
            EXPECT_TRUE(roce::is_psp(loc));
            if (c.family != test::Family::V6) {
                // the outer IPv4 header's checksum (updated incrementally in transport
                // mode) sums to all ones over the header, recomputed here from scratch
                uint32_t sum = 0;
                for (size_t i = 0; i < 20; i += 2)
                    sum += uint32_t(b.frame.data[14 + i]) << 8 | b.frame.data[14 + i + 1];
                while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
                EXPECT_EQ(sum, 0xffffu);
            }
            RxSa rx(keys(), 0x12345678, c.version);
            Receiver r;
            r.sas[0x12345678] = &rx;
            psp::Header h;
            ASSERT_EQ(r.open(b.frame, &h), OpenStatus::opened);
            EXPECT_EQ(h.iv, 1u);
            EXPECT_EQ(b.contents(), original);
        }
    }
}

TEST(PspSeal, TheDefaultOffsetLeavesInnerUdpAndBthReadable) {
    for (auto family : {test::Family::V4, test::Family::V6})
        for (auto mode : {psp::Mode::transport, psp::Mode::tunnel}) {
            const Bytes original = roce_frame(family, 256);
            Buffer b(original);
            const bool v6 = family == test::Family::V6;
            SealOptions o;
            o.mode = mode;
            o.crypt_offset = clear_udp_bth_offset(mode, v6, false);
            TxSa tx(keys(), 0x12345678, o);
            ASSERT_EQ(tx.seal(b.frame), SealStatus::sealed);
            const size_t l3 = 14, ip = v6 ? 40 : 20;
            const size_t inner_udp_in_original = l3 + ip;
            const size_t inner_udp_sealed =
                l3 + (mode == psp::Mode::tunnel ? ip + 8 + 16 + ip : ip + 8 + 16);
            // inner UDP and BTH (20 bytes) are where they were, in clear
            EXPECT_EQ(0, std::memcmp(b.frame.data + inner_udp_sealed,
                                     original.data() + inner_udp_in_original, 20));
            // and the payload after them is not
            EXPECT_NE(0, std::memcmp(b.frame.data + inner_udp_sealed + 20,
                                     original.data() + inner_udp_in_original + 20, 32));
        }
}

// ---- an independent AES-GCM: OpenSSL EVP -----------------------------------------------------

bool evp_gcm(bool encrypt, std::span<const uint8_t> key, const uint8_t* nonce,
             std::span<const uint8_t> aad, uint8_t* data, size_t len, uint8_t* tag) {
    EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
    const EVP_CIPHER* cipher = key.size() == 32 ? EVP_aes_256_gcm() : EVP_aes_128_gcm();
    int n = 0;
    bool ok = EVP_CipherInit_ex(ctx, cipher, nullptr, key.data(), nonce, encrypt ? 1 : 0) == 1 &&
              EVP_CipherUpdate(ctx, nullptr, &n, aad.data(), int(aad.size())) == 1 &&
              (len == 0 || EVP_CipherUpdate(ctx, data, &n, data, int(len)) == 1);
    if (ok && !encrypt) ok = EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, 16, tag) == 1;
    ok = ok && EVP_CipherFinal_ex(ctx, data + len, &n) == 1;
    if (ok && encrypt) ok = EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, 16, tag) == 1;
    EVP_CIPHER_CTX_free(ctx);
    return ok;
}

// Where the PSP header of a sealed transport frame is, its encrypted region and ICV.
struct Parts {
    uint8_t* header;
    size_t aad_len;
    uint8_t* enc;
    size_t enc_len;
    uint8_t* icv;
};
Parts parts(FrameBuffer& f) {
    const roce::Located loc = roce::locate({f.data, f.len});
    uint8_t* h = f.data + loc.l4_offset + 8;
    psp::Header hdr;
    EXPECT_EQ(psp::read_header({h, 24}, hdr), psp::HeaderProblem::none);
    const size_t co = hdr.crypt_offset_bytes();
    uint8_t* end = f.data + f.len;
    return {h, 16 + co, h + 16 + co, size_t(end - 16 - (h + 16 + co)), end - 16};
}

TEST(PspSeal, OpenSslOpensWhatWeftSealsAndWeftOpensWhatOpenSslSeals) {
    for (auto version : {psp::Version::aes_gcm_128, psp::Version::aes_gcm_256})
        for (uint8_t offset : {0, 5, 7})
            for (bool cookie : {false, true}) {
                SCOPED_TRACE(
                    fmt::format("{} offset {} cookie {}", psp::to_string(version), offset, cookie));
                const Bytes original = roce_frame(test::Family::V4, 512);
                const SecretBuffer key = derive_key(keys(), 0x9A345678, version);
                SealOptions o{version, psp::Mode::transport, offset, cookie,
                              7,       SourcePort::xor_ports};
                TxSa tx(keys(), 0x9A345678, o, 41);
                // Weft seals, OpenSSL opens
                Buffer b(original);
                ASSERT_EQ(tx.seal(b.frame), SealStatus::sealed);
                Parts p = parts(b.frame);
                std::vector<uint8_t> plain(p.enc, p.enc + p.enc_len + 16);
                ASSERT_TRUE(evp_gcm(false, key.bytes(), p.header + 4, {p.header, p.aad_len},
                                    plain.data(), p.enc_len, p.icv));
                // the plaintext is the original's segment from where the offset points
                const size_t l4 = 14 + 20, co = size_t(offset) * 4;
                const size_t from = cookie ? (co >= 8 ? l4 + co - 8 : l4) : l4 + co;
                EXPECT_EQ(0, std::memcmp(plain.data() + (cookie && co < 8 ? 8 - co : 0),
                                         original.data() + from, original.size() - from));
                // OpenSSL re-seals the same bytes under the next IV; Weft opens it
                Buffer again(original);
                ASSERT_EQ(tx.seal(again.frame), SealStatus::sealed);
                Parts q = parts(again.frame);
                std::memcpy(q.enc, plain.data(), q.enc_len);  // back to plaintext
                ASSERT_TRUE(evp_gcm(true, key.bytes(), q.header + 4, {q.header, q.aad_len}, q.enc,
                                    q.enc_len, q.icv));
                RxSa rx(keys(), 0x9A345678, version);
                Receiver r;
                r.sas[0x9A345678] = &rx;
                ASSERT_EQ(r.open(again.frame), OpenStatus::opened);
                EXPECT_EQ(again.contents(), original);
            }
}

// ---- refusals --------------------------------------------------------------------------------

TEST(PspOpen, AnyFlippedBitInTheAuthenticatedPartIsRefused) {
    // an offset equal to the whole segment leaves nothing encrypted: the ICV still guards
    const Bytes original = roce_frame(test::Family::V4, 16);
    const uint8_t everything = uint8_t((original.size() - 34) / 4);
    ASSERT_EQ((original.size() - 34) % 4, 0u) << "the frame's segment must be whole units";
    for (uint8_t offset : {uint8_t(0), uint8_t(5), everything}) {
        Buffer sealed(original);
        TxSa tx(keys(), 0x12345678, {psp::Version::aes_gcm_128, psp::Mode::transport, offset});
        ASSERT_EQ(tx.seal(sealed.frame), SealStatus::sealed);
        const Bytes good = sealed.contents();
        const size_t psp_start = 14 + 20 + 8;
        for (size_t byte = psp_start; byte < good.size(); ++byte)
            for (int bit = 0; bit < 8; ++bit) {
                Bytes bad = good;
                bad[byte] ^= uint8_t(1 << bit);
                Buffer b(bad);
                RxSa rx(keys(), 0x12345678, psp::Version::aes_gcm_128);
                Receiver r;
                r.sas[0x12345678] = &rx;
                const OpenStatus s = r.open(b.frame);
                EXPECT_NE(s, OpenStatus::opened)
                    << "offset " << int(offset) << " byte " << byte << " bit " << bit;
            }
        // and the untouched frame opens
        Buffer b(good);
        RxSa rx(keys(), 0x12345678, psp::Version::aes_gcm_128);
        Receiver r;
        r.sas[0x12345678] = &rx;
        EXPECT_EQ(r.open(b.frame), OpenStatus::opened);
    }
}

TEST(PspOpen, ReplaysAndIvsBehindTheWindowAreRefused) {
    const Bytes original = roce_frame(test::Family::V4, 64);
    TxSa tx(keys(), 0x12345678, {});
    std::vector<Bytes> sealed;
    for (int i = 0; i < 3; ++i) {
        Buffer b(original);
        ASSERT_EQ(tx.seal(b.frame), SealStatus::sealed);
        sealed.push_back(b.contents());
    }
    RxSa rx(keys(), 0x12345678, psp::Version::aes_gcm_128);
    Receiver r;
    r.sas[0x12345678] = &rx;
    auto open = [&](const Bytes& f) {
        Buffer b(f);
        return r.open(b.frame);
    };
    EXPECT_EQ(open(sealed[2]), OpenStatus::opened);  // IV 3 first
    EXPECT_EQ(open(sealed[0]), OpenStatus::opened);  // IV 1, out of order, in the window
    EXPECT_EQ(open(sealed[0]), OpenStatus::replayed);
    EXPECT_EQ(open(sealed[2]), OpenStatus::replayed);
    // an IV the window has passed
    TxSa far(keys(), 0x12345678, {}, 1 + ReplayWindow::kBits + 5);
    Buffer ahead(original);
    ASSERT_EQ(far.seal(ahead.frame), SealStatus::sealed);
    EXPECT_EQ(r.open(ahead.frame), OpenStatus::opened);
    EXPECT_EQ(open(sealed[1]), OpenStatus::too_old);
    // a forged frame with a far IV fails authentication and does not move the window
    Bytes forged = sealed[1];
    roce::store_be64(forged.data() + 14 + 20 + 8 + 8, 1ull << 40);
    EXPECT_EQ(open(forged), OpenStatus::auth_failed);
    EXPECT_EQ(rx.window().highest(), 1 + ReplayWindow::kBits + 5);
}

TEST(PspOpen, UnknownSpiWrongVersionAndNotPspAreToldApart) {
    const Bytes original = roce_frame(test::Family::V6, 64);
    Buffer b(original);
    TxSa tx(keys(), 0x12345678, {psp::Version::aes_gcm_256});
    ASSERT_EQ(tx.seal(b.frame), SealStatus::sealed);
    const Bytes sealed = b.contents();
    Receiver none;
    Buffer b1(sealed);
    EXPECT_EQ(none.open(b1.frame), OpenStatus::unknown_spi);
    RxSa v0(keys(), 0x12345678, psp::Version::aes_gcm_128);
    Receiver wrong;
    wrong.sas[0x12345678] = &v0;
    Buffer b2(sealed);
    EXPECT_EQ(wrong.open(b2.frame), OpenStatus::wrong_version);
    Buffer plain(original);
    EXPECT_EQ(none.open(plain.frame), OpenStatus::not_psp);
    // a frame cut short anywhere is malformed, never read past its end
    for (size_t cut = 14 + 40 + 8; cut < sealed.size(); ++cut) {
        Bytes shorter(sealed.begin(), sealed.begin() + long(cut));
        Buffer s(shorter);
        EXPECT_NE(wrong.open(s.frame), OpenStatus::opened);
    }
}

TEST(PspSeal, PaddingIsNotEncryptedAndVlansStayInFront) {
    Bytes padded = roce_frame(test::Family::V4, 0, 2);
    const size_t ip_end = padded.size();
    padded.resize(ip_end + 6, 0xee);  // Ethernet padding after the IP packet
    Buffer b(padded);
    TxSa tx(keys(), 0x12345678, {});
    ASSERT_EQ(tx.seal(b.frame), SealStatus::sealed);
    EXPECT_EQ(b.frame.len, ip_end + 40);
    RxSa rx(keys(), 0x12345678, psp::Version::aes_gcm_128);
    Receiver r;
    r.sas[0x12345678] = &rx;
    ASSERT_EQ(r.open(b.frame), OpenStatus::opened);
    EXPECT_EQ(b.contents(), Bytes(padded.begin(), padded.begin() + long(ip_end)));
}

TEST(PspSeal, EveryStatusHasAName) {
    // the counters of `weftctl psp seal` are keyed by these names ("?" was two of them)
    for (int v = 0; v <= int(SealStatus::iv_exhausted); ++v)
        EXPECT_NE(to_string(SealStatus(v)), "?") << v;
    for (int v = 0; v <= int(OpenStatus::bad_inner); ++v)
        EXPECT_NE(to_string(OpenStatus(v)), "?") << v;
}

TEST(PspSeal, RefusesWhatItCannotSealAndSaysWhy) {
    TxSa tx(keys(), 0x12345678, {});
    Bytes arp(60, 0);
    roce::store_be16(arp.data() + 12, 0x0806);
    Buffer a(arp);
    EXPECT_EQ(tx.seal(a.frame), SealStatus::not_ip);
    Bytes f = roce_frame(test::Family::V4, 64);
    Buffer tight(f);
    tight.frame.headroom = 10;
    EXPECT_EQ(tx.seal(tight.frame), SealStatus::no_room);
    roce::store_be16(f.data() + 14 + 2, uint16_t(f.size()));  // IP length past the frame
    Buffer lying(f);
    EXPECT_EQ(tx.seal(lying.frame), SealStatus::ip_malformed);
    // found by fuzz-psp: a transport-mode fragment (its outer header would claim to be a
    // fragment), IP-in-IP in transport mode (opens as tunnel mode), a header whose version
    // nibble is not the EtherType's
    Bytes frag = roce_frame(test::Family::V4, 64);
    roce::store_be16(frag.data() + 14 + 6, 0x2000);  // MF
    test::refresh_ipv4_checksum(frag, 14);
    Buffer fr(frag);
    EXPECT_EQ(tx.seal(fr.frame), SealStatus::ipv4_fragment);
    Buffer tunnel_frag(frag);
    TxSa tunnel(keys(), 0x12345678, {psp::Version::aes_gcm_128, psp::Mode::tunnel, 0});
    ASSERT_EQ(tunnel.seal(tunnel_frag.frame), SealStatus::sealed);
    EXPECT_FALSE(roce::locate({tunnel_frag.frame.data, tunnel_frag.frame.len}).fragment);
    Bytes ipip = roce_frame(test::Family::V4, 64);
    ipip[14 + 9] = 41;
    test::refresh_ipv4_checksum(ipip, 14);
    Buffer ii(ipip);
    EXPECT_EQ(tx.seal(ii.frame), SealStatus::ip_in_ip);
    Bytes v0 = roce_frame(test::Family::V4, 64);
    v0[14] = 0x05;
    Buffer bad_version(v0);
    EXPECT_EQ(tx.seal(bad_version.frame), SealStatus::ip_malformed);
    EXPECT_THROW(TxSa(keys(), 0x80000000u, {}), CryptError);
    EXPECT_THROW(TxSa(keys(), 1, {psp::Version::aes_gcm_128, psp::Mode::transport, 64}),
                 CryptError);
}

}  // namespace
}  // namespace weft::crypt

// PSP for RoCEv2 frames: sealing (encapsulate, encrypt, authenticate) and opening
// (authenticate, decrypt, decapsulate) of whole Ethernet frames in place, in transport
// and tunnel mode, IPv4 and IPv6, AES-GCM-128 (version 0) and AES-GCM-256 (version 1),
// with or without a virtualization cookie, any crypt offset 0-63. One implementation for
// weftd's crypt stages, `weftctl psp` and the tests. Format facts: roce/psp.hpp.
//
// Frames are changed in place inside a buffer with room before and after them: sealing
// moves the link and IP headers back into the headroom to open a gap for the outer UDP
// and PSP headers (the payload does not move) and appends the ICV in the tailroom;
// opening does the reverse. Lengths are never taken from the frame's size: the payload
// ends where the IP header says (Ethernet padding is dropped, never encrypted).
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string_view>

#include "weft/crypt/gcm.hpp"
#include "weft/crypt/keys.hpp"
#include "weft/crypt/replay.hpp"
#include "weft/roce/psp.hpp"

namespace weft::crypt {

// A frame in a buffer: `data` is its first byte, with `headroom` writable bytes before it
// and `tailroom` after its `len` bytes.
struct FrameBuffer {
    uint8_t* data = nullptr;
    uint32_t len = 0;
    uint32_t headroom = 0;
    uint32_t tailroom = 0;
};

// What a sealed frame's outer UDP source port carries. It is not authenticated, so the
// balancer may rewrite it afterwards.
enum class SourcePort : uint8_t {
    entropy,    // 0xC000 | a hash of the inner flow (addresses, ports, and for RoCE the QP)
    xor_ports,  // inner source port XOR inner destination port (Google's reference tools)
};

struct SealOptions {
    roce::psp::Version version = roce::psp::Version::aes_gcm_128;
    roce::psp::Mode mode = roce::psp::Mode::transport;
    // In 4-octet units after the base header (a cookie counts inside it). The default
    // keeps inner UDP + BTH readable in transport mode without a cookie.
    uint8_t crypt_offset = 5;
    bool cookie = false;
    uint64_t cookie_value = 0;
    SourcePort source_port = SourcePort::entropy;
};

// The crypt offset that leaves inner UDP + BTH in clear, for a mode and outer family.
uint8_t clear_udp_bth_offset(roce::psp::Mode mode, bool ipv6, bool cookie);

enum class SealStatus : uint8_t {
    sealed,
    not_ip,                  // not IPv4 or IPv6 (ARP, ...): not PSP's to seal
    ip_malformed,            // the IP header or the length it gives runs past the frame
    ipv6_extension_header,   // transport mode takes UDP or TCP right after the IPv6 header
    ipv4_fragment,           // transport mode: the outer header would claim a fragment
    ip_in_ip,                // transport mode of IP-in-IP (4, 41) would open as tunnel mode
    crypt_offset_too_large,  // the offset points past the payload
    no_room,                 // headroom or tailroom too small, or the result over the max
    iv_exhausted,            // 2^64 - 1 IVs used: the SA must be replaced
};
std::string_view to_string(SealStatus s);

// Send side of one security association: its SPI, key and IV counter.
class TxSa {
  public:
    // Derives the SPI's key. IVs are first_iv, first_iv + iv_stride, ... (never 0): senders
    // sharing an SA (weftd's workers) take disjoint IVs with one start each and the same
    // stride, so no IV is ever used twice under one key.
    TxSa(const MasterKeys& keys, uint32_t spi, const SealOptions& options, uint64_t first_iv = 1,
         uint64_t iv_stride = 1);
    uint32_t spi() const { return spi_; }
    const SealOptions& options() const { return options_; }
    uint64_t next_iv() const { return next_iv_; }

    SealStatus seal(FrameBuffer& frame);

  private:
    uint32_t spi_;
    SealOptions options_;
    AesGcm gcm_;
    uint64_t next_iv_;
    uint64_t iv_stride_;
};

enum class OpenStatus : uint8_t {
    opened,
    not_psp,        // not UDP to port 1000 over IPv4/IPv6
    malformed,      // lengths, header or crypt offset that cannot be right (rx-bad)
    unknown_spi,    // no receive SA for the SPI (rx-error)
    wrong_version,  // the header's version is not the SA's (rx-bad)
    auth_failed,    // the ICV does not verify (rx-auth-fail)
    replayed,       // an IV already accepted (rx-replay)
    too_old,        // an IV behind the replay window (rx-replay)
    bad_inner,      // authenticated, but the inner packet is not one Weft can deliver
};
std::string_view to_string(OpenStatus s);

// Receive side of one SA: key, version and replay window.
class RxSa {
  public:
    RxSa(const MasterKeys& keys, uint32_t spi, roce::psp::Version version);
    uint32_t spi() const { return spi_; }
    roce::psp::Version version() const { return version_; }
    const ReplayWindow& window() const { return window_; }

  private:
    friend OpenStatus open(FrameBuffer&, RxSa* (*)(uint32_t, uint8_t, void*), void*,
                           roce::psp::Header*);
    uint32_t spi_;
    roce::psp::Version version_;
    AesGcm gcm_;
    ReplayWindow window_;
};

// Opens a frame whose SA is found by `lookup(spi, version, context)` from its header
// (nullptr: unknown; a lookup that keeps one SA per SPI ignores the version, and a
// mismatch is refused as wrong_version). On
// success the frame is the original (transport: the IP header fixed back; tunnel: the
// inner packet behind the original link header). `header`, when given, receives the
// PSP header read (for counters by SPI). The frame is unchanged unless opened, except
// that a frame failing authentication has had its encrypted part decrypted in place:
// callers drop it.
OpenStatus open(FrameBuffer& frame, RxSa* (*lookup)(uint32_t spi, uint8_t version, void* context),
                void* context, roce::psp::Header* header = nullptr);

// A receiver holding both master keys, which can therefore derive the receive SA of any
// SPI: one per (SPI, version), made on first sight. What offline tools open captures with
// (`weftctl psp open`, `weftctl analyze --master-keys`); weftd keeps its own SAs.
class DerivingReceiver {
  public:
    explicit DerivingReceiver(const MasterKeys& keys) : keys_(keys) {}
    OpenStatus open(FrameBuffer& frame, roce::psp::Header* header = nullptr) {
        return crypt::open(frame, &DerivingReceiver::find, this, header);
    }

  private:
    static RxSa* find(uint32_t spi, uint8_t version, void* self);
    const MasterKeys& keys_;
    std::map<std::pair<uint32_t, uint8_t>, std::unique_ptr<RxSa>> by_spi_;
};

}  // namespace weft::crypt

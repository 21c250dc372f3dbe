// Anti-replay for PSP, which has none of its own (and RoCE has no TCP PAWS to stand in):
// a sliding window over the IV, as IPsec's (RFC 4303 section 3.4.3). IVs ahead of the
// window move it; inside it, each is accepted once; behind it, refused as too old. The
// window is checked before decryption (a cheap refusal) and moved only after the packet
// authenticated, so a forged IV cannot push the window past genuine traffic.
#pragma once

#include <array>
#include <cstdint>

namespace weft::crypt {

class ReplayWindow {
  public:
    static constexpr uint64_t kBits = 1024;  // IVs accepted out of order, behind the highest
    enum class Verdict : uint8_t { fresh, replay, too_old };

    Verdict check(uint64_t iv) const {
        if (!seen_any_ || iv > highest_) return Verdict::fresh;
        const uint64_t behind = highest_ - iv;
        if (behind >= kBits) return Verdict::too_old;
        return bit(iv) ? Verdict::replay : Verdict::fresh;
    }
    // After authentication, for an IV check() called fresh.
    void accept(uint64_t iv) {
        if (!seen_any_) {
            seen_any_ = true;
            highest_ = iv;
            set(iv);
            return;
        }
        if (iv > highest_) {
            const uint64_t ahead = iv - highest_;
            if (ahead >= kBits) {
                words_.fill(0);
            } else {
                for (uint64_t v = highest_ + 1; v <= iv; ++v) clear(v);
            }
            highest_ = iv;
        }
        set(iv);
    }
    uint64_t highest() const { return highest_; }

  private:
    static constexpr uint64_t kWords = kBits / 64;
    bool bit(uint64_t iv) const { return (words_[(iv / 64) % kWords] >> (iv % 64)) & 1; }
    void set(uint64_t iv) { words_[(iv / 64) % kWords] |= uint64_t(1) << (iv % 64); }
    void clear(uint64_t iv) { words_[(iv / 64) % kWords] &= ~(uint64_t(1) << (iv % 64)); }

    std::array<uint64_t, kWords> words_{};
    uint64_t highest_ = 0;
    bool seen_any_ = false;
};

}  // namespace weft::crypt

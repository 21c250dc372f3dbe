// Memory for key material: its own pages, kept out of core dumps (MADV_DONTDUMP), locked
// in RAM where the limit allows (never swapped to disk), and wiped (explicit_bzero)
// before it is returned. Keys live nowhere else: never in a std::string, a log line or
// an exception message.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace weft::crypt {

class SecretBuffer {
  public:
    explicit SecretBuffer(size_t bytes);  // zeroed; throws std::bad_alloc
    ~SecretBuffer();
    SecretBuffer(SecretBuffer&& other) noexcept;
    SecretBuffer& operator=(SecretBuffer&& other) noexcept;
    SecretBuffer(const SecretBuffer&) = delete;
    SecretBuffer& operator=(const SecretBuffer&) = delete;

    uint8_t* data() { return data_; }
    const uint8_t* data() const { return data_; }
    size_t size() const { return size_; }
    std::span<const uint8_t> bytes() const { return {data_, size_}; }

  private:
    void release();
    uint8_t* data_ = nullptr;
    size_t size_ = 0;
    size_t mapped_ = 0;
};

}  // namespace weft::crypt

#include "weft/crypt/secret.hpp"

#include <sys/mman.h>
#include <unistd.h>

#include <cstring>
#include <new>
#include <utility>

namespace weft::crypt {

SecretBuffer::SecretBuffer(size_t bytes) : size_(bytes) {
    const size_t page = size_t(::sysconf(_SC_PAGESIZE));
    mapped_ = (bytes + page - 1) / page * page;
    if (mapped_ == 0) mapped_ = page;
    void* p = ::mmap(nullptr, mapped_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) throw std::bad_alloc();
    ::madvise(p, mapped_, MADV_DONTDUMP);  // advice: a kernel without it still works
    ::mlock(p, mapped_);                   // best effort: RLIMIT_MEMLOCK may refuse
    data_ = static_cast<uint8_t*>(p);
}

void SecretBuffer::release() {
    if (!data_) return;
    ::explicit_bzero(data_, mapped_);
    ::munlock(data_, mapped_);
    ::munmap(data_, mapped_);
    data_ = nullptr;
}

SecretBuffer::~SecretBuffer() {
    release();
}

SecretBuffer::SecretBuffer(SecretBuffer&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)),
      size_(std::exchange(other.size_, 0)),
      mapped_(std::exchange(other.mapped_, 0)) {}

SecretBuffer& SecretBuffer::operator=(SecretBuffer&& other) noexcept {
    if (this != &other) {
        release();
        data_ = std::exchange(other.data_, nullptr);
        size_ = std::exchange(other.size_, 0);
        mapped_ = std::exchange(other.mapped_, 0);
    }
    return *this;
}

}  // namespace weft::crypt

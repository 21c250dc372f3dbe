// A fixed-size array of zero-initialised implicit-lifetime objects (aggregates of
// integers), allocated with calloc. Large tables then cost nothing until they are used:
// the kernel hands out zero pages on first touch, where new T[n]() would write every
// byte up front (measured: ~0.4 s for a 1 M-flow table before the first packet).
#pragma once

#include <cstddef>
#include <cstdlib>
#include <new>
#include <type_traits>

namespace weft::flow {

template <class T>
class ZeroedArray {
    static_assert(std::is_trivially_destructible_v<T> &&
                      (std::is_aggregate_v<T> || std::is_scalar_v<T>),
                  "objects are created implicitly by the allocation: scalars and aggregates only");

  public:
    ZeroedArray() = default;
    explicit ZeroedArray(size_t n)
        : data_(static_cast<T*>(std::calloc(n ? n : 1, sizeof(T)))), size_(n) {
        if (!data_) throw std::bad_alloc();
    }
    ~ZeroedArray() { std::free(data_); }
    ZeroedArray(const ZeroedArray&) = delete;
    ZeroedArray& operator=(const ZeroedArray&) = delete;
    ZeroedArray(ZeroedArray&& o) noexcept : data_(o.data_), size_(o.size_) {
        o.data_ = nullptr;
        o.size_ = 0;
    }
    ZeroedArray& operator=(ZeroedArray&& o) noexcept {
        std::swap(data_, o.data_);
        std::swap(size_, o.size_);
        return *this;
    }

    T& operator[](size_t i) { return data_[i]; }
    const T& operator[](size_t i) const { return data_[i]; }
    size_t size() const { return size_; }

  private:
    T* data_ = nullptr;
    size_t size_ = 0;
};

}  // namespace weft::flow

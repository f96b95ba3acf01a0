// CRC-32C (Castagnoli), hardware-accelerated with SSE4.2 when the CPU has it, with a
// portable table fallback. Mask/Unmask as in leveldb's util/crc32c.h: a CRC stored next
// to the data it covers is masked so that CRCs of data that itself contains CRCs stay
// well distributed.
#pragma once

#include <cstddef>
#include <cstdint>

namespace docshift::crc32c {

// Returns the crc32c of concat(A, data[0,n)) where init_crc is the crc32c of A.
uint32_t Extend(uint32_t init_crc, const void* data, size_t n);
inline uint32_t Value(const void* data, size_t n) { return Extend(0, data, n); }

inline constexpr uint32_t kMaskDelta = 0xa282ead8u;
inline uint32_t Mask(uint32_t crc) { return ((crc >> 15) | (crc << 17)) + kMaskDelta; }
inline uint32_t Unmask(uint32_t masked) {
  uint32_t rot = masked - kMaskDelta;
  return ((rot >> 17) | (rot << 15));
}

}  // namespace docshift::crc32c

#include "network/crc32.h"

#include <array>
#include <bit>
#include <cstddef>
#include <cstring>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define METAJOULE_CRC32_CLMUL 1
#include <immintrin.h>
#endif

namespace metajoule::network {
namespace {

using internal::Crc32Path;

constexpr std::uint32_t kReflectedPolynomial = 0xEDB88320u;

// tables[k][b]: the CRC register after feeding byte b followed by k zero bytes (slicing-by-8,
// Kounavis and Berry, "A Systematic Approach to Building High Performance Software-based CRC
// Generators", 2005)
using Tables = std::array<std::array<std::uint32_t, 256>, 8>;

constexpr Tables MakeTables() {
  Tables tables{};
  for (std::uint32_t b = 0; b < 256; ++b) {
    std::uint32_t crc = b;
    for (int bit = 0; bit < 8; ++bit) crc = (crc >> 1) ^ ((crc & 1u) ? kReflectedPolynomial : 0u);
    tables[0][b] = crc;
  }
  for (std::size_t k = 1; k < 8; ++k) {
    for (std::size_t b = 0; b < 256; ++b) {
      const std::uint32_t prev = tables[k - 1][b];
      tables[k][b] = (prev >> 8) ^ tables[0][prev & 0xFFu];
    }
  }
  return tables;
}

constexpr Tables kTables = MakeTables();

// advances the raw (non-inverted) CRC register over `size` bytes
std::uint32_t UpdateTable(std::uint32_t crc, const std::uint8_t* data, std::size_t size) {
  while (size >= 8) {
    std::uint32_t low = 0;
    std::uint32_t high = 0;
    std::memcpy(&low, data, 4);
    std::memcpy(&high, data + 4, 4);
    if constexpr (std::endian::native == std::endian::big) {
      low = __builtin_bswap32(low);
      high = __builtin_bswap32(high);
    }
    low ^= crc;
    crc = kTables[7][low & 0xFFu] ^ kTables[6][(low >> 8) & 0xFFu] ^
          kTables[5][(low >> 16) & 0xFFu] ^ kTables[4][low >> 24] ^ kTables[3][high & 0xFFu] ^
          kTables[2][(high >> 8) & 0xFFu] ^ kTables[1][(high >> 16) & 0xFFu] ^
          kTables[0][high >> 24];
    data += 8;
    size -= 8;
  }
  while (size-- > 0) crc = (crc >> 8) ^ kTables[0][(crc ^ *data++) & 0xFFu];
  return crc;
}

#if defined(METAJOULE_CRC32_CLMUL)

// Folding constants of the bit-reflected CRC-32 polynomial, from the end of Gopal et al. 2009:
// k1 = x^(4*128+32) mod P, k2 = x^(4*128-32) mod P (fold by 4 x 128 bits), k3/k4 the same for one
// 128-bit block, k5 = x^64 mod P, and the Barrett pair (P', mu).
// the helpers carry the target attribute themselves: a lambda inside a target function does not
// inherit it, and its intrinsics then fail to inline in builds without -march=native
#define METAJOULE_CLMUL_TARGET __attribute__((target("pclmul,sse4.1")))

METAJOULE_CLMUL_TARGET inline __m128i Load16(const std::uint8_t* p) {
  return _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
}

// fold x into the next 16 bytes y with the constant pair k
METAJOULE_CLMUL_TARGET inline __m128i Fold(__m128i x, __m128i y, __m128i k) {
  return _mm_xor_si128(
      _mm_xor_si128(_mm_clmulepi64_si128(x, k, 0x00), _mm_clmulepi64_si128(x, k, 0x11)), y);
}

// 128 -> 32 bits: the raw CRC register of the folded remainder x (Barrett reduction)
METAJOULE_CLMUL_TARGET std::uint32_t Reduce128(__m128i x1) {
  const __m128i k3k4 = _mm_set_epi64x(0x00ccaa009e, 0x01751997d0);
  const __m128i k5 = _mm_set_epi64x(0, 0x0163cd6124);
  const __m128i barrett = _mm_set_epi64x(0x01f7011641, 0x01db710641);
  const __m128i mask32 = _mm_setr_epi32(~0, 0, ~0, 0);
  // 128 -> 64 bits
  __m128i x2r = _mm_clmulepi64_si128(x1, k3k4, 0x10);
  x1 = _mm_xor_si128(_mm_srli_si128(x1, 8), x2r);
  // 64 -> 32 bits
  x2r = _mm_srli_si128(x1, 4);
  x1 = _mm_xor_si128(_mm_clmulepi64_si128(_mm_and_si128(x1, mask32), k5, 0x00), x2r);
  // Barrett reduction to the 32-bit register
  x2r = _mm_and_si128(x1, mask32);
  x2r = _mm_clmulepi64_si128(x2r, barrett, 0x10);
  x2r = _mm_and_si128(x2r, mask32);
  x2r = _mm_clmulepi64_si128(x2r, barrett, 0x00);
  x1 = _mm_xor_si128(x1, x2r);
  return static_cast<std::uint32_t>(_mm_extract_epi32(x1, 1));
}

// advances the raw CRC register over `size` bytes, size >= 64 and a multiple of 16
METAJOULE_CLMUL_TARGET std::uint32_t UpdateClmul(std::uint32_t crc, const std::uint8_t* data,
                                                 std::size_t size) {
  const __m128i k1k2 = _mm_set_epi64x(0x01c6e41596, 0x0154442bd4);
  const __m128i k3k4 = _mm_set_epi64x(0x00ccaa009e, 0x01751997d0);

  // four lanes of 128 bits, the register xored into the first
  __m128i x1 = _mm_xor_si128(Load16(data), _mm_cvtsi32_si128(static_cast<int>(crc)));
  __m128i x2 = Load16(data + 16);
  __m128i x3 = Load16(data + 32);
  __m128i x4 = Load16(data + 48);
  data += 64;
  size -= 64;
  while (size >= 64) {
    x1 = Fold(x1, Load16(data), k1k2);
    x2 = Fold(x2, Load16(data + 16), k1k2);
    x3 = Fold(x3, Load16(data + 32), k1k2);
    x4 = Fold(x4, Load16(data + 48), k1k2);
    data += 64;
    size -= 64;
  }

  // fold the four lanes into one, then the remaining 16-byte blocks
  x1 = Fold(x1, x2, k3k4);
  x1 = Fold(x1, x3, k3k4);
  x1 = Fold(x1, x4, k3k4);
  while (size >= 16) {
    x1 = Fold(x1, Load16(data), k3k4);
    data += 16;
    size -= 16;
  }
  return Reduce128(x1);
}

// The same folding with VPCLMULQDQ on 512-bit registers: four zmm lanes of 4 x 128 bits each,
// 256 bytes per step. Fold constants are x^(D+32) and x^(D-32) mod P, bit-reflected and shifted
// left by one, for the fold distance D: 2048 bits across the four lanes, 512 bits from one lane to
// the next, 128 bits within a lane.
#define METAJOULE_VPCLMUL_TARGET __attribute__((target("avx512f,vpclmulqdq,pclmul,sse4.1")))

METAJOULE_VPCLMUL_TARGET inline __m512i Fold512(__m512i x, __m512i y, __m512i k) {
  // 0x96: a ^ b ^ c
  return _mm512_ternarylogic_epi64(_mm512_clmulepi64_epi128(x, k, 0x00),
                                   _mm512_clmulepi64_epi128(x, k, 0x11), y, 0x96);
}

template <bool kCopy>
METAJOULE_VPCLMUL_TARGET inline __m512i LoadCopy512(const std::uint8_t* data, std::uint8_t* out,
                                                    std::size_t at) {
  const __m512i v = _mm512_loadu_si512(data + at);
  if constexpr (kCopy) _mm512_storeu_si512(out + at, v);
  return v;
}

// advances the raw CRC register over `size` bytes, size >= 256 and a multiple of 16; with kCopy
// the bytes are also stored to `out` as they are read (one pass over the data instead of two)
template <bool kCopy>
METAJOULE_VPCLMUL_TARGET std::uint32_t UpdateVpclmul(std::uint32_t crc, const std::uint8_t* data,
                                                     std::size_t size, std::uint8_t* out) {
  const __m512i k2048 = _mm512_set_epi64(0x01322d1430, 0x011542778a, 0x01322d1430, 0x011542778a,
                                         0x01322d1430, 0x011542778a, 0x01322d1430, 0x011542778a);
  const __m512i k512 = _mm512_set_epi64(0x01c6e41596, 0x0154442bd4, 0x01c6e41596, 0x0154442bd4,
                                        0x01c6e41596, 0x0154442bd4, 0x01c6e41596, 0x0154442bd4);
  const __m128i k128 = _mm_set_epi64x(0x00ccaa009e, 0x01751997d0);
  std::size_t at = 0;
  __m512i x1 = _mm512_xor_si512(LoadCopy512<kCopy>(data, out, at + 0),
                                _mm512_castsi128_si512(_mm_cvtsi32_si128(static_cast<int>(crc))));
  __m512i x2 = LoadCopy512<kCopy>(data, out, at + 64);
  __m512i x3 = LoadCopy512<kCopy>(data, out, at + 128);
  __m512i x4 = LoadCopy512<kCopy>(data, out, at + 192);
  for (at = 256; size - at >= 256; at += 256) {
    x1 = Fold512(x1, LoadCopy512<kCopy>(data, out, at + 0), k2048);
    x2 = Fold512(x2, LoadCopy512<kCopy>(data, out, at + 64), k2048);
    x3 = Fold512(x3, LoadCopy512<kCopy>(data, out, at + 128), k2048);
    x4 = Fold512(x4, LoadCopy512<kCopy>(data, out, at + 192), k2048);
  }
  x1 = Fold512(x1, x2, k512);
  x1 = Fold512(x1, x3, k512);
  x1 = Fold512(x1, x4, k512);
  for (; size - at >= 64; at += 64) x1 = Fold512(x1, LoadCopy512<kCopy>(data, out, at + 0), k512);
  // the four 128-bit lanes (through memory: GCC 12 warns about the lane extract intrinsics)
  alignas(64) __m128i lanes[4];
  _mm512_store_si512(lanes, x1);
  __m128i x = lanes[0];
  x = Fold(x, lanes[1], k128);
  x = Fold(x, lanes[2], k128);
  x = Fold(x, lanes[3], k128);
  for (; at < size; at += 16) {
    const __m128i v = Load16(data + at);
    if constexpr (kCopy) _mm_storeu_si128(reinterpret_cast<__m128i*>(out + at), v);
    x = Fold(x, v, k128);
  }
  return Reduce128(x);
}

bool DetectClmul() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("pclmul") && __builtin_cpu_supports("sse4.1");
}

bool DetectVpclmul() {
  __builtin_cpu_init();
  return DetectClmul() && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("vpclmulqdq");
}

const bool kHasClmul = DetectClmul();
const bool kHasVpclmul = DetectVpclmul();

#endif

// the raw CRC register after `size` bytes, on `path` (which the CPU must support)
std::uint32_t Update(Crc32Path path, std::uint32_t crc, const std::uint8_t* data,
                     std::size_t size) {
#if defined(METAJOULE_CRC32_CLMUL)
  if (path == Crc32Path::kVpclmul && size >= 256) {
    const std::size_t chunk = size & ~std::size_t{15};
    crc = UpdateVpclmul<false>(crc, data, chunk, nullptr);
    data += chunk;
    size -= chunk;
  } else if (path != Crc32Path::kTables && size >= 64) {
    const std::size_t chunk = size & ~std::size_t{15};
    crc = UpdateClmul(crc, data, chunk);
    data += chunk;
    size -= chunk;
  }
#else
  (void)path;
#endif
  return UpdateTable(crc, data, size);
}

Crc32Path BestPath() {
#if defined(METAJOULE_CRC32_CLMUL)
  if (kHasVpclmul) return Crc32Path::kVpclmul;
  if (kHasClmul) return Crc32Path::kClmul;
#endif
  return Crc32Path::kTables;
}

const Crc32Path kBestPath = BestPath();

}  // namespace

std::uint32_t Crc32(std::span<const std::uint8_t> bytes, std::uint32_t previous) {
  return ~Update(kBestPath, ~previous, bytes.data(), bytes.size());
}

std::uint32_t Crc32Copy(std::span<const std::uint8_t> bytes, std::uint8_t* out,
                        std::uint32_t previous) {
  if (bytes.empty()) return previous;
#if defined(METAJOULE_CRC32_CLMUL)
  if (kBestPath == Crc32Path::kVpclmul && bytes.size() >= 256) {
    const std::size_t chunk = bytes.size() & ~std::size_t{15};
    const std::uint32_t crc = UpdateVpclmul<true>(~previous, bytes.data(), chunk, out);
    std::memcpy(out + chunk, bytes.data() + chunk, bytes.size() - chunk);
    return ~UpdateTable(crc, bytes.data() + chunk, bytes.size() - chunk);
  }
#endif
  std::memcpy(out, bytes.data(), bytes.size());
  return Crc32(bytes, previous);
}

namespace internal {

std::uint32_t Crc32Portable(std::span<const std::uint8_t> bytes, std::uint32_t previous) {
  return ~UpdateTable(~previous, bytes.data(), bytes.size());
}

bool Crc32IsAccelerated() { return kBestPath != Crc32Path::kTables; }

Crc32Path Crc32BestPath() { return kBestPath; }

bool Crc32PathSupported(Crc32Path path) {
#if defined(METAJOULE_CRC32_CLMUL)
  if (path == Crc32Path::kClmul) return kHasClmul;
  if (path == Crc32Path::kVpclmul) return kHasVpclmul;
#endif
  return path == Crc32Path::kTables;
}

std::uint32_t Crc32On(Crc32Path path, std::span<const std::uint8_t> bytes, std::uint32_t previous) {
  if (!Crc32PathSupported(path)) path = Crc32Path::kTables;
  return ~Update(path, ~previous, bytes.data(), bytes.size());
}

std::string_view ToString(Crc32Path path) {
  switch (path) {
    case Crc32Path::kTables:
      return "tables";
    case Crc32Path::kClmul:
      return "pclmulqdq";
    case Crc32Path::kVpclmul:
      return "vpclmulqdq-avx512";
  }
  return "unknown";
}

}  // namespace internal
}  // namespace metajoule::network

#include "network/crc32.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <random>
#include <string_view>
#include <vector>

namespace metajoule::network {
namespace {

std::span<const std::uint8_t> Bytes(std::string_view text) {
  return {reinterpret_cast<const std::uint8_t*>(text.data()), text.size()};
}

std::vector<std::uint8_t> RandomBytes(std::size_t size, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<std::uint8_t> bytes(size);
  for (auto& b : bytes) b = static_cast<std::uint8_t>(rng());
  return bytes;
}

TEST_SUITE("network/crc32") {
  TEST_CASE("Crc32 gives the CRC-32/ISO-HDLC check value of 123456789") {
    CHECK(Crc32(Bytes("123456789")) == 0xCBF43926u);
    CHECK(internal::Crc32Portable(Bytes("123456789")) == 0xCBF43926u);
    CHECK(Crc32({}) == 0u);
  }

  TEST_CASE("Crc32 chains across chunks as zlib.crc32 does") {
    const auto bytes = RandomBytes(1000, 1);
    const std::span<const std::uint8_t> all(bytes);
    for (std::size_t split : {0, 1, 63, 64, 65, 500, 1000}) {
      CHECK(Crc32(all.subspan(split), Crc32(all.first(split))) == Crc32(all));
    }
  }

  TEST_CASE("the accelerated path matches the portable tables at every length and alignment") {
    INFO("accelerated: " << internal::Crc32IsAccelerated());
    const auto bytes = RandomBytes(4096 + 16, 2);
    const std::span<const std::uint8_t> all(bytes);
    for (std::size_t offset = 0; offset < 16; offset += 3) {
      for (std::size_t size = 0; size <= 600; ++size) {
        const auto part = all.subspan(offset, size);
        REQUIRE(Crc32(part, 0x12345678u) == internal::Crc32Portable(part, 0x12345678u));
      }
    }
    const auto big = RandomBytes(1 << 20, 3);
    CHECK(Crc32(big) == internal::Crc32Portable(big));
  }

  TEST_CASE("every carry-less multiplication path the CPU has matches the tables") {
    using internal::Crc32Path;
    INFO("best path: " << internal::ToString(internal::Crc32BestPath()));
    CHECK(internal::Crc32PathSupported(internal::Crc32BestPath()));
    const auto bytes = RandomBytes(8192 + 64, 4);
    const std::span<const std::uint8_t> all(bytes);
    for (Crc32Path path : {Crc32Path::kTables, Crc32Path::kClmul, Crc32Path::kVpclmul}) {
      if (!internal::Crc32PathSupported(path)) continue;
      INFO("path: " << internal::ToString(path));
      // the 512-bit path starts at 256 bytes and folds 256, 64 and 16 bytes at a time
      for (std::size_t offset : {0, 1, 7, 33}) {
        for (std::size_t size = 0; size <= 1300; size += (size < 600 ? 1 : 13)) {
          const auto part = all.subspan(offset, size);
          REQUIRE(internal::Crc32On(path, part, 0xA5A5A5A5u) ==
                  internal::Crc32Portable(part, 0xA5A5A5A5u));
        }
      }
      CHECK(internal::Crc32On(path, all) == internal::Crc32Portable(all));
    }
  }

  TEST_CASE("Crc32Copy copies the bytes and returns their CRC") {
    const auto bytes = RandomBytes(5000, 5);
    const std::span<const std::uint8_t> all(bytes);
    for (std::size_t offset : {0, 3}) {
      for (std::size_t size : {0, 1, 15, 16, 255, 256, 257, 271, 512, 1000, 4097}) {
        const auto part = all.subspan(offset, size);
        std::vector<std::uint8_t> out(size + 2, 0xEE);
        REQUIRE(Crc32Copy(part, out.data() + 1, 0x0BADF00Du) == Crc32(part, 0x0BADF00Du));
        CHECK(std::equal(part.begin(), part.end(), out.begin() + 1));
        // nothing written outside the destination
        CHECK(out.front() == 0xEE);
        CHECK(out.back() == 0xEE);
      }
    }
  }
}

}  // namespace
}  // namespace metajoule::network

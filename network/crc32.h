#pragma once
// CRC-32 as used by zlib, PNG and Ethernet (CRC-32/ISO-HDLC): reflected polynomial 0xEDB88320,
// initial value 0xFFFFFFFF, final xor 0xFFFFFFFF. Python's zlib.crc32 computes the same value,
// with the same chaining convention, so the wire format checksum can be checked from Python.

#include <cstdint>
#include <span>

namespace metajoule::network {

/// The CRC-32 of `bytes`, continuing from the CRC `previous` of the bytes that came before
/// (0 for the first chunk): Crc32(b, Crc32(a)) == Crc32(a ++ b), as zlib.crc32(b, zlib.crc32(a)).
/// Uses PCLMULQDQ folding (Gopal et al., "Fast CRC Computation for Generic Polynomials Using
/// PCLMULQDQ Instruction", Intel 2009) on x86-64 CPUs that have it, slicing-by-8 tables otherwise;
/// both give identical results.
std::uint32_t Crc32(std::span<const std::uint8_t> bytes, std::uint32_t previous = 0);

namespace internal {

/// The portable table-driven CRC-32 (slicing-by-8), exposed so tests can compare it with the
/// accelerated path.
std::uint32_t Crc32Portable(std::span<const std::uint8_t> bytes, std::uint32_t previous = 0);

/// True when Crc32 uses the PCLMULQDQ path on this CPU.
bool Crc32IsAccelerated();

}  // namespace internal
}  // namespace metajoule::network

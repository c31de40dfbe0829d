// libFuzzer target for the wire format decoder (docs/wire-format.md, "Fuzzing"). Built only with
// -DMETAJOULE_FUZZ=ON and clang; run bounded, e.g.
//   build-fuzz/network/network_fuzz_decoder -max_total_time=30 -max_len=4096
//
// The first input byte picks the mode: even decodes the remaining bytes as they are; odd first
// repairs the length field and the CRC-32, so mutations reach the payload parser behind the
// checksum. A decoded message must re-encode (float32) without throwing and decode back to the
// same values, bit for bit.

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <span>
#include <vector>

#include "network/crc32.h"
#include "network/wire_format.h"

namespace {

using metajoule::network::Crc32;
using metajoule::network::DecodeStatus;
using metajoule::network::kHeaderBytes;
using metajoule::network::Message;

bool SameBits(float a, float b) { return std::memcmp(&a, &b, sizeof(float)) == 0; }

void CheckRoundTrip(const Message& decoded) {
  const std::vector<std::uint8_t> bytes = metajoule::network::Encode(decoded);
  Message again;
  metajoule::network::WireLimits unlimited;
  auto raise = [](std::string_view, std::uint32_t& value) { value = 0xFFFFFFFFu; };
  unlimited.Visit(raise);
  if (metajoule::network::Decode(bytes, again, unlimited) != DecodeStatus::kOk) std::abort();
  if (again.kind != decoded.kind || again.sender != decoded.sender ||
      again.scalars.size() != decoded.scalars.size() ||
      again.tensors.size() != decoded.tensors.size() ||
      again.texts.size() != decoded.texts.size()) {
    std::abort();
  }
  for (std::size_t t = 0; t < decoded.texts.size(); ++t) {
    if (again.texts[t].name != decoded.texts[t].name ||
        again.texts[t].value != decoded.texts[t].value) {
      std::abort();
    }
  }
  for (std::size_t t = 0; t < decoded.tensors.size(); ++t) {
    const auto& a = decoded.tensors[t].values;
    const auto& b = again.tensors[t].values;
    if (a.size() != b.size()) std::abort();
    for (std::size_t i = 0; i < a.size(); ++i) {
      if (!SameBits(a[i], b[i])) std::abort();
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  std::vector<std::uint8_t> bytes(data + 1, data + size);
  if ((data[0] & 1u) != 0 && bytes.size() >= kHeaderBytes) {
    // repair length and checksum so that the payload parser is reached
    const auto length = static_cast<std::uint32_t>(bytes.size() - kHeaderBytes);
    std::memcpy(bytes.data() + 24, &length, 4);
    const std::span<const std::uint8_t> all(bytes);
    const std::uint32_t crc = Crc32(all.subspan(kHeaderBytes), Crc32(all.first(28)));
    std::memcpy(bytes.data() + 28, &crc, 4);
  }
  static Message message;  // reused, as a node reuses its receive buffer
  if (metajoule::network::Decode(bytes, message) == DecodeStatus::kOk) CheckRoundTrip(message);
  return 0;
}

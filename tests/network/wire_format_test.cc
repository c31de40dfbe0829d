#include "network/wire_format.h"

#include <doctest/doctest.h>

#include <bit>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <stdexcept>

#include "network/crc32.h"

namespace metajoule::network {
namespace {

// float16 keeps 11 significant bits: relative error <= 2^-11 in the normal range, and absolute
// error <= 2^-25 (half the smallest subnormal step) below it (docs/wire-format.md)
constexpr double kHalfRelativeError = 1.0 / 2048.0;
constexpr double kHalfAbsoluteError = 2.98023223876953125e-8;
// int8 rounds to the nearest multiple of the scale; the division adds float rounding on top
constexpr double kInt8ErrorInScales = 0.5 + 1e-5;

std::vector<float> RandomValues(std::size_t size, float magnitude, std::mt19937_64& rng) {
  std::normal_distribution<float> normal(0.0f, magnitude);
  std::vector<float> values(size);
  for (float& x : values) x = normal(rng);
  return values;
}

Message SampleMessage(MessageKind kind, std::mt19937_64& rng) {
  Message message;
  message.kind = kind;
  message.content = Content::kDelta;
  message.sender = 7;
  message.receiver = 0;
  message.round = 123456;
  message.sequence = 0xDEADBEEFu;
  message.scalars = {{"loss", -1.25}, {"task_id", 4.0}, {"big", 9007199254740993.0}};
  message.tensors = {{"theta", RandomValues(1000, 0.3f, rng)},
                     {"empty", {}},
                     {"one", {2.5f}},
                     {"seven", RandomValues(7, 10.0f, rng)}};
  return message;
}

// limits large enough for the sample messages of every kind (the defaults cap heartbeats at 1 KiB)
WireLimits Generous() {
  WireLimits limits;
  auto raise = [](std::string_view, std::uint32_t& value) { value = 1u << 30; };
  limits.Visit(raise);
  return limits;
}

// recomputes the checksum after a test tampers with the bytes, so the payload parser is reached
void FixChecksum(std::vector<std::uint8_t>& bytes) {
  const std::span<const std::uint8_t> all(bytes);
  const std::uint32_t crc = Crc32(all.subspan(kHeaderBytes), Crc32(all.first(28)));
  std::memcpy(bytes.data() + 28, &crc, 4);
}

void CheckSameHeaderAndScalars(const Message& a, const Message& b) {
  CHECK(a.kind == b.kind);
  CHECK(a.content == b.content);
  CHECK(a.sender == b.sender);
  CHECK(a.receiver == b.receiver);
  CHECK(a.round == b.round);
  CHECK(a.sequence == b.sequence);
  REQUIRE(a.scalars.size() == b.scalars.size());
  for (std::size_t i = 0; i < a.scalars.size(); ++i) {
    CHECK(a.scalars[i].name == b.scalars[i].name);
    CHECK(std::bit_cast<std::uint64_t>(a.scalars[i].value) ==
          std::bit_cast<std::uint64_t>(b.scalars[i].value));
  }
  REQUIRE(a.tensors.size() == b.tensors.size());
  for (std::size_t i = 0; i < a.tensors.size(); ++i) {
    CHECK(a.tensors[i].name == b.tensors[i].name);
    CHECK(a.tensors[i].values.size() == b.tensors[i].values.size());
  }
}

TEST_SUITE("network/wire_format") {
  TEST_CASE("every kind round-trips exactly with float32 tensors") {
    std::mt19937_64 rng(1);
    for (const auto& [name, kind] : EnumNames(MessageKind{})) {
      CAPTURE(name);
      const Message sent = SampleMessage(kind, rng);
      const auto bytes = Encode(sent);
      CHECK(bytes.size() == EncodedSize(sent));
      Message received;
      REQUIRE(Decode(bytes, received, Generous()) == DecodeStatus::kOk);
      CheckSameHeaderAndScalars(sent, received);
      for (std::size_t t = 0; t < sent.tensors.size(); ++t) {
        CHECK(sent.tensors[t].values == received.tensors[t].values);
      }
    }
  }

  TEST_CASE("the header sits at the documented byte offsets in little-endian order") {
    Message message;
    message.kind = MessageKind::kModelPush;
    message.sender = 0x01020304u;
    message.receiver = 0x05060708u;
    message.round = 9;
    message.sequence = 10;
    const auto bytes = Encode(message);
    REQUIRE(bytes.size() == kHeaderBytes + kPreambleBytes);
    const std::vector<std::uint8_t> header(bytes.begin(), bytes.begin() + 28);
    CHECK(header == std::vector<std::uint8_t>{'M', 'J', 'L', 'W', 1, 0, 3,  0, 4, 3, 2, 1, 8, 7,
                                              6,   5,   9,   0,   0, 0, 10, 0, 0, 0, 4, 0, 0, 0});
    const std::uint32_t crc =
        Crc32(std::span(bytes).subspan(32), Crc32(std::span(bytes).first(28)));
    CHECK(bytes[28] == (crc & 0xFFu));
    CHECK(bytes[31] == (crc >> 24));
    CHECK(std::vector<std::uint8_t>(bytes.begin() + 32, bytes.end()) ==
          std::vector<std::uint8_t>{0, 0, 0, 0});
  }

  TEST_CASE("float16 tensors round-trip within 2^-11 relative error for every kind") {
    std::mt19937_64 rng(2);
    for (const auto& [name, kind] : EnumNames(MessageKind{})) {
      CAPTURE(name);
      Message sent = SampleMessage(kind, rng);
      sent.tensors.push_back({"tiny", {1e-6f, -3e-7f, 6e-8f, 1e-9f, 0.0f, -0.0f}});
      sent.tensors.push_back({"huge", {65504.0f, -65519.0f, 70000.0f, -1e30f}});
      Message received;
      REQUIRE(Decode(Encode(sent, TensorEncoding::kFloat16), received, Generous()) ==
              DecodeStatus::kOk);
      CheckSameHeaderAndScalars(sent, received);
      for (std::size_t t = 0; t + 1 < sent.tensors.size(); ++t) {
        for (std::size_t i = 0; i < sent.tensors[t].values.size(); ++i) {
          const double x = sent.tensors[t].values[i];
          const double y = received.tensors[t].values[i];
          CHECK(std::fabs(x - y) <=
                std::max(kHalfRelativeError * std::fabs(x), kHalfAbsoluteError));
        }
      }
      const auto& huge = received.tensors.back().values;
      CHECK(huge[0] == 65504.0f);
      CHECK(huge[1] == -65504.0f);
      CHECK(huge[2] == std::numeric_limits<float>::infinity());
      CHECK(huge[3] == -std::numeric_limits<float>::infinity());
    }
  }

  TEST_CASE("every float16 value converts back to itself and special values survive") {
    for (std::uint32_t h = 0; h < 65536; ++h) {
      const auto half = static_cast<std::uint16_t>(h);
      const float x = internal::HalfToFloat(half);
      if (std::isnan(x)) {
        CHECK(std::isnan(internal::HalfToFloat(internal::FloatToHalf(x))));
      } else {
        REQUIRE(internal::FloatToHalf(x) == half);
      }
    }
    CHECK(internal::FloatToHalf(1.0f) == 0x3C00);
    CHECK(internal::FloatToHalf(-2.0f) == 0xC000);
    CHECK(internal::FloatToHalf(65520.0f) == 0x7C00);
    CHECK(internal::FloatToHalf(65519.99f) == 0x7BFF);
    CHECK(internal::FloatToHalf(std::ldexp(1.0f, -25)) == 0x0000);
    CHECK(internal::FloatToHalf(std::ldexp(1.5f, -25)) == 0x0001);
    CHECK(internal::FloatToHalf(1.0f + std::ldexp(1.0f, -11)) == 0x3C00);  // tie to even
    CHECK(internal::FloatToHalf(1.0f + std::ldexp(3.0f, -11)) == 0x3C02);  // tie to even
    CHECK(std::isnan(internal::HalfToFloat(internal::FloatToHalf(std::nanf("")))));
  }

  TEST_CASE("the bulk float16 encoder rounds exactly like the scalar conversion") {
    std::mt19937_64 rng(3);
    std::vector<float> values;
    for (float magnitude : {1e-7f, 1e-3f, 1.0f, 1e3f, 6e4f}) {
      const auto part = RandomValues(1001, magnitude, rng);
      values.insert(values.end(), part.begin(), part.end());
    }
    Message message;
    message.tensors = {{"x", values}};
    Message received;
    REQUIRE(Decode(Encode(message, TensorEncoding::kFloat16), received, Generous()) ==
            DecodeStatus::kOk);
    for (std::size_t i = 0; i < values.size(); ++i) {
      REQUIRE(received.tensors[0].values[i] ==
              internal::HalfToFloat(internal::FloatToHalf(values[i])));
    }
  }

  TEST_CASE("int8 tensors round-trip within half a scale step of max|x| / 127") {
    std::mt19937_64 rng(4);
    for (const auto& [name, kind] : EnumNames(MessageKind{})) {
      CAPTURE(name);
      Message sent = SampleMessage(kind, rng);
      sent.tensors.push_back({"zeros", std::vector<float>(5, 0.0f)});
      Message received;
      REQUIRE(Decode(Encode(sent, TensorEncoding::kInt8), received, Generous()) ==
              DecodeStatus::kOk);
      CheckSameHeaderAndScalars(sent, received);
      for (std::size_t t = 0; t < sent.tensors.size(); ++t) {
        const auto& x = sent.tensors[t].values;
        double max_abs = 0.0;
        for (float v : x) max_abs = std::max(max_abs, static_cast<double>(std::fabs(v)));
        const double scale = max_abs / 127.0;
        for (std::size_t i = 0; i < x.size(); ++i) {
          CHECK(std::fabs(x[i] - received.tensors[t].values[i]) <= kInt8ErrorInScales * scale);
        }
      }
      CHECK(received.FindTensor("zeros")->values == std::vector<float>(5, 0.0f));
      CHECK(received.FindTensor("one")->values == std::vector<float>{2.5f});
    }
  }

  TEST_CASE("the encoder rejects malformed messages with invalid_argument") {
    Message message;
    SUBCASE("empty name") { message.scalars = {{"", 1.0}}; }
    SUBCASE("name with a space") { message.tensors = {{"a b", {}}}; }
    SUBCASE("name over 64 bytes") { message.tensors = {{std::string(65, 'x'), {}}}; }
    SUBCASE("duplicate names") { message.scalars = {{"a", 1.0}, {"a", 2.0}}; }
    SUBCASE("256 scalars") {
      for (int i = 0; i < 256; ++i) {
        std::string name = std::to_string(i);
        name.push_back('s');
        message.scalars.push_back({name, 0.0});
      }
    }
    SUBCASE("unknown kind") { message.kind = static_cast<MessageKind>(9); }
    SUBCASE("unknown content") { message.content = static_cast<Content>(200); }
    CHECK_THROWS_AS(Encode(message), std::invalid_argument);
  }

  TEST_CASE("int8 refuses non-finite values while float16 and float32 carry them") {
    Message message;
    message.tensors = {{"x", {1.0f, std::numeric_limits<float>::infinity()}}};
    CHECK_THROWS_AS(Encode(message, TensorEncoding::kInt8), std::invalid_argument);
    Message received;
    CHECK(Decode(Encode(message, TensorEncoding::kFloat16), received) == DecodeStatus::kOk);
    CHECK(std::isinf(received.tensors[0].values[1]));
  }

  TEST_CASE("EncodeInto needs a buffer of exactly EncodedSize bytes") {
    Message message;
    std::vector<std::uint8_t> buffer(EncodedSize(message) + 1);
    CHECK_THROWS_AS(EncodeInto(message, TensorEncoding::kFloat32, buffer), std::invalid_argument);
  }

  TEST_CASE("decoding into a used message replaces every field") {
    std::mt19937_64 rng(5);
    Message big = SampleMessage(MessageKind::kModelPush, rng);
    Message small;
    small.kind = MessageKind::kAck;
    small.tensors = {{"z", {1.0f}}};
    Message out;
    REQUIRE(Decode(Encode(big), out, Generous()) == DecodeStatus::kOk);
    REQUIRE(Decode(Encode(small), out) == DecodeStatus::kOk);
    CHECK(out.kind == MessageKind::kAck);
    CHECK(out.scalars.empty());
    REQUIRE(out.tensors.size() == 1);
    CHECK(out.tensors[0].name == "z");
    CHECK(out.tensors[0].values == std::vector<float>{1.0f});
  }

  TEST_CASE("a message truncated at every byte offset is rejected as truncated") {
    std::mt19937_64 rng(6);
    Message message = SampleMessage(MessageKind::kUpdateReport, rng);
    message.tensors.resize(2);
    for (TensorEncoding encoding :
         {TensorEncoding::kFloat32, TensorEncoding::kFloat16, TensorEncoding::kInt8}) {
      const auto bytes = Encode(message, encoding);
      RejectionStats stats;
      Message out;
      for (std::size_t size = 0; size < bytes.size(); ++size) {
        const DecodeStatus status = Decode(std::span(bytes).first(size), out);
        stats.Record(status);
        REQUIRE(status == DecodeStatus::kTruncated);
      }
      CHECK(stats.count(DecodeStatus::kTruncated) == bytes.size());
      CHECK(stats.rejected() == bytes.size());
      CHECK(stats.accepted() == 0);
    }
  }

  TEST_CASE("each header fault is rejected with its own reason and counted") {
    std::mt19937_64 rng(7);
    const Message message = SampleMessage(MessageKind::kEvaluationReport, rng);
    const auto good = Encode(message);
    RejectionStats stats;
    Message out;
    auto decode = [&](const std::vector<std::uint8_t>& bytes, const WireLimits& limits = {}) {
      const DecodeStatus status = Decode(bytes, out, limits);
      stats.Record(status);
      return status;
    };

    auto bytes = good;
    bytes[0] = 'X';
    CHECK(decode(bytes) == DecodeStatus::kBadMagic);

    bytes = good;
    bytes[4] = 2;
    CHECK(decode(bytes) == DecodeStatus::kBadVersion);

    for (const std::uint16_t code : {std::uint16_t{0}, std::uint16_t{9}, std::uint16_t{0xFFFF}}) {
      bytes = good;
      std::memcpy(bytes.data() + 6, &code, 2);
      CHECK(decode(bytes) == DecodeStatus::kUnknownKind);
    }

    WireLimits limits;
    limits.evaluation_report_bytes = static_cast<std::uint32_t>(good.size() - kHeaderBytes - 1);
    CHECK(decode(good, limits) == DecodeStatus::kOversized);
    bytes = good;
    const std::uint32_t huge = 0xFFFFFFFFu;
    std::memcpy(bytes.data() + 24, &huge, 4);
    CHECK(decode(bytes) == DecodeStatus::kOversized);

    bytes = good;
    bytes.push_back(0);
    CHECK(decode(bytes) == DecodeStatus::kTrailingBytes);

    CHECK(decode(good) == DecodeStatus::kOk);
    CHECK(stats.count(DecodeStatus::kBadMagic) == 1);
    CHECK(stats.count(DecodeStatus::kBadVersion) == 1);
    CHECK(stats.count(DecodeStatus::kUnknownKind) == 3);
    CHECK(stats.count(DecodeStatus::kOversized) == 2);
    CHECK(stats.count(DecodeStatus::kTrailingBytes) == 1);
    CHECK(stats.rejected() == 8);
    CHECK(stats.accepted() == 1);
    CHECK(stats.ToString() ==
          "bad_magic=1 bad_version=1 unknown_kind=3 oversized=2 trailing_bytes=1");
    CHECK(RejectionStats().ToString() == "none");
  }

  TEST_CASE("any single bit flip in the checksummed bytes is a bad checksum") {
    std::mt19937_64 rng(8);
    Message message = SampleMessage(MessageKind::kTaskAssignment, rng);
    message.tensors.resize(1);
    const auto good = Encode(message, TensorEncoding::kFloat16);
    RejectionStats stats;
    Message out;
    std::size_t flips = 0;
    // sender, receiver, round and sequence (bytes 8..23), the checksum itself, and the payload
    for (std::size_t byte = 8; byte < good.size(); ++byte) {
      if (byte >= 24 && byte < 28) continue;  // the length field changes the framing instead
      for (int bit = 0; bit < 8; ++bit) {
        auto bytes = good;
        bytes[byte] ^= static_cast<std::uint8_t>(1u << bit);
        const DecodeStatus status = Decode(bytes, out);
        stats.Record(status);
        ++flips;
        REQUIRE(status == DecodeStatus::kBadChecksum);
      }
    }
    CHECK(stats.count(DecodeStatus::kBadChecksum) == flips);
  }

  TEST_CASE("float32 tensors, checksummed as they are copied, still catch every bit flip") {
    // float32 data is checksummed in the same pass that copies it (Crc32Copy); flips before,
    // inside and after two tensors of 300 values (over 256 bytes each, the wide CRC path)
    Message message;
    message.kind = MessageKind::kModelPush;
    message.scalars = {{"a", 1.0}};
    message.tensors = {{"t", std::vector<float>(300, 0.5f)}, {"u", std::vector<float>(300, -2.0f)}};
    message.texts = {{"x", "tail"}};
    const auto good = Encode(message, TensorEncoding::kFloat32);
    Message out;
    REQUIRE(Decode(good, out) == DecodeStatus::kOk);
    CHECK(out.tensors[1].values == message.tensors[1].values);
    for (std::size_t byte = 8; byte < good.size(); byte += (byte < 64 ? 1 : 7)) {
      if (byte >= 24 && byte < 28) continue;  // the length field changes the framing instead
      auto bytes = good;
      bytes[byte] ^= 0x10;
      REQUIRE(Decode(bytes, out) == DecodeStatus::kBadChecksum);
    }
    // corrupt and malformed (the first tensor's count made huge): still a bad checksum
    auto bytes = good;
    const std::size_t count_at = kHeaderBytes + 4 + 10 + 3;  // preamble, scalar "a", "t", encoding
    bytes[count_at + 3] = 0x7F;
    CHECK(Decode(bytes, out) == DecodeStatus::kBadChecksum);
  }

  TEST_CASE("a payload with a valid checksum but a broken structure is a bad payload") {
    Message message;
    message.kind = MessageKind::kUpdateReport;
    message.scalars = {{"a", 1.0}};
    message.tensors = {{"t", {1.0f, 2.0f}}};
    const auto good = Encode(message, TensorEncoding::kInt8);
    // payload: [0] content [1] reserved [2] #scalars [3] #tensors, scalar "a" at [4..14),
    // tensor: [14] name length, [15] 't', [16] encoding, [17..21) count, [21..25) scale, data
    const std::size_t p = kHeaderBytes;
    auto mutate = [&](auto&& change) {
      auto bytes = good;
      change(bytes);
      FixChecksum(bytes);
      Message out;
      return Decode(bytes, out);
    };
    CHECK(mutate([&](auto& b) { b[p + 0] = 9; }) == DecodeStatus::kBadPayload);
    CHECK(mutate([&](auto& b) { b[p + 1] = 1; }) == DecodeStatus::kBadPayload);
    CHECK(mutate([&](auto& b) { b[p + 2] = 2; }) == DecodeStatus::kBadPayload);
    CHECK(mutate([&](auto& b) { b[p + 3] = 0; }) == DecodeStatus::kBadPayload);
    CHECK(mutate([&](auto& b) { b[p + 4] = 0; }) == DecodeStatus::kBadPayload);
    CHECK(mutate([&](auto& b) { b[p + 5] = ' '; }) == DecodeStatus::kBadPayload);
    CHECK(mutate([&](auto& b) { b[p + 15] = 'a' - 1 + 1; }) == DecodeStatus::kOk);
    CHECK(mutate([&](auto& b) { b[p + 16] = 3; }) == DecodeStatus::kBadPayload);
    CHECK(mutate([&](auto& b) { b[p + 17] = 3; }) == DecodeStatus::kBadPayload);
    CHECK(mutate([&](auto& b) { b[p + 20] = 0xFF; }) == DecodeStatus::kBadPayload);
    CHECK(mutate([&](auto& b) { b[p + 24] = 0xFF; }) == DecodeStatus::kBadPayload);   // NaN scale
    CHECK(mutate([&](auto& b) { b[p + 24] |= 0x80; }) == DecodeStatus::kBadPayload);  // negative
    CHECK(mutate([&](auto& b) {
            b.push_back(0);
            const auto length = static_cast<std::uint32_t>(b.size() - kHeaderBytes);
            std::memcpy(b.data() + 24, &length, 4);
          }) == DecodeStatus::kBadPayload);
    Message dup;
    dup.tensors = {{"x", {}}, {"y", {}}};
    auto bytes = Encode(dup);
    bytes[kHeaderBytes + 4 + 7 + 1] = 'x';
    FixChecksum(bytes);
    Message out;
    CHECK(Decode(bytes, out) == DecodeStatus::kBadPayload);
  }

  TEST_CASE("texts round-trip after the tensors and a message without texts keeps its v1 bytes") {
    Message message;
    message.kind = MessageKind::kTaskAssignment;
    message.scalars = {{"a", 1.0}};
    message.texts = {{"env", "nav2d"}, {"empty", ""}, {"bytes", std::string("x\0y", 3)}};
    const auto bytes = Encode(message, TensorEncoding::kInt8);
    CHECK(bytes[kHeaderBytes + 1] == 3);  // the text count, formerly the reserved byte
    Message out;
    REQUIRE(Decode(bytes, out) == DecodeStatus::kOk);
    REQUIRE(out.texts.size() == 3);
    CHECK(out.FindText("env")->value == "nav2d");
    CHECK(out.FindText("empty")->value.empty());
    CHECK(out.FindText("bytes")->value == std::string("x\0y", 3));
    CHECK(out.FindText("none") == nullptr);
    // [4..14) scalar, then "env": [14] name length 3, [15..18) name, [18..20) length 5
    CHECK(bytes[kHeaderBytes + 18] == 5);
    CHECK(bytes[kHeaderBytes + 19] == 0);
    message.texts.clear();
    CHECK(Encode(message)[kHeaderBytes + 1] == 0);

    Message bad = message;
    bad.texts = {{"a", "1"}, {"a", "2"}};
    CHECK_THROWS_AS(Encode(bad), std::invalid_argument);
    bad.texts = {{"long", std::string(70000, 'x')}};
    CHECK_THROWS_AS(Encode(bad), std::invalid_argument);
    // a text length running past the payload is a bad payload
    message.texts = {{"t", "abc"}};
    auto cut = Encode(message);
    cut[cut.size() - 5] = 9;
    FixChecksum(cut);
    CHECK(Decode(cut, out) == DecodeStatus::kBadPayload);
  }

  TEST_CASE("a seeded random-mutation loop never crashes the decoder") {
    // the doctest stand-in for the libFuzzer target (network/fuzz/fuzz_decoder.cc): mutations of
    // valid messages, half of them with the checksum repaired so the payload parser is reached
    std::mt19937_64 rng(9);
    std::vector<std::vector<std::uint8_t>> seeds;
    for (TensorEncoding encoding :
         {TensorEncoding::kFloat32, TensorEncoding::kFloat16, TensorEncoding::kInt8}) {
      Message message = SampleMessage(MessageKind::kUpdateReport, rng);
      message.tensors[0].values.resize(20);
      seeds.push_back(Encode(message, encoding));
    }
    RejectionStats stats;
    Message out;
    constexpr int kIterations = 30000;
    for (int i = 0; i < kIterations; ++i) {
      auto bytes = seeds[rng() % seeds.size()];
      const int edits = 1 + static_cast<int>(rng() % 4);
      for (int e = 0; e < edits; ++e) {
        const std::size_t at = rng() % bytes.size();
        switch (rng() % 5) {
          case 0:
            bytes[at] ^= static_cast<std::uint8_t>(1u << (rng() % 8));
            break;
          case 1:
            bytes[at] = static_cast<std::uint8_t>(rng());
            break;
          case 2:
            bytes.resize(std::max<std::size_t>(at, 1));
            break;
          case 3:
            bytes.insert(bytes.begin() + static_cast<std::ptrdiff_t>(at),
                         static_cast<std::uint8_t>(rng()));
            break;
          default:
            bytes[at] = 0xFF;
            break;
        }
      }
      if (rng() % 2 == 0 && bytes.size() >= kHeaderBytes) {
        const auto length = static_cast<std::uint32_t>(bytes.size() - kHeaderBytes);
        std::memcpy(bytes.data() + 24, &length, 4);
        FixChecksum(bytes);
      }
      stats.Record(Decode(bytes, out));
    }
    MESSAGE("mutation outcomes: ", stats.ToString(), " ok=", stats.accepted());
    CHECK(stats.accepted() + stats.rejected() == kIterations);
    CHECK(stats.count(DecodeStatus::kBadPayload) > 0);
  }
}

}  // namespace
}  // namespace metajoule::network

#include "network/wire_format.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <limits>
#include <stdexcept>

#include "network/crc32.h"

#if defined(__F16C__) && defined(__AVX__)
#define METAJOULE_WIRE_F16C 1
#include <immintrin.h>
#endif

namespace metajoule::network {
namespace {

constexpr std::array<std::pair<std::string_view, MessageKind>, kNumMessageKinds> kKindNames{{
    {"hello", MessageKind::kHello},
    {"task_assignment", MessageKind::kTaskAssignment},
    {"model_push", MessageKind::kModelPush},
    {"update_report", MessageKind::kUpdateReport},
    {"evaluation_report", MessageKind::kEvaluationReport},
    {"heartbeat", MessageKind::kHeartbeat},
    {"leave", MessageKind::kLeave},
    {"ack", MessageKind::kAck},
}};

constexpr std::array<std::pair<std::string_view, Content>, 5> kContentNames{{
    {"none", Content::kNone},
    {"gradient", Content::kGradient},
    {"model", Content::kModel},
    {"delta", Content::kDelta},
    {"data", Content::kData},
}};

constexpr std::array<std::pair<std::string_view, TensorEncoding>, 3> kEncodingNames{{
    {"float32", TensorEncoding::kFloat32},
    {"float16", TensorEncoding::kFloat16},
    {"int8", TensorEncoding::kInt8},
}};

constexpr std::array<std::string_view, kNumDecodeStatuses> kStatusNames{
    "ok",        "truncated",      "bad_magic",    "bad_version", "unknown_kind",
    "oversized", "trailing_bytes", "bad_checksum", "bad_payload", "bad_framing"};

// the byte range of the header the checksum covers (everything before the checksum field)
constexpr std::size_t kChecksummedHeaderBytes = 28;

bool IsKnownContent(std::uint8_t code) { return code <= static_cast<std::uint8_t>(Content::kData); }

bool IsKnownEncoding(std::uint8_t code) {
  return code <= static_cast<std::uint8_t>(TensorEncoding::kInt8);
}

// a name byte is printable ASCII without space
bool IsNameByte(std::uint8_t byte) { return byte >= 0x21 && byte <= 0x7E; }

// little-endian stores and loads of fixed-size integers and floats
template <class T>
void StoreLe(std::uint8_t* out, T value) {
  static_assert(std::is_trivially_copyable_v<T>);
  if constexpr (std::endian::native == std::endian::little) {
    std::memcpy(out, &value, sizeof(T));
  } else {
    std::uint8_t bytes[sizeof(T)];
    std::memcpy(bytes, &value, sizeof(T));
    for (std::size_t i = 0; i < sizeof(T); ++i) out[i] = bytes[sizeof(T) - 1 - i];
  }
}

template <class T>
T LoadLe(const std::uint8_t* in) {
  T value;
  if constexpr (std::endian::native == std::endian::little) {
    std::memcpy(&value, in, sizeof(T));
  } else {
    std::uint8_t bytes[sizeof(T)];
    for (std::size_t i = 0; i < sizeof(T); ++i) bytes[i] = in[sizeof(T) - 1 - i];
    std::memcpy(&value, bytes, sizeof(T));
  }
  return value;
}

// The CRC-32 of a buffer computed while it is written or read: bytes up to `done` are in `crc`.
// Float32 tensor data (on little-endian hosts) goes through Crc32Copy, which checksums it in the
// same pass that copies it; the bytes between such tensors are added with Through.
struct RunningCrc {
  const std::uint8_t* done;
  std::uint32_t crc;
  // adds the bytes [done, to)
  void Through(const std::uint8_t* to) {
    crc = Crc32({done, static_cast<std::size_t>(to - done)}, crc);
    done = to;
  }
  // decoding: adds [done, at), then copies the `bytes` bytes at `at` out to `out`, adding them
  void CopyOut(const std::uint8_t* at, std::size_t bytes, std::uint8_t* out) {
    Through(at);
    crc = Crc32Copy({at, bytes}, out, crc);
    done = at + bytes;
  }
  // encoding: adds [done, at), then copies `bytes` bytes from `from` in at `at`, adding them
  void CopyIn(const std::uint8_t* from, std::size_t bytes, std::uint8_t* at) {
    Through(at);
    crc = Crc32Copy({from, bytes}, at, crc);
    done = at + bytes;
  }
};

// ---- tensor value encodings ----

void EncodeFloat32(std::span<const float> values, std::uint8_t* out) {
  if constexpr (std::endian::native == std::endian::little) {
    if (!values.empty()) std::memcpy(out, values.data(), values.size_bytes());
  } else {
    for (std::size_t i = 0; i < values.size(); ++i) StoreLe(out + 4 * i, values[i]);
  }
}

void DecodeFloat32(const std::uint8_t* in, std::span<float> values) {
  if constexpr (std::endian::native == std::endian::little) {
    if (!values.empty()) std::memcpy(values.data(), in, values.size_bytes());
  } else {
    for (std::size_t i = 0; i < values.size(); ++i) values[i] = LoadLe<float>(in + 4 * i);
  }
}

void EncodeFloat16(std::span<const float> values, std::uint8_t* out) {
  std::size_t i = 0;
#if defined(METAJOULE_WIRE_F16C)
  if constexpr (std::endian::native == std::endian::little) {
    for (; i + 8 <= values.size(); i += 8) {
      const __m128i half =
          _mm256_cvtps_ph(_mm256_loadu_ps(values.data() + i), _MM_FROUND_TO_NEAREST_INT);
      _mm_storeu_si128(reinterpret_cast<__m128i*>(out + 2 * i), half);
    }
  }
#endif
  for (; i < values.size(); ++i) StoreLe(out + 2 * i, internal::FloatToHalf(values[i]));
}

void DecodeFloat16(const std::uint8_t* in, std::span<float> values) {
  std::size_t i = 0;
#if defined(METAJOULE_WIRE_F16C)
  if constexpr (std::endian::native == std::endian::little) {
    for (; i + 8 <= values.size(); i += 8) {
      const __m128i half = _mm_loadu_si128(reinterpret_cast<const __m128i*>(in + 2 * i));
      _mm256_storeu_ps(values.data() + i, _mm256_cvtph_ps(half));
    }
  }
#endif
  for (; i < values.size(); ++i)
    values[i] = internal::HalfToFloat(LoadLe<std::uint16_t>(in + 2 * i));
}

// the int8 scale of a tensor, max|x| / 127 (0 for an all-zero tensor); throws on non-finite input
float Int8Scale(const Tensor& tensor) {
  float max_abs = 0.0f;
  for (const float x : tensor.values) {
    if (!std::isfinite(x)) {
      throw std::invalid_argument("Encode: tensor \"" + tensor.name +
                                  "\" has a non-finite value, which int8 cannot encode");
    }
    max_abs = std::max(max_abs, std::fabs(x));
  }
  return max_abs / 127.0f;
}

void EncodeInt8(std::span<const float> values, float scale, std::uint8_t* out) {
  if (scale == 0.0f) {
    std::memset(out, 0, values.size());
    return;
  }
  for (std::size_t i = 0; i < values.size(); ++i) {
    const float q = std::clamp(std::nearbyint(values[i] / scale), -127.0f, 127.0f);
    out[i] = static_cast<std::uint8_t>(static_cast<std::int8_t>(q));
  }
}

void DecodeInt8(const std::uint8_t* in, float scale, std::span<float> values) {
  for (std::size_t i = 0; i < values.size(); ++i) {
    values[i] = static_cast<float>(static_cast<std::int8_t>(in[i])) * scale;
  }
}

// ---- encoding ----

void CheckName(std::string_view what, const std::string& name) {
  if (name.empty() || name.size() > kMaxNameBytes ||
      !std::all_of(name.begin(), name.end(),
                   [](char c) { return IsNameByte(static_cast<std::uint8_t>(c)); })) {
    throw std::invalid_argument("Encode: " + std::string(what) + " name \"" + name +
                                "\": expected 1 to 64 printable ASCII bytes without spaces");
  }
}

template <class Field>
void CheckFields(std::string_view what, const std::vector<Field>& fields) {
  if (fields.size() > kMaxFields) {
    throw std::invalid_argument("Encode: expected at most 255 " + std::string(what) + "s, got " +
                                std::to_string(fields.size()));
  }
  for (std::size_t i = 0; i < fields.size(); ++i) {
    CheckName(what, fields[i].name);
    for (std::size_t j = 0; j < i; ++j) {
      if (fields[j].name == fields[i].name) {
        throw std::invalid_argument("Encode: duplicate " + std::string(what) + " name \"" +
                                    fields[i].name + "\"");
      }
    }
  }
}

// payload bytes of `message`, checking every format rule but the int8 finiteness
std::uint64_t PayloadBytes(const Message& message, TensorEncoding encoding) {
  if (!IsKnownKind(static_cast<std::uint16_t>(message.kind))) {
    throw std::invalid_argument("Encode: unknown message kind " +
                                std::to_string(static_cast<unsigned>(message.kind)));
  }
  if (!IsKnownContent(static_cast<std::uint8_t>(message.content))) {
    throw std::invalid_argument("Encode: unknown content " +
                                std::to_string(static_cast<unsigned>(message.content)));
  }
  if (!IsKnownEncoding(static_cast<std::uint8_t>(encoding))) {
    throw std::invalid_argument("Encode: unknown tensor encoding " +
                                std::to_string(static_cast<unsigned>(encoding)));
  }
  CheckFields("scalar", message.scalars);
  CheckFields("tensor", message.tensors);
  CheckFields("text", message.texts);
  std::uint64_t bytes = kPreambleBytes;
  for (const Text& text : message.texts) {
    if (text.value.size() > kMaxTextBytes) {
      throw std::invalid_argument("Encode: text \"" + text.name + "\" has " +
                                  std::to_string(text.value.size()) +
                                  " bytes, expected at most 65535");
    }
    bytes += 1 + text.name.size() + 2 + text.value.size();
  }
  for (const Scalar& scalar : message.scalars) bytes += 1 + scalar.name.size() + 8;
  for (const Tensor& tensor : message.tensors) {
    if (tensor.values.size() > std::numeric_limits<std::uint32_t>::max()) {
      throw std::invalid_argument("Encode: tensor \"" + tensor.name +
                                  "\" has more than 2^32-1 values");
    }
    bytes += 1 + tensor.name.size() + 1 + 4 + (encoding == TensorEncoding::kInt8 ? 4 : 0) +
             tensor.values.size() * BytesPerElement(encoding);
  }
  if (bytes > std::numeric_limits<std::uint32_t>::max()) {
    throw std::invalid_argument("Encode: payload of " + std::to_string(bytes) +
                                " bytes, expected at most 2^32-1");
  }
  return bytes;
}

// ---- decoding ----

// a bounds-checked cursor over untrusted bytes; every read fails instead of overrunning
class Reader {
 public:
  explicit Reader(std::span<const std::uint8_t> bytes) : data_(bytes.data()), left_(bytes.size()) {}
  std::size_t left() const { return left_; }
  bool Skip(std::size_t n, const std::uint8_t*& at) {
    if (n > left_) return false;
    at = data_;
    data_ += n;
    left_ -= n;
    return true;
  }
  template <class T>
  bool Read(T& value) {
    const std::uint8_t* at = nullptr;
    if (!Skip(sizeof(T), at)) return false;
    value = LoadLe<T>(at);
    return true;
  }
  bool ReadName(std::string& name) {
    std::uint8_t size = 0;
    const std::uint8_t* at = nullptr;
    if (!Read(size) || size == 0 || size > kMaxNameBytes || !Skip(size, at)) return false;
    if (!std::all_of(at, at + size, IsNameByte)) return false;
    name.assign(reinterpret_cast<const char*>(at), size);
    return true;
  }

 private:
  const std::uint8_t* data_;
  std::size_t left_;
};

template <class Field>
bool HasDuplicateNames(const std::vector<Field>& fields, std::size_t count) {
  for (std::size_t i = 0; i < count; ++i) {
    for (std::size_t j = 0; j < i; ++j) {
      if (fields[j].name == fields[i].name) return true;
    }
  }
  return false;
}

// decodes the payload structure; float32 tensor data is checksummed into `crc` as it is copied
// (the caller checksums the rest and checks the CRC before trusting the result)
DecodeStatus DecodePayload(std::span<const std::uint8_t> payload, Message& out, RunningCrc& crc) {
  Reader reader(payload);
  std::uint8_t content = 0;
  std::uint8_t num_texts = 0;
  std::uint8_t num_scalars = 0;
  std::uint8_t num_tensors = 0;
  if (!reader.Read(content) || !reader.Read(num_texts) || !reader.Read(num_scalars) ||
      !reader.Read(num_tensors) || !IsKnownContent(content)) {
    return DecodeStatus::kBadPayload;
  }
  out.content = static_cast<Content>(content);

  // each scalar takes at least 10 bytes, each tensor at least 7, each text at least 4: bound the
  // counts by what is left before resizing anything
  if (std::size_t{num_scalars} * 10 + std::size_t{num_tensors} * 7 + std::size_t{num_texts} * 4 >
      reader.left()) {
    return DecodeStatus::kBadPayload;
  }
  out.scalars.resize(num_scalars);
  for (Scalar& scalar : out.scalars) {
    if (!reader.ReadName(scalar.name) || !reader.Read(scalar.value)) {
      return DecodeStatus::kBadPayload;
    }
  }
  if (HasDuplicateNames(out.scalars, num_scalars)) return DecodeStatus::kBadPayload;

  out.tensors.resize(num_tensors);
  for (Tensor& tensor : out.tensors) {
    std::uint8_t encoding_code = 0;
    std::uint32_t count = 0;
    if (!reader.ReadName(tensor.name) || !reader.Read(encoding_code) ||
        !IsKnownEncoding(encoding_code) || !reader.Read(count)) {
      return DecodeStatus::kBadPayload;
    }
    const auto encoding = static_cast<TensorEncoding>(encoding_code);
    float scale = 0.0f;
    if (encoding == TensorEncoding::kInt8 &&
        (!reader.Read(scale) || !std::isfinite(scale) || scale < 0.0f)) {
      return DecodeStatus::kBadPayload;
    }
    const std::uint64_t data_bytes = std::uint64_t{count} * BytesPerElement(encoding);
    const std::uint8_t* data = nullptr;
    if (data_bytes > reader.left() || !reader.Skip(static_cast<std::size_t>(data_bytes), data)) {
      return DecodeStatus::kBadPayload;
    }
    tensor.values.resize(count);
    switch (encoding) {
      case TensorEncoding::kFloat32:
        if constexpr (std::endian::native == std::endian::little) {
          // straight from the frame into the tensor, checksummed in the same pass
          if (count > 0) {
            crc.CopyOut(data, static_cast<std::size_t>(data_bytes),
                        reinterpret_cast<std::uint8_t*>(tensor.values.data()));
          }
        } else {
          DecodeFloat32(data, tensor.values);
        }
        break;
      case TensorEncoding::kFloat16:
        DecodeFloat16(data, tensor.values);
        break;
      case TensorEncoding::kInt8:
        DecodeInt8(data, scale, tensor.values);
        break;
    }
  }
  if (HasDuplicateNames(out.tensors, num_tensors)) return DecodeStatus::kBadPayload;

  out.texts.resize(num_texts);
  for (Text& text : out.texts) {
    std::uint16_t size = 0;
    const std::uint8_t* at = nullptr;
    if (!reader.ReadName(text.name) || !reader.Read(size) || !reader.Skip(size, at)) {
      return DecodeStatus::kBadPayload;
    }
    text.value.assign(reinterpret_cast<const char*>(at), size);
  }
  if (HasDuplicateNames(out.texts, num_texts)) return DecodeStatus::kBadPayload;
  if (reader.left() != 0) return DecodeStatus::kBadPayload;
  return DecodeStatus::kOk;
}

}  // namespace

// ---- names ----

std::span<const std::pair<std::string_view, MessageKind>> EnumNames(MessageKind) {
  return kKindNames;
}
std::span<const std::pair<std::string_view, Content>> EnumNames(Content) { return kContentNames; }
std::span<const std::pair<std::string_view, TensorEncoding>> EnumNames(TensorEncoding) {
  return kEncodingNames;
}

std::string_view ToString(MessageKind kind) {
  const auto code = static_cast<std::uint16_t>(kind);
  return IsKnownKind(code) ? kKindNames[code - 1].first : std::string_view("unknown");
}

bool IsKnownKind(std::uint16_t code) { return code >= 1 && code <= kNumMessageKinds; }

std::size_t BytesPerElement(TensorEncoding encoding) {
  switch (encoding) {
    case TensorEncoding::kFloat32:
      return 4;
    case TensorEncoding::kFloat16:
      return 2;
    case TensorEncoding::kInt8:
      return 1;
  }
  return 4;
}

std::string_view ToString(DecodeStatus status) {
  const auto index = static_cast<std::size_t>(status);
  return index < kNumDecodeStatuses ? kStatusNames[index] : std::string_view("unknown");
}

// ---- messages, limits, stats ----

std::optional<double> Message::FindScalar(std::string_view name) const {
  for (const Scalar& scalar : scalars) {
    if (scalar.name == name) return scalar.value;
  }
  return std::nullopt;
}

const Tensor* Message::FindTensor(std::string_view name) const {
  for (const Tensor& tensor : tensors) {
    if (tensor.name == name) return &tensor;
  }
  return nullptr;
}

const Text* Message::FindText(std::string_view name) const {
  for (const Text& text : texts) {
    if (text.name == name) return &text;
  }
  return nullptr;
}

std::uint32_t WireLimits::MaxPayloadBytes(MessageKind kind) const {
  switch (kind) {
    case MessageKind::kHello:
      return hello_bytes;
    case MessageKind::kTaskAssignment:
      return task_assignment_bytes;
    case MessageKind::kModelPush:
      return model_push_bytes;
    case MessageKind::kUpdateReport:
      return update_report_bytes;
    case MessageKind::kEvaluationReport:
      return evaluation_report_bytes;
    case MessageKind::kHeartbeat:
      return heartbeat_bytes;
    case MessageKind::kLeave:
      return leave_bytes;
    case MessageKind::kAck:
      return ack_bytes;
  }
  return 0;
}

std::vector<FieldError> Validate(const WireLimits& limits) {
  std::vector<FieldError> errors;
  auto visitor = [&errors](std::string_view key, const std::uint32_t& value) {
    if (value < kPreambleBytes) {
      errors.push_back({std::string(key), "must be >= " + std::to_string(kPreambleBytes) +
                                              " (the smallest payload), got " +
                                              std::to_string(value)});
    }
  };
  WireLimits copy = limits;
  copy.Visit(visitor);
  return errors;
}

std::uint64_t RejectionStats::rejected() const {
  std::uint64_t total = 0;
  for (std::size_t i = 1; i < kNumDecodeStatuses; ++i) total += counts_[i];
  return total;
}

std::string RejectionStats::ToString() const {
  std::string text;
  for (std::size_t i = 1; i < kNumDecodeStatuses; ++i) {
    if (counts_[i] == 0) continue;
    if (!text.empty()) text += ' ';
    text += std::string(kStatusNames[i]) + "=" + std::to_string(counts_[i]);
  }
  return text.empty() ? "none" : text;
}

// ---- encode ----

std::size_t EncodedSize(const Message& message, TensorEncoding encoding) {
  return kHeaderBytes + static_cast<std::size_t>(PayloadBytes(message, encoding));
}

void EncodeInto(const Message& message, TensorEncoding encoding, std::span<std::uint8_t> out) {
  const std::uint64_t payload_bytes = PayloadBytes(message, encoding);
  if (out.size() != kHeaderBytes + payload_bytes) {
    throw std::invalid_argument("EncodeInto: buffer of " + std::to_string(out.size()) +
                                " bytes, expected " + std::to_string(kHeaderBytes + payload_bytes));
  }
  std::uint8_t* const begin = out.data();

  // header first (the checksum, at [28, 32), last), then the payload: preamble, scalars, tensors,
  // texts, checksummed as they are written
  StoreLe(begin + 0, kWireMagic);
  StoreLe(begin + 4, kWireVersion);
  StoreLe(begin + 6, static_cast<std::uint16_t>(message.kind));
  StoreLe(begin + 8, message.sender);
  StoreLe(begin + 12, message.receiver);
  StoreLe(begin + 16, message.round);
  StoreLe(begin + 20, message.sequence);
  StoreLe(begin + 24, static_cast<std::uint32_t>(payload_bytes));
  RunningCrc crc{begin + kHeaderBytes, Crc32(out.first(kChecksummedHeaderBytes))};
  std::uint8_t* p = begin + kHeaderBytes;
  *p++ = static_cast<std::uint8_t>(message.content);
  *p++ = static_cast<std::uint8_t>(message.texts.size());
  *p++ = static_cast<std::uint8_t>(message.scalars.size());
  *p++ = static_cast<std::uint8_t>(message.tensors.size());
  for (const Scalar& scalar : message.scalars) {
    *p++ = static_cast<std::uint8_t>(scalar.name.size());
    std::memcpy(p, scalar.name.data(), scalar.name.size());
    p += scalar.name.size();
    StoreLe(p, scalar.value);
    p += 8;
  }
  for (const Tensor& tensor : message.tensors) {
    *p++ = static_cast<std::uint8_t>(tensor.name.size());
    std::memcpy(p, tensor.name.data(), tensor.name.size());
    p += tensor.name.size();
    *p++ = static_cast<std::uint8_t>(encoding);
    StoreLe(p, static_cast<std::uint32_t>(tensor.values.size()));
    p += 4;
    switch (encoding) {
      case TensorEncoding::kFloat32:
        if constexpr (std::endian::native == std::endian::little) {
          // the copy and the checksum in one pass
          if (!tensor.values.empty()) {
            crc.CopyIn(reinterpret_cast<const std::uint8_t*>(tensor.values.data()),
                       tensor.values.size() * sizeof(float), p);
          }
        } else {
          EncodeFloat32(tensor.values, p);
        }
        break;
      case TensorEncoding::kFloat16:
        EncodeFloat16(tensor.values, p);
        break;
      case TensorEncoding::kInt8: {
        const float scale = Int8Scale(tensor);
        StoreLe(p, scale);
        p += 4;
        EncodeInt8(tensor.values, scale, p);
        break;
      }
    }
    p += tensor.values.size() * BytesPerElement(encoding);
  }
  for (const Text& text : message.texts) {
    *p++ = static_cast<std::uint8_t>(text.name.size());
    std::memcpy(p, text.name.data(), text.name.size());
    p += text.name.size();
    StoreLe(p, static_cast<std::uint16_t>(text.value.size()));
    p += 2;
    if (!text.value.empty()) std::memcpy(p, text.value.data(), text.value.size());
    p += text.value.size();
  }
  MJL_DEMAND(p == begin + out.size());

  // the checksum covers header bytes [0, 28) and the payload
  crc.Through(p);
  StoreLe(begin + 28, crc.crc);
}

std::vector<std::uint8_t> Encode(const Message& message, TensorEncoding encoding) {
  std::vector<std::uint8_t> bytes(EncodedSize(message, encoding));
  EncodeInto(message, encoding, bytes);
  return bytes;
}

// ---- decode ----

DecodeStatus DecodeHeader(std::span<const std::uint8_t> bytes, Header& header,
                          const WireLimits& limits) {
  if (bytes.size() < kHeaderBytes) return DecodeStatus::kTruncated;
  const std::uint8_t* in = bytes.data();
  header.magic = LoadLe<std::uint32_t>(in + 0);
  header.version = LoadLe<std::uint16_t>(in + 4);
  header.kind = LoadLe<std::uint16_t>(in + 6);
  header.sender = LoadLe<std::uint32_t>(in + 8);
  header.receiver = LoadLe<std::uint32_t>(in + 12);
  header.round = LoadLe<std::uint32_t>(in + 16);
  header.sequence = LoadLe<std::uint32_t>(in + 20);
  header.payload_bytes = LoadLe<std::uint32_t>(in + 24);
  header.checksum = LoadLe<std::uint32_t>(in + 28);
  if (header.magic != kWireMagic) return DecodeStatus::kBadMagic;
  if (header.version != kWireVersion) return DecodeStatus::kBadVersion;
  if (!IsKnownKind(header.kind)) return DecodeStatus::kUnknownKind;
  if (header.payload_bytes > limits.MaxPayloadBytes(static_cast<MessageKind>(header.kind))) {
    return DecodeStatus::kOversized;
  }
  const std::uint64_t total = kHeaderBytes + std::uint64_t{header.payload_bytes};
  if (bytes.size() < total) return DecodeStatus::kTruncated;
  if (bytes.size() > total) return DecodeStatus::kTrailingBytes;
  return DecodeStatus::kOk;
}

DecodeStatus Decode(std::span<const std::uint8_t> bytes, Message& out, const WireLimits& limits) {
  Header header;
  const DecodeStatus status = DecodeHeader(bytes, header, limits);
  if (status != DecodeStatus::kOk) return status;
  const auto payload = bytes.subspan(kHeaderBytes);
  // the payload is read while it is checksummed, but a checksum mismatch still comes first: a
  // payload that is both corrupt and malformed is a bad checksum (docs/wire-format.md, "Decoding")
  RunningCrc crc{payload.data(), Crc32(bytes.first(kChecksummedHeaderBytes))};
  const DecodeStatus payload_status = DecodePayload(payload, out, crc);
  crc.Through(payload.data() + payload.size());
  if (crc.crc != header.checksum) return DecodeStatus::kBadChecksum;
  if (payload_status != DecodeStatus::kOk) return payload_status;
  out.kind = static_cast<MessageKind>(header.kind);
  out.sender = header.sender;
  out.receiver = header.receiver;
  out.round = header.round;
  out.sequence = header.sequence;
  return DecodeStatus::kOk;
}

// ---- float16 ----

namespace internal {

std::uint16_t FloatToHalf(float value) {
  const auto bits = std::bit_cast<std::uint32_t>(value);
  const auto sign = static_cast<std::uint16_t>((bits >> 16) & 0x8000u);
  const std::uint32_t abs = bits & 0x7FFFFFFFu;
  if (abs >= 0x7F800000u) {
    // inf stays inf; NaN stays a (quiet) NaN with the top payload bits
    const std::uint32_t nan_bits = abs > 0x7F800000u ? (0x200u | ((abs >> 13) & 0x3FFu)) : 0u;
    return static_cast<std::uint16_t>(sign | 0x7C00u | nan_bits);
  }
  // 65520 is halfway between 65504 (the largest half) and 65536; ties to even round up to inf
  if (abs >= 0x477FF000u) return static_cast<std::uint16_t>(sign | 0x7C00u);
  if (abs >= 0x38800000u) {
    // normal half: rebias the exponent and round the mantissa from 23 to 10 bits
    const std::uint32_t exponent = (abs >> 23) - 127 + 15;
    std::uint32_t half = (exponent << 10) | ((abs & 0x7FFFFFu) >> 13);
    const std::uint32_t rest = abs & 0x1FFFu;
    if (rest > 0x1000u || (rest == 0x1000u && (half & 1u))) ++half;
    return static_cast<std::uint16_t>(sign | half);
  }
  // subnormal half, m * 2^-24; 2^-25 and below round to zero
  if (abs <= 0x33000000u) return sign;
  const std::uint32_t mantissa = (abs & 0x7FFFFFu) | 0x800000u;
  const std::uint32_t shift = 126 - (abs >> 23);
  std::uint32_t half = mantissa >> shift;
  const std::uint32_t rest = mantissa & ((1u << shift) - 1u);
  const std::uint32_t halfway = 1u << (shift - 1);
  if (rest > halfway || (rest == halfway && (half & 1u))) ++half;
  return static_cast<std::uint16_t>(sign | half);
}

float HalfToFloat(std::uint16_t half) {
  const std::uint32_t sign = static_cast<std::uint32_t>(half & 0x8000u) << 16;
  const std::uint32_t exponent = (half >> 10) & 0x1Fu;
  const std::uint32_t mantissa = half & 0x3FFu;
  if (exponent == 0) {
    // zero or subnormal: mantissa * 2^-24 is exact in float
    const float magnitude = static_cast<float>(mantissa) * 5.9604644775390625e-8f;
    return sign ? -magnitude : magnitude;
  }
  if (exponent == 31) return std::bit_cast<float>(sign | 0x7F800000u | (mantissa << 13));
  return std::bit_cast<float>(sign | ((exponent + 112) << 23) | (mantissa << 13));
}

}  // namespace internal
}  // namespace metajoule::network

#pragma once
// The metajoule wire format (docs/wire-format.md): a 32-byte little-endian header (magic,
// version, kind, sender, receiver, round, sequence, payload length, CRC-32) followed by a payload
// of named float64 scalars and named flat float tensors, each tensor sent as float32, float16 or
// int8 with a per-tensor scale. The network module moves these typed messages and knows nothing
// about what the tensors mean.
//
// Encoding a malformed Message is a caller bug and throws std::invalid_argument. Decoding
// untrusted bytes never throws (other than std::bad_alloc) and never reads out of bounds: it
// returns a DecodeStatus, which a node counts in its RejectionStats.

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/error.h"

namespace metajoule::network {

/// Identifies a node (server, cluster head or agent) in headers, topologies and transfer records.
using NodeId = std::uint32_t;

/// The receiver of a message addressed to every node (a broadcast) or to whoever answers.
inline constexpr NodeId kAnyNode = 0xFFFFFFFFu;

/// The four bytes "MJLW" read as a little-endian uint32.
inline constexpr std::uint32_t kWireMagic = 0x574C4A4Du;
/// The only version this build reads and writes.
inline constexpr std::uint16_t kWireVersion = 1;
/// Bytes in the fixed header that precedes every payload.
inline constexpr std::size_t kHeaderBytes = 32;
/// Bytes in the fixed payload preamble (content, text count, scalar count, tensor count).
inline constexpr std::size_t kPreambleBytes = 4;
/// Longest scalar or tensor name, in bytes.
inline constexpr std::size_t kMaxNameBytes = 64;
/// Most scalars, tensors or texts in one message (their counts are one byte each).
inline constexpr std::size_t kMaxFields = 255;
/// Longest text value, in bytes (its length is a uint16 on the wire).
inline constexpr std::size_t kMaxTextBytes = 65535;

/// What a message is for. Values are the wire codes; 0 and codes above kAck are unknown kinds.
enum class MessageKind : std::uint16_t {
  kHello = 1,             ///< a node joins (or rejoins) and introduces itself
  kTaskAssignment = 2,    ///< the server assigns a task (parameters as scalars/tensors)
  kModelPush = 3,         ///< a model (theta) sent down to a node
  kUpdateReport = 4,      ///< a gradient, model or delta sent up (see Content)
  kEvaluationReport = 5,  ///< evaluation figures of a node
  kHeartbeat = 6,         ///< liveness only
  kLeave = 7,             ///< a node leaves cleanly
  kAck = 8,               ///< generic reply to any of the above
};
inline constexpr std::size_t kNumMessageKinds = 8;

/// All kinds, in wire-code order, with their snake_case names (for configs and logs).
std::span<const std::pair<std::string_view, MessageKind>> EnumNames(MessageKind);
std::string_view ToString(MessageKind kind);
/// True when `code` is the wire code of a known MessageKind.
bool IsKnownKind(std::uint16_t code);

/// What the tensors of a message hold; a tag for the receiver, not interpreted by the network.
enum class Content : std::uint8_t {
  kNone = 0,
  kGradient = 1,  ///< a (meta-)gradient
  kModel = 2,     ///< full parameters
  kDelta = 3,     ///< parameters minus the parameters that were pushed
  kData = 4,      ///< raw data (e.g. trajectories uplinked to a central learner)
};
std::span<const std::pair<std::string_view, Content>> EnumNames(Content);

/// How the values of a tensor travel. float16 is IEEE binary16 rounded to nearest even (values
/// beyond +-65504 become +-inf); int8 stores round(x / s) in [-127, 127] with one float32 scale
/// s = max|x| / 127 per tensor. Error bounds are in docs/wire-format.md.
enum class TensorEncoding : std::uint8_t {
  kFloat32 = 0,
  kFloat16 = 1,
  kInt8 = 2,
};
std::span<const std::pair<std::string_view, TensorEncoding>> EnumNames(TensorEncoding);
/// Bytes per element of `encoding` (4, 2 or 1).
std::size_t BytesPerElement(TensorEncoding encoding);

/// A named float64 value (counts, returns, losses, task parameters). Integers up to 2^53 are exact.
struct Scalar {
  std::string name;
  double value{0.0};
};

/// A named flat float tensor (flattened parameters, gradients, observations).
struct Tensor {
  std::string name;
  std::vector<float> values;
};

/// A named string (a task name, an environment id, a refusal reason). The value is opaque bytes,
/// conventionally UTF-8, at most kMaxTextBytes long; it is never quantised.
struct Text {
  std::string name;
  std::string value;
};

/// The fixed header, as it is on the wire (docs/wire-format.md, "Header").
struct Header {
  std::uint32_t magic{kWireMagic};
  std::uint16_t version{kWireVersion};
  std::uint16_t kind{0};  ///< a MessageKind wire code, unchecked here
  NodeId sender{0};
  NodeId receiver{kAnyNode};
  std::uint32_t round{0};
  std::uint32_t sequence{0};
  std::uint32_t payload_bytes{0};
  std::uint32_t checksum{0};  ///< CRC-32 of header bytes [0, 28) followed by the payload
};

/// A typed message: header fields plus named scalars and tensors.
struct Message {
  MessageKind kind{MessageKind::kHeartbeat};
  Content content{Content::kNone};
  NodeId sender{0};
  NodeId receiver{kAnyNode};
  std::uint32_t round{0};     ///< training round (meta-iteration) this message belongs to
  std::uint32_t sequence{0};  ///< chosen by the sender; a reply repeats the request's sequence
  std::vector<Scalar> scalars;
  std::vector<Tensor> tensors;
  std::vector<Text> texts;  ///< sent after the tensors; no texts = the original v1 payload

  /// The scalar called `name`, if any.
  std::optional<double> FindScalar(std::string_view name) const;
  /// The tensor called `name`, or nullptr.
  const Tensor* FindTensor(std::string_view name) const;
  /// The text called `name`, or nullptr.
  const Text* FindText(std::string_view name) const;
};

/// Largest payload accepted per message kind, in bytes; a header announcing more is rejected
/// (kOversized) before any payload is read. Config table: [network.channel.limits].
struct WireLimits {
  std::uint32_t hello_bytes{64u << 10};
  std::uint32_t task_assignment_bytes{1u << 20};
  std::uint32_t model_push_bytes{512u << 20};
  std::uint32_t update_report_bytes{512u << 20};
  std::uint32_t evaluation_report_bytes{1u << 20};
  std::uint32_t heartbeat_bytes{1u << 10};
  std::uint32_t leave_bytes{1u << 10};
  std::uint32_t ack_bytes{64u << 10};

  /// The limit of `kind`.
  std::uint32_t MaxPayloadBytes(MessageKind kind) const;

  template <class V>
  void Visit(V& v) {
    v("hello_bytes", hello_bytes);
    v("task_assignment_bytes", task_assignment_bytes);
    v("model_push_bytes", model_push_bytes);
    v("update_report_bytes", update_report_bytes);
    v("evaluation_report_bytes", evaluation_report_bytes);
    v("heartbeat_bytes", heartbeat_bytes);
    v("leave_bytes", leave_bytes);
    v("ack_bytes", ack_bytes);
  }
};
/// Every limit must be at least kPreambleBytes (the smallest payload).
std::vector<FieldError> Validate(const WireLimits& limits);

/// Why a message was accepted or rejected. The decoder returns these in the order of its checks
/// (docs/wire-format.md, "Decoding"); kBadFraming is recorded by the transport, not the decoder.
enum class DecodeStatus : std::uint8_t {
  kOk = 0,
  kTruncated,      ///< fewer bytes than the header, or than the header announces
  kBadMagic,       ///< the first four bytes are not "MJLW"
  kBadVersion,     ///< a version this build does not read
  kUnknownKind,    ///< a kind code that is not a MessageKind
  kOversized,      ///< payload length above the WireLimits of its kind
  kTrailingBytes,  ///< more bytes than the header announces
  kBadChecksum,    ///< CRC-32 mismatch
  kBadPayload,     ///< checksum fine but the payload structure is invalid
  kBadFraming,     ///< transport level: not exactly one message frame
};
inline constexpr std::size_t kNumDecodeStatuses = 10;
std::string_view ToString(DecodeStatus status);

/// Counts of decoded messages per DecodeStatus, so a node can report how many malformed messages
/// it rejected and why. Not thread-safe: one per receiving socket.
class RejectionStats {
 public:
  /// Counts one message with outcome `status`.
  void Record(DecodeStatus status) { ++counts_[static_cast<std::size_t>(status)]; }
  /// Messages with outcome `status`.
  std::uint64_t count(DecodeStatus status) const {
    return counts_[static_cast<std::size_t>(status)];
  }
  /// Messages accepted (kOk).
  std::uint64_t accepted() const { return count(DecodeStatus::kOk); }
  /// Messages rejected for any reason.
  std::uint64_t rejected() const;
  /// "truncated=2 bad_checksum=1" (nonzero rejection reasons only; "none" when there are none).
  std::string ToString() const;

 private:
  std::array<std::uint64_t, kNumDecodeStatuses> counts_{};
};

/// Total encoded size in bytes (header + payload) of `message` with tensors sent as `encoding`.
/// @throws std::invalid_argument if the message breaks a format rule (see EncodeInto).
std::size_t EncodedSize(const Message& message, TensorEncoding encoding = TensorEncoding::kFloat32);

/// Encodes `message` into `out`, which must be exactly EncodedSize(message, encoding) bytes
/// (e.g. the buffer of a zmq::message_t, so that sending copies nothing more).
/// @throws std::invalid_argument if `out` has the wrong size, or the message has an unknown kind
/// or content, an empty, non-printable-ASCII, duplicate or over-64-byte name, more than 255
/// scalars, tensors or texts, a text value over 65535 bytes, a payload above 4 GiB, or (int8) a non-finite tensor value.
void EncodeInto(const Message& message, TensorEncoding encoding, std::span<std::uint8_t> out);

/// Encodes `message` into a new buffer. Same rules as EncodeInto.
std::vector<std::uint8_t> Encode(const Message& message,
                                 TensorEncoding encoding = TensorEncoding::kFloat32);

/// Reads and checks the fixed header only (magic, version, kind, length against `limits`,
/// announced length against bytes.size()); does not verify the checksum.
DecodeStatus DecodeHeader(std::span<const std::uint8_t> bytes, Header& header,
                          const WireLimits& limits = {});

/// Decodes untrusted `bytes` into `out`, reusing the capacity of its vectors and strings. On any
/// status but kOk, `out` holds unspecified (but valid) contents. Never throws except
/// std::bad_alloc; every allocation is bounded by the limits and the input size.
DecodeStatus Decode(std::span<const std::uint8_t> bytes, Message& out,
                    const WireLimits& limits = {});

namespace internal {

/// IEEE binary16 conversion, rounding to nearest even; overflow gives +-inf, NaN stays NaN.
std::uint16_t FloatToHalf(float value);
/// Exact binary16 to float conversion.
float HalfToFloat(std::uint16_t half);

}  // namespace internal
}  // namespace metajoule::network

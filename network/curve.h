#pragma once
// ZeroMQ CURVE security for channels (docs/protocol.md, "Security"): key pairs, key files, and
// the server-side authorisation of client public keys through a ZAP handler (ZeroMQ RFC 27).
//
// A CURVE server encrypts every connection and refuses any client whose public key is not in
// its authorised list; a plaintext (NULL mechanism) client cannot connect to a CURVE server at
// all. Refusals are counted per server (SecurityStats). Keys are Z85 text, 40 characters each
// (ZeroMQ RFC 32), in files of this form (a subset of CZMQ's zcert format, which it can read):
//
//   # metajoule CURVE secret key: keep private (mode 0600)
//   curve
//       public-key = "Yne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{hID"
//       secret-key = "D:)Q[IlAW!ahhC2ac:9*A}h:p?([4%wOTJ%JR%cs"
//
// A public key file holds public-key only. A file holding a secret-key must not be readable by
// group or others; reading one that is is refused with a ConfigError naming the file.

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"

namespace zmq {
class context_t;
}

namespace metajoule::network {

/// True when this libzmq was built with CURVE (zmq_has("curve")).
bool CurveAvailable();

/// A CURVE key pair as Z85 text (40 characters each). secret_key may be empty for a peer's key.
struct CurveKeyPair {
  std::string public_key;
  std::string secret_key;
};

/// True when `key` is 40 Z85 characters that decode to 32 bytes.
bool IsZ85Key(std::string_view key);

/// A fresh key pair (zmq_curve_keypair).
/// @throws std::runtime_error when CURVE is not available.
CurveKeyPair GenerateCurveKeyPair();

/// The public key of a Z85 secret key (zmq_curve_public).
/// @throws std::invalid_argument when `secret_key` is not a Z85 key.
std::string CurvePublicKey(const std::string& secret_key);

/// Writes `path` (public key only, mode 0644) and, when keys.secret_key is set,
/// `path + "_secret"` (public and secret key, mode 0600, created so and chmod-ed if it existed).
/// @throws std::invalid_argument for keys that are not Z85; std::runtime_error naming the file
/// when it cannot be written.
void WriteCurveKeyFiles(const std::string& path, const CurveKeyPair& keys);

/// Reads a key file. With `need_secret`, the file must hold a secret-key. A file that holds a
/// secret-key must have no group/other permission bits, and its public-key (when present) must
/// match the secret key.
/// @throws ConfigError "path:line: key: message" for a missing or unreadable file, a syntax
/// error, a malformed or missing key, or a secret file readable by group or others.
CurveKeyPair ReadCurveKeyFile(const std::string& path, bool need_secret);

/// The authorised client public keys at `path`: a directory (every regular file in it whose
/// name neither starts with '.' nor ends with "_secret" is a public key file, read in name order)
/// or a single key file.
/// @throws ConfigError as ReadCurveKeyFile.
std::vector<std::string> ReadAuthorizedKeys(const std::string& path);

/// How a socket authenticates: in the clear (the default) or with CURVE.
enum class Mechanism : std::uint8_t { kNull, kCurve };

/// Server-side security of a ChannelServer.
struct ServerSecurity {
  Mechanism mechanism{Mechanism::kNull};
  /// The server's key pair (secret key required with CURVE).
  CurveKeyPair keys{};
  /// Z85 public keys of the clients allowed in. Empty (and allow_any_client false): nobody.
  std::vector<std::string> authorized_keys{};
  /// Accept any client key (encryption without authorisation); off by default.
  bool allow_any_client{false};
};

/// Client-side security of a ChannelClient.
struct ClientSecurity {
  Mechanism mechanism{Mechanism::kNull};
  /// The client's own key pair (both keys required with CURVE).
  CurveKeyPair keys{};
  /// The server's Z85 public key.
  std::string server_public_key{};
};

/// Checks the keys a mechanism needs. @throws std::invalid_argument naming the bad field.
void CheckSecurity(const ServerSecurity& security);
void CheckSecurity(const ClientSecurity& security);

/// One refused connection attempt, as the server's ZAP handler saw it.
struct Refusal {
  std::string address;     ///< the peer's IP address
  std::string public_key;  ///< the client key offered (Z85); empty when none
  std::string reason;      ///< "unknown key", "unsupported mechanism ..."
};

/// What a server's authorisation has done so far.
struct SecurityStats {
  std::uint64_t authorized{0};  ///< ZAP requests accepted
  std::uint64_t refused{0};     ///< ZAP requests refused (unknown client keys)
  /// Handshakes that failed before authorisation, as the socket monitor reports them (e.g. a
  /// plaintext client to a CURVE server, a client with the wrong server key).
  std::uint64_t handshake_failures{0};
  /// The most recent refusals, oldest first (at most kMaxRefusalLog).
  std::vector<Refusal> recent_refusals{};
};
inline constexpr std::size_t kMaxRefusalLog = 32;

namespace internal {

/// The ZAP handler of one zmq context: a REP socket bound to inproc://zeromq.zap.01, served by
/// its own thread, answering for every CURVE server of that context (one ZAP domain each).
/// Shared (std::shared_ptr) by the servers of a context because ZeroMQ allows exactly one ZAP
/// endpoint per context; it stops with the last of them.
class ZapHandler;

/// The handler of `context`, started if needed. @throws zmq::error_t if binding fails.
std::shared_ptr<ZapHandler> ZapHandlerFor(zmq::context_t& context);
/// Registers a ZAP domain admitting `authorized_keys` (Z85); returns the domain name.
std::string RegisterDomain(ZapHandler& handler, const std::vector<std::string>& authorized_keys,
                           bool allow_any);
void UnregisterDomain(ZapHandler& handler, const std::string& domain);
/// Counters of `domain` (handshake_failures left 0).
SecurityStats DomainStats(ZapHandler& handler, const std::string& domain);

}  // namespace internal
}  // namespace metajoule::network

#include "network/curve.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <stdexcept>
#include <thread>
#include <zmq.hpp>

namespace metajoule::network {
namespace {

constexpr std::size_t kZ85KeyChars = 40;
constexpr std::size_t kBinaryKeyBytes = 32;
constexpr const char* kZapEndpoint = "inproc://zeromq.zap.01";

using BinaryKey = std::array<std::uint8_t, kBinaryKeyBytes>;

bool DecodeZ85(std::string_view z85, BinaryKey& out) {
  if (z85.size() != kZ85KeyChars) return false;
  const std::string text(z85);  // zmq_z85_decode needs a terminated string
  return zmq_z85_decode(out.data(), text.c_str()) != nullptr;
}

std::string EncodeZ85(const std::uint8_t* key) {
  std::array<char, kZ85KeyChars + 1> text{};
  if (zmq_z85_encode(text.data(), key, kBinaryKeyBytes) == nullptr) return {};
  return std::string(text.data(), kZ85KeyChars);
}

[[noreturn]] void FileError(const std::string& path, std::uint32_t line, const std::string& key,
                            const std::string& message) {
  throw ConfigError(SourceLocation{path, line, 0}, key, message);
}

std::string Trim(std::string_view text) {
  const auto begin = text.find_first_not_of(" \t\r");
  if (begin == std::string_view::npos) return {};
  const auto end = text.find_last_not_of(" \t\r");
  return std::string(text.substr(begin, end - begin + 1));
}

// writes `text` to `path` with `mode`, replacing any earlier file and forcing the mode
void WriteFileWithMode(const std::string& path, const std::string& text, mode_t mode) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) {
    throw std::runtime_error(path + ": cannot write key file: " + std::strerror(errno));
  }
  bool ok = ::fchmod(fd, mode) == 0;
  std::size_t written = 0;
  while (ok && written < text.size()) {
    const ssize_t n = ::write(fd, text.data() + written, text.size() - written);
    if (n < 0 && errno == EINTR) continue;
    ok = n > 0;
    if (ok) written += static_cast<std::size_t>(n);
  }
  const int saved_errno = errno;
  ok = (::close(fd) == 0) && ok;
  if (!ok) {
    throw std::runtime_error(path + ": cannot write key file: " + std::strerror(saved_errno));
  }
}

}  // namespace

bool CurveAvailable() { return zmq_has("curve") == 1; }

bool IsZ85Key(std::string_view key) {
  BinaryKey binary{};
  return DecodeZ85(key, binary);
}

CurveKeyPair GenerateCurveKeyPair() {
  if (!CurveAvailable()) {
    throw std::runtime_error("GenerateCurveKeyPair: this libzmq was built without CURVE");
  }
  std::array<char, kZ85KeyChars + 1> public_key{};
  std::array<char, kZ85KeyChars + 1> secret_key{};
  if (zmq_curve_keypair(public_key.data(), secret_key.data()) != 0) {
    throw std::runtime_error(std::string("zmq_curve_keypair failed: ") + zmq_strerror(zmq_errno()));
  }
  return {std::string(public_key.data(), kZ85KeyChars),
          std::string(secret_key.data(), kZ85KeyChars)};
}

std::string CurvePublicKey(const std::string& secret_key) {
  if (!IsZ85Key(secret_key)) {
    throw std::invalid_argument("CurvePublicKey: expected a 40-character Z85 secret key, got " +
                                std::to_string(secret_key.size()) + " characters");
  }
  std::array<char, kZ85KeyChars + 1> public_key{};
  if (zmq_curve_public(public_key.data(), secret_key.c_str()) != 0) {
    throw std::runtime_error(std::string("zmq_curve_public failed: ") + zmq_strerror(zmq_errno()));
  }
  return std::string(public_key.data(), kZ85KeyChars);
}

void WriteCurveKeyFiles(const std::string& path, const CurveKeyPair& keys) {
  if (!IsZ85Key(keys.public_key)) {
    throw std::invalid_argument("WriteCurveKeyFiles: public_key is not a 40-character Z85 key");
  }
  if (!keys.secret_key.empty() && !IsZ85Key(keys.secret_key)) {
    throw std::invalid_argument("WriteCurveKeyFiles: secret_key is not a 40-character Z85 key");
  }
  WriteFileWithMode(path,
                    "# metajoule CURVE public key (docs/protocol.md, \"Keys\")\n"
                    "curve\n"
                    "    public-key = \"" +
                        keys.public_key + "\"\n",
                    0644);
  if (keys.secret_key.empty()) return;
  WriteFileWithMode(path + "_secret",
                    "# metajoule CURVE secret key: keep private (mode 0600)\n"
                    "curve\n"
                    "    public-key = \"" +
                        keys.public_key +
                        "\"\n"
                        "    secret-key = \"" +
                        keys.secret_key + "\"\n",
                    0600);
}

CurveKeyPair ReadCurveKeyFile(const std::string& path, bool need_secret) {
  std::ifstream in(path);
  if (!in) FileError(path, 0, "", std::string("cannot open key file: ") + std::strerror(errno));

  // lines: blank, "# comment", a section name ("curve", "metadata"), or name = "value"
  CurveKeyPair keys;
  std::uint32_t public_line = 0;
  std::uint32_t secret_line = 0;
  std::string section;
  std::string raw;
  std::uint32_t line = 0;
  while (std::getline(in, raw)) {
    ++line;
    const std::string text = Trim(raw);
    if (text.empty() || text[0] == '#') continue;
    const auto equals = text.find('=');
    if (equals == std::string::npos) {
      if (text != "curve" && text != "metadata") {
        FileError(path, line, text, "unknown section; expected curve or metadata");
      }
      section = text;
      continue;
    }
    const std::string name = Trim(std::string_view(text).substr(0, equals));
    std::string value = Trim(std::string_view(text).substr(equals + 1));
    if (value.size() >= 2 && value.front() == '"' && value.back() == '"') {
      value = value.substr(1, value.size() - 2);
    }
    if (section == "metadata") continue;
    if (section != "curve") FileError(path, line, name, "expected inside the curve section");
    if (name != "public-key" && name != "secret-key") {
      FileError(path, line, name, "unknown key; expected public-key or secret-key");
    }
    if (!IsZ85Key(value)) {
      FileError(path, line, name,
                "expected a 40-character Z85 key, got " + std::to_string(value.size()) +
                    " characters" + (value.size() == kZ85KeyChars ? " that are not Z85" : ""));
    }
    (name == "public-key" ? keys.public_key : keys.secret_key) = value;
    (name == "public-key" ? public_line : secret_line) = line;
  }
  if (in.bad()) FileError(path, 0, "", "cannot read key file");

  if (!keys.secret_key.empty()) {
    // a secret must not be readable by anyone but its owner
    struct stat info {};
    if (::stat(path.c_str(), &info) != 0) {
      FileError(path, 0, "", std::string("cannot stat key file: ") + std::strerror(errno));
    }
    if ((info.st_mode & 077) != 0) {
      char mode[8];
      std::snprintf(mode, sizeof(mode), "%04o", static_cast<unsigned>(info.st_mode & 07777));
      FileError(path, 0, "secret-key",
                std::string("secret key file is readable by group or others (mode ") + mode +
                    "); run chmod 600 " + path);
    }
    const std::string derived = CurvePublicKey(keys.secret_key);
    if (keys.public_key.empty()) {
      keys.public_key = derived;
    } else if (keys.public_key != derived) {
      FileError(path, public_line, "public-key", "does not match the secret-key of line " +
                                                     std::to_string(secret_line));
    }
  }
  if (need_secret && keys.secret_key.empty()) {
    FileError(path, 0, "secret-key", "missing; this must be a secret key file");
  }
  if (keys.public_key.empty()) FileError(path, 0, "public-key", "missing");
  return keys;
}

std::vector<std::string> ReadAuthorizedKeys(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code error;
  if (!fs::is_directory(path, error)) return {ReadCurveKeyFile(path, false).public_key};
  std::vector<std::string> files;
  for (const auto& entry : fs::directory_iterator(path, error)) {
    const std::string name = entry.path().filename().string();
    if (!entry.is_regular_file() || name.starts_with('.') || name.ends_with("_secret")) continue;
    files.push_back(entry.path().string());
  }
  if (error) FileError(path, 0, "", "cannot list authorised keys: " + error.message());
  std::sort(files.begin(), files.end());
  std::vector<std::string> keys;
  for (const std::string& file : files) keys.push_back(ReadCurveKeyFile(file, false).public_key);
  return keys;
}

void CheckSecurity(const ServerSecurity& security) {
  if (security.mechanism == Mechanism::kNull) return;
  if (!CurveAvailable()) throw std::invalid_argument("ServerSecurity: CURVE is not available");
  if (!IsZ85Key(security.keys.secret_key)) {
    throw std::invalid_argument("ServerSecurity: keys.secret_key: expected a Z85 key");
  }
  for (std::size_t i = 0; i < security.authorized_keys.size(); ++i) {
    if (!IsZ85Key(security.authorized_keys[i])) {
      throw std::invalid_argument("ServerSecurity: authorized_keys[" + std::to_string(i) +
                                  "]: expected a Z85 key");
    }
  }
}

void CheckSecurity(const ClientSecurity& security) {
  if (security.mechanism == Mechanism::kNull) return;
  if (!CurveAvailable()) throw std::invalid_argument("ClientSecurity: CURVE is not available");
  if (!IsZ85Key(security.keys.public_key) || !IsZ85Key(security.keys.secret_key)) {
    throw std::invalid_argument("ClientSecurity: keys: expected Z85 public and secret keys");
  }
  if (!IsZ85Key(security.server_public_key)) {
    throw std::invalid_argument("ClientSecurity: server_public_key: expected a Z85 key");
  }
}

// ---- ZAP handler ----

namespace internal {

class ZapHandler {
 public:
  explicit ZapHandler(zmq::context_t& context)
      : zap_(context, zmq::socket_type::rep),
        stop_receiver_(context, zmq::socket_type::pair),
        stop_sender_(context, zmq::socket_type::pair) {
    // bound before any server socket is, so that no connection is ever admitted unchecked
    zap_.set(zmq::sockopt::linger, 1000);
    zap_.bind(kZapEndpoint);
    const std::string stop_endpoint =
        "inproc://metajoule-zap-stop-" + std::to_string(reinterpret_cast<std::uintptr_t>(this));
    stop_receiver_.bind(stop_endpoint);
    stop_sender_.set(zmq::sockopt::linger, 0);
    stop_sender_.connect(stop_endpoint);
    thread_ = std::thread([this] { Serve(); });
  }
  ZapHandler(const ZapHandler&) = delete;
  ZapHandler& operator=(const ZapHandler&) = delete;
  ~ZapHandler() {
    stop_sender_.send(zmq::str_buffer("stop"), zmq::send_flags::none);
    thread_.join();
  }

  std::string Register(const std::vector<std::string>& authorized_keys, bool allow_any) {
    Domain domain;
    domain.allow_any = allow_any;
    for (const std::string& key : authorized_keys) {
      BinaryKey binary{};
      if (DecodeZ85(key, binary)) domain.keys.insert(binary);
    }
    const std::lock_guard lock(mutex_);
    std::string name = "metajoule-" + std::to_string(next_domain_++);
    domains_.emplace(name, std::move(domain));
    return name;
  }

  void Unregister(const std::string& name) {
    const std::lock_guard lock(mutex_);
    domains_.erase(name);
  }

  SecurityStats Stats(const std::string& name) {
    const std::lock_guard lock(mutex_);
    const auto found = domains_.find(name);
    if (found == domains_.end()) return {};
    SecurityStats stats = found->second.stats;
    stats.recent_refusals.assign(found->second.refusals.begin(), found->second.refusals.end());
    return stats;
  }

 private:
  struct Domain {
    std::set<BinaryKey> keys;
    bool allow_any{false};
    SecurityStats stats;
    std::deque<Refusal> refusals;
  };

  // answers ZAP requests (RFC 27) until told to stop
  void Serve() {
    std::array<zmq::pollitem_t, 2> items{{{zap_.handle(), 0, ZMQ_POLLIN, 0},
                                          {stop_receiver_.handle(), 0, ZMQ_POLLIN, 0}}};
    for (;;) {
      zmq::poll(items.data(), items.size(), std::chrono::milliseconds(-1));
      if ((items[1].revents & ZMQ_POLLIN) != 0) {
        // unbinding an inproc endpoint is immediate, so a new handler can bind it at once
        zap_.unbind(kZapEndpoint);
        return;
      }
      if ((items[0].revents & ZMQ_POLLIN) != 0) Answer();
    }
  }

  void Answer() {
    // request: version, request id, domain, address, routing id, mechanism, credentials...
    std::vector<zmq::message_t> frames;
    for (;;) {
      zmq::message_t frame;
      if (!zap_.recv(frame, zmq::recv_flags::none)) return;
      const bool more = frame.more();
      frames.push_back(std::move(frame));
      if (!more) break;
    }
    std::string status = "400";
    std::string status_text = "malformed ZAP request";
    std::string user_id;
    if (frames.size() >= 6 && frames[0].to_string_view() == "1.0") {
      const std::string domain_name(frames[2].to_string_view());
      const std::string address(frames[3].to_string_view());
      const std::string mechanism(frames[5].to_string_view());
      const std::lock_guard lock(mutex_);
      const auto domain = domains_.find(domain_name);
      Refusal refusal{address, {}, {}};
      if (domain == domains_.end()) {
        status_text = refusal.reason = "unknown ZAP domain " + domain_name;
      } else if (mechanism != "CURVE" || frames.size() != 7 ||
                 frames[6].size() != kBinaryKeyBytes) {
        status_text = refusal.reason = "unsupported mechanism " + mechanism;
      } else {
        BinaryKey key{};
        std::memcpy(key.data(), frames[6].data(), kBinaryKeyBytes);
        refusal.public_key = EncodeZ85(key.data());
        if (domain->second.allow_any || domain->second.keys.count(key) != 0) {
          status = "200";
          status_text = "OK";
          user_id = refusal.public_key;
        } else {
          status_text = refusal.reason = "unknown key";
        }
      }
      if (domain != domains_.end()) {
        if (status == "200") {
          ++domain->second.stats.authorized;
        } else {
          ++domain->second.stats.refused;
          domain->second.refusals.push_back(std::move(refusal));
          if (domain->second.refusals.size() > kMaxRefusalLog) domain->second.refusals.pop_front();
        }
      }
    }
    // reply: version, request id, status code, status text, user id, metadata
    const std::string request_id =
        frames.size() >= 2 ? std::string(frames[1].to_string_view()) : std::string();
    zap_.send(zmq::str_buffer("1.0"), zmq::send_flags::sndmore);
    zap_.send(zmq::buffer(request_id), zmq::send_flags::sndmore);
    zap_.send(zmq::buffer(status), zmq::send_flags::sndmore);
    zap_.send(zmq::buffer(status_text), zmq::send_flags::sndmore);
    zap_.send(zmq::buffer(user_id), zmq::send_flags::sndmore);
    zap_.send(zmq::str_buffer(""), zmq::send_flags::none);
  }

  zmq::socket_t zap_;
  zmq::socket_t stop_receiver_;
  zmq::socket_t stop_sender_;
  std::thread thread_;
  std::mutex mutex_;
  std::map<std::string, Domain> domains_;
  std::uint64_t next_domain_{1};
};

std::shared_ptr<ZapHandler> ZapHandlerFor(zmq::context_t& context) {
  static std::mutex registry_mutex;
  static std::map<void*, std::weak_ptr<ZapHandler>> registry;
  const std::lock_guard lock(registry_mutex);
  std::shared_ptr<ZapHandler> handler = registry[context.handle()].lock();
  if (!handler) {
    handler = std::make_shared<ZapHandler>(context);
    registry[context.handle()] = handler;
  }
  return handler;
}

std::string RegisterDomain(ZapHandler& handler, const std::vector<std::string>& authorized_keys,
                           bool allow_any) {
  return handler.Register(authorized_keys, allow_any);
}

void UnregisterDomain(ZapHandler& handler, const std::string& domain) {
  handler.Unregister(domain);
}

SecurityStats DomainStats(ZapHandler& handler, const std::string& domain) {
  return handler.Stats(domain);
}

}  // namespace internal
}  // namespace metajoule::network

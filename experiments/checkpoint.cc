#include "experiments/checkpoint.h"

#include <fcntl.h>
#include <unistd.h>

#include <bit>
#include <chrono>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>
#include <span>
#include <stdexcept>
#include <system_error>

#include "common/error.h"
#include "network/crc32.h"

namespace metajoule::experiments {
namespace {

static_assert(std::endian::native == std::endian::little,
              "checkpoints are written little-endian with memcpy");

constexpr char kMagic[6] = {'M', 'J', 'C', 'K', 'P', 'T'};
constexpr std::size_t kHeaderBytes = sizeof(kMagic) + 2 + 8 + 4;

class Writer {
 public:
  template <class T>
  void Put(const T& value) {
    PutBytes(&value, sizeof(T));
  }
  void PutString(const std::string& text) {
    Put(static_cast<std::uint32_t>(text.size()));
    PutBytes(text.data(), text.size());
  }
  void PutDoubles(const std::vector<double>& values) {
    Put(static_cast<std::uint64_t>(values.size()));
    PutBytes(values.data(), values.size() * sizeof(double));
  }
  std::vector<std::uint8_t>& bytes() { return out_; }

 private:
  void PutBytes(const void* data, std::size_t size) {
    if (size == 0) return;
    const std::size_t at = out_.size();
    out_.resize(at + size);
    std::memcpy(out_.data() + at, data, size);
  }
  std::vector<std::uint8_t> out_;
};

class Reader {
 public:
  Reader(std::span<const std::uint8_t> bytes, const std::string& source)
      : bytes_(bytes), source_(source) {}
  template <class T>
  T Get() {
    Need(sizeof(T));
    T value;
    std::memcpy(&value, bytes_.data() + at_, sizeof(T));
    at_ += sizeof(T);
    return value;
  }
  std::string GetString() {
    const auto size = Get<std::uint32_t>();
    Need(size);
    std::string text(reinterpret_cast<const char*>(bytes_.data() + at_), size);
    at_ += size;
    return text;
  }
  std::vector<double> GetDoubles() {
    const auto count = Get<std::uint64_t>();
    if (count > (bytes_.size() - at_) / sizeof(double)) Fail("truncated (a vector runs past the end)");
    std::vector<double> values(static_cast<std::size_t>(count));
    if (values.empty()) return values;  // memcpy's pointers must not be null, even for 0 bytes
    std::memcpy(values.data(), bytes_.data() + at_, values.size() * sizeof(double));
    at_ += values.size() * sizeof(double);
    return values;
  }
  bool done() const { return at_ == bytes_.size(); }
  [[noreturn]] void Fail(const std::string& message) const {
    throw ConfigError({source_}, "", message);
  }

 private:
  void Need(std::size_t n) const {
    if (n > bytes_.size() - at_) Fail("truncated (ends inside a field)");
  }
  std::span<const std::uint8_t> bytes_;
  const std::string& source_;
  std::size_t at_{0};
};

// write(2) all of `bytes`, then (with `sync`) fsync; false on any error
bool WriteAll(int fd, std::span<const std::uint8_t> bytes, bool sync) {
  std::size_t written = 0;
  while (written < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + written, bytes.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    written += static_cast<std::size_t>(n);
  }
  return !sync || ::fsync(fd) == 0;
}

}  // namespace

std::filesystem::path CheckpointPath(const std::filesystem::path& run_folder,
                                     const std::string& method) {
  return run_folder / "checkpoints" / (method + ".ckpt");
}

void WriteCheckpoint(const std::filesystem::path& file, const Checkpoint& checkpoint,
                     bool sync) {
  Writer body;
  body.PutString(checkpoint.method);
  body.Put(checkpoint.round);
  body.Put(checkpoint.ledger_run);
  body.Put(static_cast<std::uint32_t>(checkpoint.vectors.size()));
  for (const auto& [name, values] : checkpoint.vectors) {
    body.PutString(name);
    body.PutDoubles(values);
  }
  body.Put(static_cast<std::uint32_t>(checkpoint.texts.size()));
  for (const auto& [name, text] : checkpoint.texts) {
    body.PutString(name);
    body.PutString(text);
  }
  Writer header;
  header.Put(kMagic);
  header.Put(kCheckpointVersion);
  header.Put(static_cast<std::uint64_t>(body.bytes().size()));
  header.Put(network::Crc32(body.bytes()));
  std::vector<std::uint8_t>& bytes = header.bytes();
  bytes.insert(bytes.end(), body.bytes().begin(), body.bytes().end());

  std::error_code error;
  std::filesystem::create_directories(file.parent_path(), error);
  if (error) {
    throw std::runtime_error(file.parent_path().string() + ": cannot create: " + error.message());
  }
  const std::filesystem::path temporary = file.string() + ".tmp";
  const int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    throw std::runtime_error(temporary.string() + ": cannot write: " + std::strerror(errno));
  }
  const bool written = WriteAll(fd, bytes, sync);
  const int saved_errno = errno;
  ::close(fd);
  if (!written || ::rename(temporary.c_str(), file.c_str()) != 0) {
    const std::string why = std::strerror(written ? errno : saved_errno);
    std::filesystem::remove(temporary, error);
    throw std::runtime_error(file.string() + ": cannot write the checkpoint: " + why);
  }
  if (!sync) return;
  // the rename itself must reach the disk
  const int folder = ::open(file.parent_path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (folder >= 0) {
    ::fsync(folder);
    ::close(folder);
  }
}

Checkpoint ReadCheckpoint(const std::filesystem::path& file) {
  const std::string source = file.string();
  std::ifstream in(file, std::ios::binary);
  if (!in) throw ConfigError({source}, "", "cannot be read (no checkpoint of this method)");
  const std::vector<std::uint8_t> bytes((std::istreambuf_iterator<char>(in)),
                                        std::istreambuf_iterator<char>());
  Reader header(bytes, source);
  if (bytes.size() < kHeaderBytes ||
      std::memcmp(bytes.data(), kMagic, sizeof(kMagic)) != 0) {
    header.Fail("not a metajoule checkpoint");
  }
  for (std::size_t i = 0; i < sizeof(kMagic); ++i) header.Get<char>();
  const auto version = header.Get<std::uint16_t>();
  if (version != kCheckpointVersion) {
    header.Fail("checkpoint version " + std::to_string(version) + ", this build reads version " +
                std::to_string(kCheckpointVersion));
  }
  const auto body_size = header.Get<std::uint64_t>();
  const auto crc = header.Get<std::uint32_t>();
  if (body_size != bytes.size() - kHeaderBytes) {
    header.Fail("truncated: " + std::to_string(bytes.size() - kHeaderBytes) + " of " +
                std::to_string(body_size) + " body bytes");
  }
  const std::span<const std::uint8_t> body_bytes(bytes.data() + kHeaderBytes, body_size);
  if (network::Crc32(body_bytes) != crc) header.Fail("checksum mismatch (a damaged file)");

  Reader body(body_bytes, source);
  Checkpoint checkpoint;
  checkpoint.method = body.GetString();
  checkpoint.round = body.Get<std::int64_t>();
  checkpoint.ledger_run = body.Get<std::int64_t>();
  const auto vectors = body.Get<std::uint32_t>();
  for (std::uint32_t i = 0; i < vectors; ++i) {
    std::string name = body.GetString();
    checkpoint.vectors[std::move(name)] = body.GetDoubles();
  }
  const auto texts = body.Get<std::uint32_t>();
  for (std::uint32_t i = 0; i < texts; ++i) {
    std::string name = body.GetString();
    checkpoint.texts[std::move(name)] = body.GetString();
  }
  if (!body.done()) body.Fail("trailing bytes after the last field");
  return checkpoint;
}

MethodCheckpoints::MethodCheckpoints(Options options, std::optional<Checkpoint> restored)
    : options_(std::move(options)), restored_(std::move(restored)) {}

int MethodCheckpoints::first_round() const {
  return restored_ ? static_cast<int>(restored_->round) + 1 : 1;
}

void MethodCheckpoints::Load(const std::function<void(const StateArchive&)>& load) const {
  if (!restored_) return;
  try {
    load(*restored_);
  } catch (const StateError& error) {
    throw ConfigError({options_.file.string()}, error.entry(),
                      std::string(error.what()).substr(error.entry().size() + 2) +
                          " (a checkpoint of another config or build?)");
  }
}

void MethodCheckpoints::EndRound(int round, int rounds,
                                 const std::function<void(StateArchive&)>& save) {
  if (options_.every <= 0) return;
  if (round % options_.every != 0 && round != rounds) return;
  const auto start = std::chrono::steady_clock::now();
  if (options_.commit) options_.commit();
  if (options_.before_write) options_.before_write(options_.method, round);
  Checkpoint checkpoint;
  checkpoint.method = options_.method;
  checkpoint.round = round;
  checkpoint.ledger_run = options_.ledger_run;
  save(checkpoint);
  WriteCheckpoint(options_.file, checkpoint, options_.sync);
  ++written_;
  seconds_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace metajoule::experiments

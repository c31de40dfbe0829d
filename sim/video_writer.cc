#include "sim/video_writer.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "common/error.h"

extern char** environ;

namespace metajoule::sim {
namespace {

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

bool IsExecutableFile(const std::string& path) {
  struct stat info {};
  return ::stat(path.c_str(), &info) == 0 && S_ISREG(info.st_mode) &&
         ::access(path.c_str(), X_OK) == 0;
}

std::string FpsText(double fps) {
  char text[32];
  std::snprintf(text, sizeof text, "%g", fps);
  return text;
}

}  // namespace

VideoFormat VideoFormatForPath(const std::string& path) {
  const std::string extension = Lower(std::filesystem::path(path).extension().string());
  if (extension == ".mp4") return VideoFormat::kMp4;
  if (extension == ".gif") return VideoFormat::kGif;
  throw std::invalid_argument("cannot tell the video format of '" + path +
                              "' (expected a name ending in .mp4 or .gif)");
}

std::string FindExecutable(const std::string& program) {
  if (program.empty()) return "";
  if (program.find('/') != std::string::npos) return IsExecutableFile(program) ? program : "";
  const char* path = std::getenv("PATH");
  std::stringstream dirs(path != nullptr ? path : "/usr/local/bin:/usr/bin:/bin");
  std::string dir;
  while (std::getline(dirs, dir, ':')) {
    const std::string candidate = (dir.empty() ? std::string(".") : dir) + "/" + program;
    if (IsExecutableFile(candidate)) return candidate;
  }
  return "";
}

VideoWriter::VideoWriter(const std::string& path, VideoFormat format, const VideoOptions& options)
    : path_(path) {
  if (options.width < 1 || options.height < 1 || !(options.fps > 0.0)) {
    throw std::invalid_argument("VideoWriter: expected a size >= 1x1 and fps > 0, got " +
                                std::to_string(options.width) + "x" +
                                std::to_string(options.height) + " at " + FpsText(options.fps));
  }
  const std::string ffmpeg = FindExecutable(options.ffmpeg);
  if (ffmpeg.empty()) {
    throw std::runtime_error(
        options.ffmpeg == "ffmpeg"
            ? "ffmpeg not found: install the Debian package ffmpeg"
            : "ffmpeg not found (" + options.ffmpeg + "): install the Debian package ffmpeg");
  }
  row_bytes_ = static_cast<std::size_t>(options.width) * 3;
  frame_bytes_ = row_bytes_ * static_cast<std::size_t>(options.height);

  // where the output goes
  std::string output = path;
  if (format == VideoFormat::kPng) {
    std::error_code error;
    std::filesystem::create_directories(path, error);
    if (error) throw std::runtime_error("cannot create frame directory " + path + ": " + error.message());
    output = (std::filesystem::path(path) / "frame-%06d.png").string();
  } else {
    const std::filesystem::path parent = std::filesystem::path(path).parent_path();
    if (!parent.empty() && !std::filesystem::is_directory(parent)) {
      throw std::runtime_error("cannot write " + path + ": directory " + parent.string() +
                               " does not exist");
    }
  }

  // raw RGB frames on stdin; only errors on stderr (into a log file read on failure)
  command_ = {ffmpeg, "-hide_banner", "-loglevel", "error", "-y",
              "-f", "rawvideo", "-pix_fmt", "rgb24",
              "-s", std::to_string(options.width) + "x" + std::to_string(options.height),
              "-r", FpsText(options.fps), "-i", "pipe:0"};
  switch (format) {
    case VideoFormat::kMp4:
      command_.insert(command_.end(), {"-c:v", "libx264", "-preset", options.x264_preset,
                                       "-threads", std::to_string(options.x264_threads),
                                       "-pix_fmt", "yuv420p"});
      // 4:2:0 chroma needs even sizes: pad odd ones by a pixel
      if (options.width % 2 != 0 || options.height % 2 != 0) {
        command_.insert(command_.end(), {"-vf", "pad=ceil(iw/2)*2:ceil(ih/2)*2"});
      }
      command_.insert(command_.end(), {"-movflags", "+faststart", "-f", "mp4"});
      break;
    case VideoFormat::kGif:
      // one palette for the whole clip (ffmpeg's palettegen/paletteuse)
      command_.insert(command_.end(), {"-vf", "split[a][b];[a]palettegen[p];[b][p]paletteuse",
                                       "-loop", "0", "-f", "gif"});
      break;
    case VideoFormat::kPng:
      command_.insert(command_.end(), {"-f", "image2", "-start_number", "0", "-c:v", "png"});
      break;
  }
  command_.push_back(output);

  char log_template[] = "/tmp/metajoule-ffmpeg-XXXXXX";
  const int log_fd = mkstemp(log_template);
  if (log_fd < 0) throw std::runtime_error(std::string("mkstemp: ") + std::strerror(errno));
  log_path_ = log_template;

  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) {
    ::close(log_fd);
    throw std::runtime_error(std::string("pipe: ") + std::strerror(errno));
  }
  // a larger pipe lets rendering run ahead of the encoder by about one frame (best effort)
  fcntl(fds[1], F_SETPIPE_SZ, 1 << 20);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, fds[0], STDIN_FILENO);
  posix_spawn_file_actions_adddup2(&actions, log_fd, STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, log_fd, STDERR_FILENO);
  std::vector<char*> argv;
  for (std::string& arg : command_) argv.push_back(arg.data());
  argv.push_back(nullptr);
  const int spawned = posix_spawn(&pid_, ffmpeg.c_str(), &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  ::close(fds[0]);
  ::close(log_fd);
  if (spawned != 0) {
    ::close(fds[1]);
    pid_ = -1;
    throw std::runtime_error("cannot start " + ffmpeg + ": " + std::strerror(spawned));
  }
  pipe_ = fds[1];
}

VideoWriter::~VideoWriter() {
  if (pipe_ >= 0) ::close(pipe_);
  if (pid_ > 0) {
    ::kill(pid_, SIGTERM);
    int status = 0;
    ::waitpid(pid_, &status, 0);
  }
  if (!log_path_.empty()) std::remove(log_path_.c_str());
}

std::string VideoWriter::ErrorOutput() const {
  std::ifstream in(log_path_);
  std::stringstream text;
  text << in.rdbuf();
  std::string s = text.str();
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
  constexpr std::size_t kMax = 2000;
  if (s.size() > kMax) s = "..." + s.substr(s.size() - kMax);
  return s.empty() ? "(ffmpeg printed nothing)" : s;
}

void VideoWriter::Fail(const std::string& what) {
  if (pipe_ >= 0) ::close(pipe_);
  pipe_ = -1;
  if (pid_ > 0) {
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
  }
  throw std::runtime_error(what + " while writing " + path_ + "; ffmpeg said: " + ErrorOutput());
}

void VideoWriter::WriteFrame(std::span<const std::uint8_t> rgb, RowOrder order) {
  if (rgb.size() != frame_bytes_) {
    throw std::invalid_argument("VideoWriter::WriteFrame: expected " +
                                std::to_string(frame_bytes_) + " bytes, got " +
                                std::to_string(rgb.size()));
  }
  if (pipe_ < 0) throw std::runtime_error("VideoWriter::WriteFrame: the video is finished");
  // a write to a pipe whose reader has exited raises SIGPIPE: block it on this thread and take
  // EPIPE instead, then drop the pending signal so the process is not killed later
  sigset_t pipe_signal, previous;
  sigemptyset(&pipe_signal);
  sigaddset(&pipe_signal, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &pipe_signal, &previous);
  // the rows in the order ffmpeg wants them (top-down): one piece, or every row from the last
  std::vector<iovec> pieces;
  auto* base = const_cast<std::uint8_t*>(rgb.data());  // iovec's pointer is not const
  if (order == RowOrder::kTopDown) {
    pieces.push_back({base, rgb.size()});
  } else {
    const std::size_t rows = rgb.size() / row_bytes_;
    pieces.reserve(rows);
    for (std::size_t y = rows; y-- > 0;) pieces.push_back({base + y * row_bytes_, row_bytes_});
  }
  std::size_t next = 0;  // first piece not fully written
  int error = 0;
  while (next < pieces.size()) {
    const int count = static_cast<int>(std::min<std::size_t>(pieces.size() - next, IOV_MAX));
    ssize_t n = ::writev(pipe_, pieces.data() + next, count);
    if (n < 0) {
      if (errno == EINTR) continue;
      error = errno;
      break;
    }
    // a partial write: skip the pieces written and trim the one cut
    while (n > 0) {
      const auto written = static_cast<std::size_t>(n);
      if (written >= pieces[next].iov_len) {
        n -= static_cast<ssize_t>(pieces[next].iov_len);
        ++next;
      } else {
        pieces[next].iov_base = static_cast<std::uint8_t*>(pieces[next].iov_base) + written;
        pieces[next].iov_len -= written;
        n = 0;
      }
    }
  }
  if (error == EPIPE) {
    const timespec no_wait{0, 0};
    sigtimedwait(&pipe_signal, nullptr, &no_wait);
  }
  pthread_sigmask(SIG_SETMASK, &previous, nullptr);
  if (error != 0) Fail(std::string("ffmpeg stopped reading frames (") + std::strerror(error) + ")");
  ++frames_;
}

void VideoWriter::Finish() {
  if (pid_ <= 0) return;
  ::close(pipe_);
  pipe_ = -1;
  int status = 0;
  while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  pid_ = -1;
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    throw std::runtime_error("ffmpeg failed (" +
                             (WIFEXITED(status) ? "exit code " + std::to_string(WEXITSTATUS(status))
                                                : std::string("killed by a signal")) +
                             ") writing " + path_ + ": " + ErrorOutput());
  }
}

// ---- AsyncFrameWriter ---------------------------------------------------------------------------

AsyncFrameWriter::AsyncFrameWriter(std::vector<std::unique_ptr<VideoWriter>> writers,
                                   std::size_t frame_bytes, RowOrder order, int buffers)
    : writers_(std::move(writers)), order_(order) {
  if (writers_.empty() || buffers < 2) {
    throw std::invalid_argument("AsyncFrameWriter: expected a writer and >= 2 buffers, got " +
                                std::to_string(writers_.size()) + " and " +
                                std::to_string(buffers));
  }
  buffers_.assign(static_cast<std::size_t>(buffers), std::vector<std::uint8_t>(frame_bytes));
  for (int i = 0; i < buffers; ++i) free_.push_back(i);
  thread_ = std::thread([this] { Run(); });
}

AsyncFrameWriter::~AsyncFrameWriter() {
  {
    const std::lock_guard lock(mutex_);
    closing_ = true;
  }
  changed_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void AsyncFrameWriter::Run() {
  for (;;) {
    int buffer = -1;
    {
      std::unique_lock lock(mutex_);
      changed_.wait(lock, [this] { return !queued_.empty() || closing_; });
      if (queued_.empty()) return;  // closing, and every frame is written
      buffer = queued_.front();
    }
    try {
      for (const auto& writer : writers_) {
        writer->WriteFrame(buffers_[static_cast<std::size_t>(buffer)], order_);
      }
    } catch (...) {
      const std::lock_guard lock(mutex_);
      error_ = std::current_exception();
      changed_.notify_all();
      return;
    }
    {
      const std::lock_guard lock(mutex_);
      queued_.pop_front();
      free_.push_back(buffer);
    }
    changed_.notify_all();
  }
}

std::span<std::uint8_t> AsyncFrameWriter::Acquire() {
  std::unique_lock lock(mutex_);
  if (finished_) throw std::runtime_error("AsyncFrameWriter::Acquire: the video is finished");
  MJL_DEMAND(acquired_ < 0);  // Submit the previous buffer first
  changed_.wait(lock, [this] { return !free_.empty() || error_ != nullptr; });
  if (error_) std::rethrow_exception(error_);
  acquired_ = free_.front();
  free_.pop_front();
  return buffers_[static_cast<std::size_t>(acquired_)];
}

void AsyncFrameWriter::Submit() {
  {
    const std::lock_guard lock(mutex_);
    MJL_DEMAND(acquired_ >= 0);  // Acquire first
    queued_.push_back(acquired_);
    acquired_ = -1;
    ++submitted_;
  }
  changed_.notify_all();
}

void AsyncFrameWriter::Finish() {
  {
    const std::lock_guard lock(mutex_);
    if (finished_) return;
    finished_ = true;
    closing_ = true;
  }
  changed_.notify_all();
  thread_.join();
  if (error_) std::rethrow_exception(error_);
  for (const auto& writer : writers_) writer->Finish();
}

}  // namespace metajoule::sim

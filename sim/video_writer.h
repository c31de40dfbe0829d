#pragma once
// Writing rendered frames through ffmpeg (docs/replay.md): raw RGB frames (rgb24, rows top-down)
// go down a pipe into an ffmpeg child process, which encodes them as H.264 MP4, an animated GIF
// or a numbered PNG sequence. ffmpeg is found on PATH; without it the error names the Debian
// package.

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <sys/types.h>
#include <vector>

namespace metajoule::sim {

/// What ffmpeg writes.
enum class VideoFormat {
  kMp4,  ///< H.264 (libx264, yuv420p) in MP4
  kGif,  ///< animated GIF with a palette computed from the frames (palettegen + paletteuse)
  kPng,  ///< one PNG per frame: <dir>/frame-000000.png, frame-000001.png, ...
};

/// kMp4 for ".mp4", kGif for ".gif". Throws std::invalid_argument naming the path and the
/// supported extensions otherwise.
VideoFormat VideoFormatForPath(const std::string& path);

struct VideoOptions {
  int width{640};
  int height{480};
  double fps{30.0};
  /// libx264 preset (kMp4): "ultrafast" encodes fastest, "medium" makes smaller files.
  std::string x264_preset{"veryfast"};
  /// The ffmpeg program: a name looked up on PATH, or a path.
  std::string ffmpeg{"ffmpeg"};
};

/// The full path of `program` (looked up in PATH unless it contains a '/'), or "" if there is
/// no executable of that name.
std::string FindExecutable(const std::string& program);

/// An ffmpeg child process fed through a pipe. Frames are written as they come; Finish() closes
/// the pipe and waits for ffmpeg.
class VideoWriter {
 public:
  /// Starts ffmpeg writing `format` to `path` (kPng: `path` is a directory, created if missing).
  /// Throws std::runtime_error "ffmpeg not found: install the Debian package ffmpeg" when there
  /// is no ffmpeg, std::invalid_argument for sizes < 1 or fps <= 0, and std::runtime_error when
  /// the process cannot be started.
  VideoWriter(const std::string& path, VideoFormat format, const VideoOptions& options);
  /// Kills ffmpeg if Finish() was not called (the output is then incomplete).
  ~VideoWriter();
  VideoWriter(const VideoWriter&) = delete;
  VideoWriter& operator=(const VideoWriter&) = delete;

  /// Sends one frame: 3 * width * height bytes, rows top-down. Throws std::invalid_argument on
  /// a wrong size and std::runtime_error (with ffmpeg's messages) if ffmpeg has exited.
  void WriteFrame(std::span<const std::uint8_t> rgb);
  /// Closes the pipe and waits for ffmpeg. Throws std::runtime_error with ffmpeg's messages if
  /// it failed. Calling it again does nothing.
  void Finish();

  int frames_written() const { return frames_; }
  /// The ffmpeg command line (for messages and docs).
  const std::vector<std::string>& command() const { return command_; }

 private:
  [[noreturn]] void Fail(const std::string& what);
  std::string ErrorOutput() const;

  std::string path_;
  std::size_t frame_bytes_{0};
  std::vector<std::string> command_;
  std::string log_path_;  // ffmpeg's stderr
  pid_t pid_{-1};
  int pipe_{-1};
  int frames_{0};
};

}  // namespace metajoule::sim

#pragma once
// Writing rendered frames through ffmpeg (docs/replay.md): raw RGB frames (rgb24, rows top-down)
// go down a pipe into an ffmpeg child process, which encodes them as H.264 MP4, an animated GIF
// or a numbered PNG sequence. ffmpeg is found on PATH; without it the error names the Debian
// package.

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <sys/types.h>
#include <thread>
#include <vector>

#include "sim/render_context.h"

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
  /// libx264 preset (kMp4). "ultrafast" (the default) encodes fastest: about 3 ms of CPU per
  /// 640x480 frame on the project's machine against 5-6 ms for "veryfast", whose files are
  /// about 2.8x smaller (docs/replay.md, "Speed"); "medium" makes smaller files still.
  std::string x264_preset{"ultrafast"};
  /// libx264 encoder threads (kMp4); 0: x264's own choice (1.5 x cores). One thread is the
  /// fastest end to end on two cores, where the renderer (llvmpipe) needs the rest: median
  /// 99-103 against 90-96 fps with 0 in `bench replay` (docs/replay.md, "Speed").
  int x264_threads{1};
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

  /// Sends one frame: 3 * width * height bytes with rows in `order` (bottom-up rows are sent
  /// in reverse with writev, so ffmpeg always gets them top-down, without a copy). Throws
  /// std::invalid_argument on a wrong size and std::runtime_error (with ffmpeg's messages) if
  /// ffmpeg has exited.
  void WriteFrame(std::span<const std::uint8_t> rgb, RowOrder order = RowOrder::kTopDown);
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
  std::size_t row_bytes_{0};
  std::vector<std::string> command_;
  std::string log_path_;  // ffmpeg's stderr
  pid_t pid_{-1};
  int pipe_{-1};
  int frames_{0};
};

/// Writes frames to VideoWriters on a thread of its own, so that rendering frame i + 1 overlaps
/// sending frame i down the pipe(s). Bounded: `buffers` frame buffers circulate between the
/// caller (Acquire, fill, Submit) and the writer thread, which writes them in submission order;
/// Acquire blocks while all are queued. No frame is dropped or reordered.
class AsyncFrameWriter {
 public:
  /// `frame_bytes`: 3 * width * height of every writer; `order`: the row order of the frames
  /// the caller submits. Throws std::invalid_argument for no writer or fewer than 2 buffers.
  AsyncFrameWriter(std::vector<std::unique_ptr<VideoWriter>> writers, std::size_t frame_bytes,
                   RowOrder order, int buffers = 3);
  /// Stops the thread after the frames already queued (or at the first error); the writers
  /// are then destroyed without Finish (their outputs are incomplete).
  ~AsyncFrameWriter();
  AsyncFrameWriter(const AsyncFrameWriter&) = delete;
  AsyncFrameWriter& operator=(const AsyncFrameWriter&) = delete;

  /// A free buffer of frame_bytes for the next frame (blocks while every buffer is queued).
  /// Rethrows the writer thread's error (e.g. ffmpeg stopped reading).
  std::span<std::uint8_t> Acquire();
  /// Queues the buffer returned by the last Acquire as the next frame.
  void Submit();
  /// Waits for every queued frame, stops the thread, then finishes each writer (VideoWriter::
  /// Finish). Rethrows the first error. Calling it again does nothing.
  void Finish();

  int frames_submitted() const { return submitted_; }
  const std::vector<std::unique_ptr<VideoWriter>>& writers() const { return writers_; }

 private:
  void Run();

  std::vector<std::unique_ptr<VideoWriter>> writers_;
  RowOrder order_;
  std::vector<std::vector<std::uint8_t>> buffers_;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<int> free_;    // buffers the caller may fill
  std::deque<int> queued_;  // filled buffers, in frame order
  int acquired_{-1};
  int submitted_{0};
  bool closing_{false};
  bool finished_{false};
  std::exception_ptr error_;
  std::thread thread_;
};

}  // namespace metajoule::sim

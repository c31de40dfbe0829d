#include "sim/render.h"

#include <spawn.h>
#include <sys/wait.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include <doctest/doctest.h>

#include "common/error.h"
#include "sim/render_benchmark.h"
#include "sim/render_context.h"
#include "sim/video_writer.h"
#include "tests/support/gl_sanitizer_options.h"
#include "tests/support/temp_dir.h"

namespace metajoule::sim {
namespace {

constexpr int kWidth = 160;
constexpr int kHeight = 120;

ReplayEpisode Episode(const std::string& family, std::uint64_t seed = 3) {
  ReplayEpisode episode;
  episode.recording = RecordRandomEpisode(family, seed);
  episode.source_name = family + ".mjrec";
  episode.text.label = "test " + family;
  return episode;
}

RenderOptions SmallTiles() {
  RenderOptions options;
  options.width = kWidth;
  options.height = kHeight;
  return options;
}

// Mean brightness of rows [y0, y1) of a top-down RGB image.
double MeanBrightness(const std::vector<std::uint8_t>& rgb, int width, int y0, int y1) {
  double sum = 0.0;
  for (int y = y0; y < y1; ++y) {
    for (int x = 0; x < 3 * width; ++x) sum += rgb[static_cast<std::size_t>(y * 3 * width + x)];
  }
  return sum / (3.0 * width * (y1 - y0));
}

// Runs a shell command and returns its standard output.
std::string Output(const std::string& command) {
  std::string out;
  if (FILE* pipe = popen(command.c_str(), "r")) {
    char buffer[256];
    while (std::fgets(buffer, sizeof buffer, pipe) != nullptr) out += buffer;
    pclose(pipe);
  }
  while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
  return out;
}

std::string ProbeVideo(const std::string& path) {
  return Output("ffprobe -v error -count_frames -select_streams v:0 -show_entries "
                "stream=width,height,nb_read_frames -of csv=p=0 '" + path + "' 2>&1");
}

extern "C" char** environ;

constexpr const char* kChildMarker = "METAJOULE_TEST_OSMESA_FALLBACK_MARKER";

TEST_SUITE("sim/render") {
  TEST_CASE("an offscreen GL context is available: EGL, or OSMesa when EGL fails") {
    // no silent skip: if neither backend works on this machine, the test fails
    const OffscreenGlContext context(GlBackend::kAuto);
    CHECK((context.backend() == GlBackend::kEgl || context.backend() == GlBackend::kOsmesa));
    CHECK(!context.renderer().empty());
    MESSAGE("GL backend " << ToString(context.backend()) << ": " << context.renderer()
                          << (context.fallback_reason().empty()
                                  ? std::string()
                                  : " (EGL failed: " + context.fallback_reason() + ")"));
    CHECK(MujocoGlPlatform() == (context.backend() == GlBackend::kEgl ? "EGL" : "OSMesa"));
  }

  TEST_CASE("without a working EGL the automatic backend falls back to OSMesa and still renders") {
    // EGL state is process-wide, so the check runs in a fresh copy of this executable whose EGL
    // has no vendor library (GLVND reads __EGL_VENDOR_LIBRARY_FILENAMES)
    const test::TempDir dir;
    const std::string marker = dir.File("child-passed");
    std::vector<std::string> env_strings;
    for (char** e = environ; *e != nullptr; ++e) env_strings.emplace_back(*e);
    env_strings.push_back("__EGL_VENDOR_LIBRARY_FILENAMES=/nonexistent/egl_vendor.json");
    env_strings.push_back(std::string(kChildMarker) + "=" + marker);
    std::vector<char*> env;
    for (std::string& e : env_strings) env.push_back(e.data());
    env.push_back(nullptr);
    std::string self = std::filesystem::read_symlink("/proc/self/exe").string();
    std::string filter = "--test-case=helper: OSMesa fallback child";
    std::string quiet = "--minimal";
    char* argv[] = {self.data(), filter.data(), quiet.data(), nullptr};
    pid_t pid = 0;
    REQUIRE(posix_spawn(&pid, self.c_str(), nullptr, nullptr, argv, env.data()) == 0);
    int status = 0;
    REQUIRE(waitpid(pid, &status, 0) == pid);
    CHECK(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
    CHECK(std::filesystem::exists(marker));  // the child ran its checks and they passed
  }

  TEST_CASE("helper: OSMesa fallback child") {
    const char* marker = std::getenv(kChildMarker);
    if (marker == nullptr) return;  // only meaningful when started by the test above
    RenderOptions options = SmallTiles();
    options.text = false;
    EpisodeRenderer renderer({Episode("reach2d")}, options);
    REQUIRE(renderer.gl().backend() == GlBackend::kOsmesa);
    REQUIRE(renderer.gl().fallback_reason().find("EGL") == 0);
    std::vector<std::uint8_t> rgb(renderer.image_bytes());
    renderer.RenderFrame(0, rgb);
    REQUIRE(MeanBrightness(rgb, kWidth, 0, kHeight) > 20.0);  // the floor, not a black image
    std::ofstream(marker) << "ok\n";
  }

  TEST_CASE("backend and quality names parse and unknown ones list the valid ones") {
    CHECK(ParseGlBackend("egl") == GlBackend::kEgl);
    CHECK(ParseGlBackend("osmesa") == GlBackend::kOsmesa);
    CHECK(ParseGlBackend("auto") == GlBackend::kAuto);
    CHECK_THROWS_WITH_AS(ParseGlBackend("glx"),
                         "unknown GL backend 'glx' (expected one of: auto, egl, osmesa)",
                         std::invalid_argument);
    CHECK(ParseRenderQuality("fast") == RenderQuality::kFast);
    CHECK(ParseRenderQuality("high") == RenderQuality::kHigh);
    CHECK_THROWS_AS(ParseRenderQuality("ultra"), std::invalid_argument);
  }

  TEST_CASE("the same frame renders to identical pixels, in one renderer and across renderers") {
    std::vector<std::uint8_t> first, second, third, other;
    {
      EpisodeRenderer renderer({Episode("reach2d")}, SmallTiles());
      REQUIRE(renderer.image_width() == kWidth);
      REQUIRE(renderer.image_height() == kHeight);
      first.resize(renderer.image_bytes());
      second.resize(renderer.image_bytes());
      other.resize(renderer.image_bytes());
      renderer.RenderFrame(10, first);
      renderer.RenderFrame(30, other);
      renderer.RenderFrame(10, second);
    }
    EpisodeRenderer renderer({Episode("reach2d")}, SmallTiles());
    third.resize(renderer.image_bytes());
    renderer.RenderFrame(10, third);
    CHECK(first == second);
    CHECK(first == third);
    CHECK(first != other);  // the arm moved
  }

  TEST_CASE("images are top-down: the floor is at the bottom, the empty sky at the top") {
    RenderOptions options = SmallTiles();
    options.text = false;
    options.camera.elevation_deg = -5.0;  // nearly level: the horizon crosses the image
    EpisodeRenderer renderer({Episode("quadruped_direction")}, options);
    std::vector<std::uint8_t> rgb(renderer.image_bytes());
    renderer.RenderFrame(0, rgb);
    const double top = MeanBrightness(rgb, kWidth, 0, kHeight / 4);
    const double bottom = MeanBrightness(rgb, kWidth, 3 * kHeight / 4, kHeight);
    CAPTURE(top);
    CAPTURE(bottom);
    CHECK(bottom > top + 50.0);  // lit grey floor against the black background
  }

  TEST_CASE("a montage puts each episode in its own tile and holds the shorter one's last frame") {
    RenderOptions options = SmallTiles();
    options.text = false;
    std::vector<ReplayEpisode> episodes;
    episodes.push_back(Episode("reach2d", 3));
    episodes.push_back(Episode("nav2d", 4));
    const int reach_frames = episodes[0].recording.num_frames();  // 51
    const int nav_frames = episodes[1].recording.num_frames();    // 101
    REQUIRE(reach_frames < nav_frames);
    EpisodeRenderer montage(std::move(episodes), options);
    CHECK(montage.image_width() == 2 * kWidth);
    CHECK(montage.image_height() == kHeight);
    CHECK(montage.num_frames() == nav_frames);

    EpisodeRenderer alone({Episode("reach2d", 3)}, options);
    std::vector<std::uint8_t> tiles(montage.image_bytes()), single(alone.image_bytes());
    // the left tile equals the episode rendered alone, also past its end
    for (const int frame : {5, nav_frames - 1}) {
      montage.RenderFrame(frame, tiles);
      alone.RenderFrame(std::min(frame, reach_frames - 1), single);
      bool same = true;
      for (int y = 0; y < kHeight; ++y) {
        same = same && std::memcmp(tiles.data() + static_cast<std::size_t>(y) * 6 * kWidth,
                                   single.data() + static_cast<std::size_t>(y) * 3 * kWidth,
                                   3 * kWidth) == 0;
      }
      CAPTURE(frame);
      CHECK(same);
    }
  }

  TEST_CASE("RenderFrame rejects a buffer of the wrong size and tiles of a silly size") {
    EpisodeRenderer renderer({Episode("nav2d")}, SmallTiles());
    std::vector<std::uint8_t> small(10);
    CHECK_THROWS_AS(renderer.RenderFrame(0, small), std::invalid_argument);
    RenderOptions tiny = SmallTiles();
    tiny.width = 4;
    CHECK_THROWS_AS(EpisodeRenderer({Episode("nav2d")}, tiny), std::invalid_argument);
  }
}

TEST_SUITE("sim/render_scene") {
  TEST_CASE("ReplayScene restores each recorded state and sums the return so far") {
    const EpisodeRecording recording = RecordRandomEpisode("runner_velocity", 9);
    ReplayScene scene(recording, "e.mjrec");
    REQUIRE(scene.num_frames() == recording.num_frames());
    const int nq = recording.nq;
    scene.SetFrame(7);
    CHECK(std::memcmp(scene.data().qpos, recording.qpos.data() + 7 * nq,
                      static_cast<std::size_t>(nq) * sizeof(double)) == 0);
    CHECK(scene.data().time == recording.time[7]);
    double sum = 0.0;
    for (int i = 1; i <= 7; ++i) sum += recording.reward[static_cast<std::size_t>(i)];
    CHECK(scene.ReturnThrough(7) == sum);
    CHECK(scene.ReturnThrough(0) == 0.0);
    scene.SetFrame(100000);  // clamped to the last frame
    CHECK(scene.frame() == scene.num_frames() - 1);
    CHECK(scene.frame_seconds() == doctest::Approx(0.05));
  }

  TEST_CASE("ReplayScene rejects a recording that does not fit its model, naming the source") {
    EpisodeRecording recording = RecordRandomEpisode("reach2d", 1);
    SUBCASE("changed model") {
      recording.model_hash ^= 1;
      CHECK_THROWS_WITH_AS(ReplayScene(recording, "x.mjrec"),
                           doctest::Contains("x.mjrec: episode recording: the embedded model"),
                           ConfigError);
    }
    SUBCASE("wrong sizes") {
      recording.qpos.pop_back();
      CHECK_THROWS_WITH_AS(ReplayScene(recording, "x.mjrec"),
                           doctest::Contains("sizes do not match"), ConfigError);
    }
    SUBCASE("unknown family") {
      recording.family = "hexapod";
      CHECK_THROWS_WITH_AS(ReplayScene(recording, "x.mjrec"), doctest::Contains("hexapod"),
                           ConfigError);
    }
  }

  TEST_CASE("the task marker is a sphere at the goal, or an arrow along the direction") {
    auto marker = [](const EpisodeRecording& recording) {
      ReplayScene scene(recording, "m");
      scene.SetFrame(0);
      mjvScene vscene;
      mjv_defaultScene(&vscene);
      mjv_makeScene(&scene.model(), &vscene, 500);
      mjvOption option;
      mjv_defaultOption(&option);
      mjvCamera camera;
      mjv_defaultCamera(&camera);
      mjv_updateScene(&scene.model(), &scene.mutable_data(), &option, nullptr, &camera,
                      mjCAT_ALL, &vscene);
      const int before = vscene.ngeom;
      AddTaskMarker(scene, vscene);
      REQUIRE(vscene.ngeom == before + 1);
      const mjvGeom geom = vscene.geoms[before];
      mjv_freeScene(&vscene);
      return geom;
    };
    const EpisodeRecording reach = RecordRandomEpisode("reach3d", 2);
    const mjvGeom sphere = marker(reach);
    CHECK(sphere.type == mjGEOM_SPHERE);
    for (int k = 0; k < 3; ++k) CHECK(sphere.pos[k] == doctest::Approx(reach.task.goal[k]));

    EpisodeRecording walk = RecordRandomEpisode("quadruped_direction", 2);
    walk.task.direction_deg = 90.0;  // +y
    const mjvGeom arrow = marker(walk);
    CHECK(arrow.type == mjGEOM_ARROW);
    // the arrow's z axis (third column of mat) points along the direction
    CHECK(arrow.mat[2] == doctest::Approx(0.0).epsilon(1e-6));
    CHECK(arrow.mat[5] == doctest::Approx(1.0).epsilon(1e-6));
  }
}

TEST_SUITE("sim/video_writer") {
  TEST_CASE("short clips encode to gif, mp4 and png frames that ffprobe reads back") {
    const test::TempDir dir;
    constexpr int kFrames = 12;
    EpisodeRenderer renderer({Episode("reach2d")}, SmallTiles());
    std::vector<std::uint8_t> rgb(renderer.image_bytes());
    VideoOptions options;
    options.width = renderer.image_width();
    options.height = renderer.image_height();
    options.fps = 25.0;
    for (const char* name : {"clip.gif", "clip.mp4"}) {
      CAPTURE(name);
      const std::string path = dir.File(name);
      VideoWriter writer(path, VideoFormatForPath(path), options);
      for (int i = 0; i < kFrames; ++i) {
        renderer.RenderFrame(i, rgb);
        writer.WriteFrame(rgb);
      }
      writer.Finish();
      CHECK(writer.frames_written() == kFrames);
      REQUIRE(std::filesystem::exists(path));
      CHECK(std::filesystem::file_size(path) > 1000);
      CHECK(ProbeVideo(path) == "160,120," + std::to_string(kFrames));
    }
    const std::string frames = dir.File("frames");
    VideoWriter writer(frames, VideoFormat::kPng, options);
    for (int i = 0; i < 3; ++i) {
      renderer.RenderFrame(i, rgb);
      writer.WriteFrame(rgb);
    }
    writer.Finish();
    for (const char* file : {"frame-000000.png", "frame-000001.png", "frame-000002.png"}) {
      std::ifstream in(frames + "/" + file, std::ios::binary);
      char magic[8] = {};
      in.read(magic, 8);
      CHECK(std::memcmp(magic, "\x89PNG\r\n\x1a\n", 8) == 0);
    }
    CHECK(!std::filesystem::exists(frames + "/frame-000003.png"));
  }

  TEST_CASE("bottom-up frames are the top-down ones with the rows reversed, montages too") {
    std::vector<ReplayEpisode> episodes;
    for (const char* family : {"reach2d", "nav2d", "reach3d"}) episodes.push_back(Episode(family));
    RenderOptions options = SmallTiles();
    options.columns = 2;  // 2 x 2 grid, one cell empty
    EpisodeRenderer renderer(std::move(episodes), options);
    REQUIRE(renderer.image_height() == 2 * kHeight);
    std::vector<std::uint8_t> down(renderer.image_bytes()), up(renderer.image_bytes());
    renderer.RenderFrame(7, down);
    renderer.RenderFrame(7, up, RowOrder::kBottomUp);
    const auto row = static_cast<std::size_t>(3 * renderer.image_width());
    const auto rows = static_cast<std::size_t>(renderer.image_height());
    bool reversed = true;
    for (std::size_t y = 0; y < rows; ++y) {
      reversed = reversed && std::memcmp(down.data() + y * row, up.data() + (rows - 1 - y) * row,
                                         row) == 0;
    }
    CHECK(reversed);
    CHECK(down != up);
  }

  TEST_CASE("the pipelined writer sends every frame in order, the same as the synchronous path") {
    const test::TempDir dir;
    constexpr int kFrames = 9;
    EpisodeRenderer renderer({Episode("reach2d")}, SmallTiles());
    VideoOptions options;
    options.width = renderer.image_width();
    options.height = renderer.image_height();
    options.fps = 25.0;
    std::vector<std::uint8_t> rgb(renderer.image_bytes());
    {  // synchronous: top-down frames, one writer
      VideoWriter writer(dir.File("sync"), VideoFormat::kPng, options);
      for (int i = 0; i < kFrames; ++i) {
        renderer.RenderFrame(i, rgb);
        writer.WriteFrame(rgb);
      }
      writer.Finish();
    }
    {  // pipelined: bottom-up frames, two writers, two buffers (the renderer waits on the writer)
      std::vector<std::unique_ptr<VideoWriter>> writers;
      writers.push_back(std::make_unique<VideoWriter>(dir.File("async"), VideoFormat::kPng, options));
      writers.push_back(
          std::make_unique<VideoWriter>(dir.File("async.mp4"), VideoFormat::kMp4, options));
      AsyncFrameWriter writer(std::move(writers), renderer.image_bytes(), RowOrder::kBottomUp, 2);
      for (int i = 0; i < kFrames; ++i) {
        renderer.RenderFrame(i, writer.Acquire(), RowOrder::kBottomUp);
        writer.Submit();
      }
      writer.Finish();
      writer.Finish();  // again: nothing
      CHECK(writer.frames_submitted() == kFrames);
      CHECK(writer.writers()[0]->frames_written() == kFrames);
    }
    auto read = [](const std::string& file) {
      std::ifstream in(file, std::ios::binary);
      return std::string(std::istreambuf_iterator<char>(in), {});
    };
    for (int i = 0; i < kFrames; ++i) {
      char name[32];
      std::snprintf(name, sizeof name, "/frame-%06d.png", i);
      CAPTURE(name);
      const std::string sync = read(dir.File("sync") + name);
      REQUIRE(sync.size() > 100);
      CHECK(read(dir.File("async") + name) == sync);  // lossless: the same pixels
    }
    CHECK(!std::filesystem::exists(dir.File("async") + "/frame-000009.png"));
    CHECK(ProbeVideo(dir.File("async.mp4")) == "160,120," + std::to_string(kFrames));
  }

  TEST_CASE("bottom-up frames taller than one writev reach ffmpeg top-down") {
    // 1100 rows: more than IOV_MAX (1024) pieces, so the rows go out in two writev calls
    const test::TempDir dir;
    VideoOptions options;
    options.width = 8;
    options.height = 1100;
    const std::size_t row = 3 * 8;
    std::vector<std::uint8_t> down(row * 1100), up(row * 1100);
    for (std::size_t y = 0; y < 1100; ++y) {
      for (std::size_t x = 0; x < row; ++x) {
        down[y * row + x] = static_cast<std::uint8_t>((y * 7 + x) % 251);
      }
      std::memcpy(up.data() + (1099 - y) * row, down.data() + y * row, row);
    }
    for (const char* name : {"down", "up"}) {
      VideoWriter writer(dir.File(name), VideoFormat::kPng, options);
      writer.WriteFrame(std::string_view(name) == "down" ? down : up,
                        std::string_view(name) == "down" ? RowOrder::kTopDown : RowOrder::kBottomUp);
      writer.Finish();
    }
    std::ifstream a(dir.File("down") + "/frame-000000.png", std::ios::binary);
    std::ifstream b(dir.File("up") + "/frame-000000.png", std::ios::binary);
    const std::string png_down(std::istreambuf_iterator<char>(a), {});
    const std::string png_up(std::istreambuf_iterator<char>(b), {});
    REQUIRE(png_down.size() > 100);
    CHECK(png_down == png_up);
  }

  TEST_CASE("the pipelined writer passes ffmpeg's error on and rejects a bad setup") {
    const test::TempDir dir;
    VideoOptions options;
    options.width = 16;
    options.height = 16;
    options.x264_preset = "no-such-preset";
    auto encode = [&] {
      std::vector<std::unique_ptr<VideoWriter>> writers;
      writers.push_back(std::make_unique<VideoWriter>(dir.File("bad.mp4"), VideoFormat::kMp4, options));
      AsyncFrameWriter writer(std::move(writers), 16 * 16 * 3, RowOrder::kBottomUp);
      for (int i = 0; i < 50; ++i) {
        std::span<std::uint8_t> frame = writer.Acquire();
        std::fill(frame.begin(), frame.end(), std::uint8_t{128});
        writer.Submit();
      }
      writer.Finish();
    };
    CHECK_THROWS_WITH_AS(encode(), doctest::Contains("no-such-preset"), std::runtime_error);
    CHECK_THROWS_AS(AsyncFrameWriter({}, 16, RowOrder::kTopDown), std::invalid_argument);
  }

  TEST_CASE("a missing ffmpeg is a clear error naming the Debian package") {
    VideoOptions options;
    options.ffmpeg = "/nonexistent/bin/ffmpeg";
    CHECK_THROWS_WITH_AS(VideoWriter("/tmp/x.mp4", VideoFormat::kMp4, options),
                         "ffmpeg not found (/nonexistent/bin/ffmpeg): install the Debian package "
                         "ffmpeg",
                         std::runtime_error);
    CHECK(FindExecutable("sh") != "");
    CHECK(FindExecutable("metajoule-no-such-program") == "");
  }

  TEST_CASE("ffmpeg's own error reaches the caller, and unknown extensions are refused") {
    const test::TempDir dir;
    VideoOptions options;
    options.width = 16;
    options.height = 16;
    options.x264_preset = "no-such-preset";
    const std::vector<std::uint8_t> rgb(16 * 16 * 3, 128);
    auto encode = [&] {
      VideoWriter writer(dir.File("bad.mp4"), VideoFormat::kMp4, options);
      for (int i = 0; i < 50; ++i) writer.WriteFrame(rgb);
      writer.Finish();
    };
    CHECK_THROWS_WITH_AS(encode(), doctest::Contains("no-such-preset"), std::runtime_error);
    CHECK_THROWS_WITH_AS(VideoFormatForPath("out.avi"),
                         "cannot tell the video format of 'out.avi' (expected a name ending in "
                         ".mp4 or .gif)",
                         std::invalid_argument);
    CHECK(VideoFormatForPath("OUT.GIF") == VideoFormat::kGif);
    CHECK_THROWS_WITH_AS(VideoWriter("/nonexistent/dir/v.mp4", VideoFormat::kMp4, {}),
                         doctest::Contains("/nonexistent/dir does not exist"),
                         std::runtime_error);
  }
}

}  // namespace
}  // namespace metajoule::sim

#include "network/curve.h"

#include <doctest/doctest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "network/channel.h"

namespace metajoule::network {
namespace {

using std::chrono::milliseconds;
namespace fs = std::filesystem;

constexpr int kTimeoutMs = 3000;
// how long a refused client is given to get a message through (it must not)
constexpr milliseconds kRefusalWindow{300};

ChannelConfig TestConfig() {
  ChannelConfig config;
  config.receive_timeout_ms = kTimeoutMs;
  config.send_timeout_ms = kTimeoutMs;
  return config;
}

// a refused client's message is never sent, so closing it must not linger for it
ChannelConfig RefusedClientConfig() {
  ChannelConfig config = TestConfig();
  config.linger_ms = 0;
  return config;
}

Message Hello(NodeId sender, std::uint32_t sequence) {
  Message message;
  message.kind = MessageKind::kHello;
  message.sender = sender;
  message.receiver = 0;
  message.sequence = sequence;
  return message;
}

// a fresh directory per test, removed at the end
struct TempDir {
  fs::path path;
  explicit TempDir(const std::string& name)
      : path(fs::temp_directory_path() /
             ("metajoule-" + name + "-" + std::to_string(::getpid()))) {
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~TempDir() {
    std::error_code ignored;
    fs::remove_all(path, ignored);
  }
  std::string File(const std::string& name) const { return (path / name).string(); }
};

void WriteText(const std::string& path, const std::string& text, mode_t mode) {
  std::ofstream(path) << text;
  ::chmod(path.c_str(), mode);
}

// polls `stats` until `ready` holds or the bounded wait passes
template <class Ready>
SecurityStats WaitForStats(ChannelServer& server, Ready&& ready) {
  const auto end = std::chrono::steady_clock::now() + milliseconds(kTimeoutMs);
  SecurityStats stats = server.security_stats();
  while (!ready(stats) && std::chrono::steady_clock::now() < end) {
    std::this_thread::sleep_for(milliseconds(10));
    stats = server.security_stats();
  }
  return stats;
}

ServerSecurity CurveServer(const CurveKeyPair& keys, std::vector<std::string> authorized) {
  ServerSecurity security;
  security.mechanism = Mechanism::kCurve;
  security.keys = keys;
  security.authorized_keys = std::move(authorized);
  return security;
}

ClientSecurity CurveClient(const CurveKeyPair& keys, const std::string& server_public_key) {
  ClientSecurity security;
  security.mechanism = Mechanism::kCurve;
  security.keys = keys;
  security.server_public_key = server_public_key;
  return security;
}

TEST_SUITE("network/curve") {
  TEST_CASE("this libzmq has CURVE and key pairs are 40-character Z85 strings") {
    REQUIRE(CurveAvailable());
    const CurveKeyPair keys = GenerateCurveKeyPair();
    CHECK(keys.public_key.size() == 40);
    CHECK(IsZ85Key(keys.public_key));
    CHECK(IsZ85Key(keys.secret_key));
    CHECK(CurvePublicKey(keys.secret_key) == keys.public_key);
    CHECK(GenerateCurveKeyPair().public_key != keys.public_key);
    CHECK_FALSE(IsZ85Key("short"));
    CHECK_FALSE(IsZ85Key(std::string(40, ' ')));
    CHECK_THROWS_AS(CurvePublicKey("nope"), std::invalid_argument);
  }

  TEST_CASE("key files round-trip and the secret file is written with mode 0600") {
    TempDir dir("curve-files");
    const CurveKeyPair keys = GenerateCurveKeyPair();
    const std::string path = dir.File("agent.key");
    WriteCurveKeyFiles(path, keys);

    struct stat info {};
    REQUIRE(::stat((path + "_secret").c_str(), &info) == 0);
    CHECK((info.st_mode & 0777) == 0600);
    const CurveKeyPair secret = ReadCurveKeyFile(path + "_secret", true);
    CHECK(secret.public_key == keys.public_key);
    CHECK(secret.secret_key == keys.secret_key);
    const CurveKeyPair pub = ReadCurveKeyFile(path, false);
    CHECK(pub.public_key == keys.public_key);
    CHECK(pub.secret_key.empty());

    // a public file is not a secret file
    CHECK_THROWS_WITH_AS(ReadCurveKeyFile(path, true), doctest::Contains("secret-key: missing"),
                         ConfigError);
  }

  TEST_CASE("a secret key file readable by group or others is refused with its name") {
    TempDir dir("curve-mode");
    const std::string path = dir.File("server.key");
    WriteCurveKeyFiles(path, GenerateCurveKeyPair());
    ::chmod((path + "_secret").c_str(), 0644);
    try {
      ReadCurveKeyFile(path + "_secret", true);
      FAIL("expected a ConfigError");
    } catch (const ConfigError& error) {
      const std::string what = error.what();
      CHECK(what.find(path + "_secret") != std::string::npos);
      CHECK(what.find("readable by group or others (mode 0644)") != std::string::npos);
      CHECK(what.find("chmod 600") != std::string::npos);
    }
  }

  TEST_CASE("a malformed key file is a ConfigError naming the file, line and key") {
    TempDir dir("curve-bad");
    const std::string path = dir.File("bad.key");
    SUBCASE("not Z85") {
      WriteText(path, "# comment\ncurve\n    public-key = \"tooshort\"\n", 0644);
      CHECK_THROWS_WITH_AS(ReadCurveKeyFile(path, false),
                           doctest::Contains((path + ":3: public-key: expected a 40-character Z85").c_str()),
                           ConfigError);
    }
    SUBCASE("unknown key") {
      WriteText(path, "curve\n    private-key = \"x\"\n", 0644);
      CHECK_THROWS_WITH_AS(ReadCurveKeyFile(path, false),
                           doctest::Contains((path + ":2: private-key: unknown key").c_str()), ConfigError);
    }
    SUBCASE("unknown section") {
      WriteText(path, "keys\n", 0644);
      CHECK_THROWS_WITH_AS(ReadCurveKeyFile(path, false),
                           doctest::Contains((path + ":1: keys: unknown section").c_str()), ConfigError);
    }
    SUBCASE("public key that does not match the secret") {
      const CurveKeyPair a = GenerateCurveKeyPair();
      const CurveKeyPair b = GenerateCurveKeyPair();
      WriteText(path,
                "curve\n    public-key = \"" + a.public_key + "\"\n    secret-key = \"" +
                    b.secret_key + "\"\n",
                0600);
      CHECK_THROWS_WITH_AS(ReadCurveKeyFile(path, true),
                           doctest::Contains((path + ":2: public-key: does not match").c_str()),
                           ConfigError);
    }
    SUBCASE("missing file") {
      CHECK_THROWS_WITH_AS(ReadCurveKeyFile(dir.File("absent.key"), false),
                           doctest::Contains("absent.key: cannot open key file"), ConfigError);
    }
  }

  TEST_CASE("authorised keys are read from every public key file of a directory") {
    TempDir dir("curve-authorized");
    const CurveKeyPair a = GenerateCurveKeyPair();
    const CurveKeyPair b = GenerateCurveKeyPair();
    WriteCurveKeyFiles(dir.File("a.key"), a);
    WriteCurveKeyFiles(dir.File("b.key"), b);
    const auto keys = ReadAuthorizedKeys(dir.path.string());
    REQUIRE(keys.size() == 2);
    CHECK(keys[0] == a.public_key);
    CHECK(keys[1] == b.public_key);
    CHECK(ReadAuthorizedKeys(dir.File("b.key")) == std::vector<std::string>{b.public_key});
  }

  TEST_CASE("an authorised CURVE client exchanges messages with a CURVE server over tcp") {
    zmq::context_t context;
    const CurveKeyPair server_keys = GenerateCurveKeyPair();
    const CurveKeyPair client_keys = GenerateCurveKeyPair();
    ChannelServer server(context, "tcp://127.0.0.1:*", TestConfig(),
                         CurveServer(server_keys, {client_keys.public_key}));
    ChannelClient client(context, server.endpoint(), TestConfig(), "node-1",
                         CurveClient(client_keys, server_keys.public_key));
    REQUIRE(client.Send(Hello(1, 5)) == SendStatus::kOk);
    Incoming incoming;
    REQUIRE(server.Receive(incoming) == ReceiveStatus::kOk);
    CHECK(incoming.message.sequence == 5);
    Message reply = Hello(0, 5);
    reply.kind = MessageKind::kAck;
    REQUIRE(server.Send(incoming.peer, reply) == SendStatus::kOk);
    Message received;
    REQUIRE(client.Receive(received) == ReceiveStatus::kOk);
    CHECK(received.kind == MessageKind::kAck);
    const SecurityStats stats = server.security_stats();
    CHECK(stats.authorized == 1);
    CHECK(stats.refused == 0);
  }

  TEST_CASE("a client with an unknown key is refused, counted and never delivers a message") {
    zmq::context_t context;
    const CurveKeyPair server_keys = GenerateCurveKeyPair();
    const CurveKeyPair known = GenerateCurveKeyPair();
    const CurveKeyPair stranger = GenerateCurveKeyPair();
    ChannelServer server(context, "tcp://127.0.0.1:*", TestConfig(),
                         CurveServer(server_keys, {known.public_key}));
    ChannelClient client(context, server.endpoint(), RefusedClientConfig(), "",
                         CurveClient(stranger, server_keys.public_key));
    REQUIRE(client.Send(Hello(9, 1)) == SendStatus::kOk);
    Incoming incoming;
    CHECK(server.Receive(incoming, kRefusalWindow) == ReceiveStatus::kTimeout);
    const SecurityStats stats = WaitForStats(server, [](const auto& s) { return s.refused > 0; });
    CHECK(stats.refused >= 1);
    CHECK(stats.authorized == 0);
    REQUIRE_FALSE(stats.recent_refusals.empty());
    CHECK(stats.recent_refusals.back().public_key == stranger.public_key);
    CHECK(stats.recent_refusals.back().reason == "unknown key");
    CHECK(stats.recent_refusals.back().address == "127.0.0.1");
  }

  TEST_CASE("a plaintext client cannot talk to a CURVE server and the failure is counted") {
    zmq::context_t context;
    const CurveKeyPair server_keys = GenerateCurveKeyPair();
    ChannelServer server(context, "tcp://127.0.0.1:*", TestConfig(),
                         CurveServer(server_keys, {GenerateCurveKeyPair().public_key}));
    ChannelClient client(context, server.endpoint(), RefusedClientConfig());
    REQUIRE(client.Send(Hello(3, 1)) == SendStatus::kOk);
    Incoming incoming;
    CHECK(server.Receive(incoming, kRefusalWindow) == ReceiveStatus::kTimeout);
    const SecurityStats stats =
        WaitForStats(server, [](const auto& s) { return s.handshake_failures > 0; });
    CHECK(stats.handshake_failures >= 1);
    CHECK(stats.authorized == 0);
    CHECK(server.rejections().accepted() == 0);
  }

  TEST_CASE("two CURVE servers in one context share the ZAP handler with their own key lists") {
    zmq::context_t context;
    const CurveKeyPair server_keys = GenerateCurveKeyPair();
    const CurveKeyPair a = GenerateCurveKeyPair();
    const CurveKeyPair b = GenerateCurveKeyPair();
    ChannelServer server_a(context, "tcp://127.0.0.1:*", TestConfig(),
                           CurveServer(server_keys, {a.public_key}));
    auto server_b = std::make_unique<ChannelServer>(context, "tcp://127.0.0.1:*", TestConfig(),
                                                    CurveServer(server_keys, {b.public_key}));
    // b's key opens server b only
    ChannelClient to_a(context, server_a.endpoint(), RefusedClientConfig(), "",
                       CurveClient(b, server_keys.public_key));
    ChannelClient to_b(context, server_b->endpoint(), TestConfig(), "",
                       CurveClient(b, server_keys.public_key));
    REQUIRE(to_b.Send(Hello(2, 1)) == SendStatus::kOk);
    REQUIRE(to_a.Send(Hello(2, 1)) == SendStatus::kOk);
    Incoming incoming;
    CHECK(server_b->Receive(incoming) == ReceiveStatus::kOk);
    CHECK(server_a.Receive(incoming, kRefusalWindow) == ReceiveStatus::kTimeout);
    // the handler outlives the first server and a new one can start after both are gone
    server_b.reset();
    ChannelClient a_to_a(context, server_a.endpoint(), TestConfig(), "",
                         CurveClient(a, server_keys.public_key));
    REQUIRE(a_to_a.Send(Hello(1, 2)) == SendStatus::kOk);
    REQUIRE(server_a.Receive(incoming) == ReceiveStatus::kOk);
    CHECK(incoming.message.sequence == 2);
  }

  TEST_CASE("invalid security settings are rejected before any socket is bound") {
    zmq::context_t context;
    ServerSecurity server;
    server.mechanism = Mechanism::kCurve;
    CHECK_THROWS_WITH_AS(ChannelServer(context, "inproc://curve-invalid", TestConfig(), server),
                         doctest::Contains("keys.secret_key"), std::invalid_argument);
    ClientSecurity client;
    client.mechanism = Mechanism::kCurve;
    client.keys = GenerateCurveKeyPair();
    CHECK_THROWS_WITH_AS(ChannelClient(context, "inproc://x", TestConfig(), "", client),
                         doctest::Contains("server_public_key"), std::invalid_argument);
  }
}

}  // namespace
}  // namespace metajoule::network

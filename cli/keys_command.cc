#include <filesystem>
#include <iostream>
#include <memory>
#include <string>

#include "cli/command.h"
#include "common/error.h"
#include "network/curve.h"

namespace metajoule::cli {

std::function<int()> ConfigureKeys(CLI::App& app) {
  struct Options {
    std::string out;
    std::string name;
    bool force{false};
  };
  auto options = std::make_shared<Options>();
  app.add_option("--out", options->out, "directory for the key files (created if missing)")
      ->required();
  app.add_option("--name", options->name, "key name: writes NAME.key and NAME.key_secret")
      ->required();
  app.add_flag("--force", options->force, "overwrite existing key files");
  app.footer(
      "Writes a CURVE key pair: DIR/NAME.key (the public key, to hand out) and\n"
      "DIR/NAME.key_secret (both keys, mode 0600, to keep). The server reads its _secret file\n"
      "(serve --curve-secret) and a directory of the agents' public keys (--curve-authorized);\n"
      "an agent reads its own _secret file and the server's public key (agent\n"
      "--curve-secret, --curve-server-public).");
  return [options] {
    if (!network::CurveAvailable()) {
      throw ConfigError({}, "keys", "this libzmq was built without CURVE");
    }
    if (options->name.empty() || options->name.find('/') != std::string::npos ||
        options->name.front() == '.') {
      throw ConfigError({}, "--name",
                        "a key name is a file name without '/' that does not start with '.', "
                        "got \"" + options->name + "\"");
    }
    const std::filesystem::path dir(options->out);
    std::filesystem::create_directories(dir);
    const std::string path = (dir / (options->name + ".key")).string();
    if (!options->force &&
        (std::filesystem::exists(path) || std::filesystem::exists(path + "_secret"))) {
      throw ConfigError({}, "--name",
                        path + " or its _secret file exists already (--force overwrites)");
    }
    const network::CurveKeyPair keys = network::GenerateCurveKeyPair();
    network::WriteCurveKeyFiles(path, keys);
    std::cout << "public key " << keys.public_key << "\n"
              << "  " << path << "          (public: give it to the other side)\n"
              << "  " << path << "_secret   (secret: keep it, mode 0600)\n";
    return kExitOk;
  };
}

}  // namespace metajoule::cli

// gctld: the control plane daemon. Wiring only: flags, logging, signals, port file.
#include <pthread.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <stdexcept>
#include <string>

#include "common/logging.h"
#include "controlplane/control_plane.h"

namespace {

struct ListenAddress {
  std::string host;
  int port = 0;
};

// "HOST:PORT" with a decimal port 0..65535; HOST may be a bracketed IPv6 address.
std::optional<ListenAddress> parse_listen(const std::string& listen) {
  const auto colon = listen.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == listen.size()) return std::nullopt;
  const std::string port = listen.substr(colon + 1);
  if (port.size() > 5 || port.find_first_not_of("0123456789") != std::string::npos) {
    return std::nullopt;
  }
  const int value = std::stoi(port);
  if (value > 65535) return std::nullopt;
  return ListenAddress{listen.substr(0, colon), value};
}

// Writes "PORT\n" so that a reader never sees a partial file: temp file, then rename.
void write_port_file(const std::filesystem::path& path, int port) {
  std::filesystem::path tmp = path;
  tmp += ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << port << "\n";
    if (!out.flush()) throw std::runtime_error("cannot write port file " + tmp.string());
  }
  std::filesystem::rename(tmp, path);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"gctld: control plane of the SMTP relay gateway"};
  std::string listen = "127.0.0.1:7070";
  std::string db = "./gctld.db";
  std::string port_file;
  std::string log_level = "info";
  app.add_option("--listen", listen, "gRPC listen address HOST:PORT; port 0 binds a free port")
      ->capture_default_str();
  app.add_option("--db", db, "SQLite database file, created if missing (key file: DB.key)")
      ->capture_default_str();
  app.add_option("--port-file", port_file, "write the bound port here once listening");
  app.add_option("--log-level", log_level, "trace|debug|info|warn|error")
      ->capture_default_str()
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error"}));
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  const auto address = parse_listen(listen);
  if (!address) {
    std::fprintf(stderr, "gctld: error: --listen must be HOST:PORT with PORT 0..65535\n");
    return 2;
  }

  // Block the shutdown signals before any thread starts, so every thread inherits the mask
  // and they arrive only through sigwait() below: no handler, no global flag.
  sigset_t shutdown_signals;
  sigemptyset(&shutdown_signals);
  sigaddset(&shutdown_signals, SIGTERM);
  sigaddset(&shutdown_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &shutdown_signals, nullptr);

  try {
    gw::common::init_logging("gctld", log_level);
    gw::controlplane::ControlPlane control_plane({listen, db});
    if (!port_file.empty()) write_port_file(port_file, control_plane.port());
    spdlog::info("gctld listening on {}:{}", address->host, control_plane.port());

    int signal_number = 0;
    while (sigwait(&shutdown_signals, &signal_number) != 0) {
    }
    spdlog::info("gctld: {} received, shutting down", strsignal(signal_number));
    control_plane.shutdown();
  } catch (const std::exception& e) {
    spdlog::error("gctld: {}", e.what());
    return 1;
  }
  return 0;
}

// gctld: the control plane daemon. Wiring only: flags, logging, signals, port file.
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>

#include <memory>
#include <spdlog/spdlog.h>
#include <absl/synchronization/mutex.h>

#include <CLI/CLI.hpp>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <stdexcept>
#include <string>

#include "common/logging.h"
#include "common/metrics/exporter.h"
#include "controlplane/control_plane.h"
#include "controlplane/listen_address.h"
#include "controlplane/server_tls.h"

namespace {

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
  // Debian builds Abseil without NDEBUG, so every absl::Mutex lock inside gRPC would run the
  // deadlock detector (GraphCycles, under one global lock): measurable CPU on every RPC.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
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
  std::string tls_cert, tls_key, tls_ca;
  auto* cert_opt = app.add_option("--tls-cert", tls_cert, "serve TLS: certificate chain (PEM)")
                       ->check(CLI::ExistingFile);
  auto* key_opt = app.add_option("--tls-key", tls_key, "private key of --tls-cert (PEM)")
                      ->check(CLI::ExistingFile);
  app.add_option("--tls-ca", tls_ca,
                 "require client certificates (nodes, gctl) issued by this CA (PEM)")
      ->check(CLI::ExistingFile);
  unsigned audit_retention_days = 90;
  app.add_option("--audit-retention-days", audit_retention_days,
                 "delete audit records older than this many days (0: keep them forever)")
      ->capture_default_str()
      ->check(CLI::Range(0u, 36500u));
  std::string metrics_listen;
  app.add_option("--metrics-listen", metrics_listen,
                 "serve Prometheus metrics at http://ADDR:PORT/metrics (numeric address, "
                 "e.g. 127.0.0.1:9465; default: off)");
  std::size_t grpc_threads = 1;
  app.add_option("--grpc-threads", grpc_threads,
                 "threads answering decisions and serving the node and audit streams "
                 "(one answers each decision with a single wake-up; more help only when "
                 "many nodes saturate it)")
      ->capture_default_str()
      ->check(CLI::Range(std::size_t{1}, std::size_t{64}));
  std::string admin_token_file;
  app.add_option("--admin-token-file", admin_token_file,
                 "require the token in this file (16-4096 visible ASCII characters) on every "
                 "admin call: gctl --token-file; relay nodes are not asked for it")
      ->check(CLI::ExistingFile);
  bool insecure = false;
  app.add_flag("--insecure", insecure,
               "allow plaintext gRPC on a non-loopback address (snapshots carry keys and "
               "passwords)")
      ->excludes(cert_opt)
      ->excludes(key_opt);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  const auto address = gw::controlplane::parse_listen(listen);
  if (!address) {
    std::fprintf(stderr, "gctld: error: --listen must be HOST:PORT with PORT 0..65535\n");
    return 2;
  }
  if (tls_cert.empty() != tls_key.empty()) {
    std::fprintf(stderr, "gctld: error: --tls-cert and --tls-key go together\n");
    return 2;
  }
  const bool tls = !tls_cert.empty();
  if (!tls_ca.empty() && !tls) {
    std::fprintf(stderr, "gctld: error: --tls-ca needs --tls-cert and --tls-key\n");
    return 2;
  }
  gw::controlplane::AdminGate admin_gate;
  if (!admin_token_file.empty()) {
    try {
      admin_gate = gw::controlplane::AdminGate::from_file(admin_token_file);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "gctld: error: --admin-token-file: %s\n", e.what());
      return 2;
    }
  }
  const bool loopback = gw::controlplane::is_loopback_host(address->host);
  // The node stream hands out private keys and upstream passwords: never in plaintext
  // beyond this machine unless the operator says so.
  if (!tls && !loopback && !insecure) {
    std::fprintf(stderr,
                 "gctld: error: refusing to listen on %s without TLS: relay nodes receive "
                 "private keys and passwords over this port; give --tls-cert and --tls-key "
                 "(and --tls-ca to require client certificates), or --insecure\n",
                 listen.c_str());
    return 2;
  }

  // The database holds password hashes and sealed secrets, and its -wal and -shm files
  // take its mode: files gctld creates are for its own user only (the key file was already).
  umask(077);

  // Block the shutdown signals before any thread starts, so every thread inherits the mask
  // and they arrive only through sigwait() below: no handler, no global flag.
  sigset_t shutdown_signals;
  sigemptyset(&shutdown_signals);
  sigaddset(&shutdown_signals, SIGTERM);
  sigaddset(&shutdown_signals, SIGINT);
  // SIGHUP too, to be logged and ignored: its default action ended gctld without a word
  // when the terminal that started it closed (probe round 40).
  sigaddset(&shutdown_signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &shutdown_signals, nullptr);

  try {
    gw::common::init_logging("gctld", log_level);
    gw::controlplane::ControlPlaneOptions options{listen, db, std::nullopt};
    options.audit_retention = std::chrono::hours(24) * audit_retention_days;
    options.grpc_threads = grpc_threads;
    options.admin_gate = admin_gate;
    if (admin_gate.enabled()) {
      std::error_code ec;
      const auto mode = std::filesystem::status(admin_token_file, ec).permissions();
      using std::filesystem::perms;
      // Readable by a group of its own is an operator's choice (a Kubernetes Secret with
      // fsGroup is 0440); readable by everyone is a leak.
      if (!ec && (mode & perms::others_all) != perms::none) {
        spdlog::warn("gctld: the admin token file {} can be read by every user (chmod 600)",
                     admin_token_file);
      }
      spdlog::info("gctld: admin calls need the admin token");
    } else if (!loopback || tls) {
      spdlog::warn("gctld: no --admin-token-file: anyone who can connect may change the "
                   "configuration{}",
                   options.tls && !options.tls->client_ca_pem.empty()
                       ? " (client certificates are still required)"
                       : "");
    }
    if (tls) {
      options.tls = gw::controlplane::load_server_tls(tls_cert, tls_key, tls_ca);
      if (tls_ca.empty()) {
        spdlog::warn(
            "gctld: TLS without --tls-ca: clients are not authenticated, so anyone who can "
            "connect can watch node snapshots (private keys, passwords)");
      }
    } else if (!loopback) {
      spdlog::warn(
          "gctld: --insecure: plaintext gRPC on {}; node snapshots carry private keys "
          "and passwords",
          listen);
    }
    gw::controlplane::ControlPlane control_plane(options);
    if (!port_file.empty()) write_port_file(port_file, control_plane.port());
    if (tls) {
      spdlog::info("gctld: gRPC over TLS{}",
                   options.tls->client_ca_pem.empty() ? "" : ", client certificates required");
    }
    spdlog::info("gctld listening on {}:{}", address->host, control_plane.port());
    std::unique_ptr<gw::metrics::MetricsExporter> exporter;
    if (!metrics_listen.empty()) {
      exporter = std::make_unique<gw::metrics::MetricsExporter>(
          metrics_listen, [&control_plane] { return control_plane.metrics_text(); });
      spdlog::info("metrics at {}", exporter->url());
      control_plane.reserve_endpoint(metrics_listen, "gctld's metrics listener (--metrics-listen)");
    }

    int signal_number = 0;
    while (sigwait(&shutdown_signals, &signal_number) != 0 || signal_number == SIGHUP) {
      if (signal_number == SIGHUP) {
        spdlog::info("gctld: SIGHUP ignored (there is nothing to reload: the configuration "
                     "is in the database)");
        signal_number = 0;
      }
    }
    spdlog::info("gctld: {} received, shutting down", strsignal(signal_number));
    exporter.reset();  // no scrape during the teardown
    control_plane.shutdown();
  } catch (const std::exception& e) {
    spdlog::error("gctld: {}", e.what());
    return 1;
  }
  return 0;
}

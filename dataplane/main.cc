// grelayd: the relay node. Wiring only: flags, logging, event loop, node agent, listeners.
#include <unistd.h>

#include <absl/synchronization/mutex.h>

#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include <fstream>
#include <functional>
#include <iterator>
#include <memory>
#include <random>
#include <thread>
#include <vector>

#include "common/logging.h"
#include "common/metrics/exporter.h"
#include "common/object_name.h"
#include "common/tls/client_tls_files.h"
#include "dataplane/asio.h"
#include "dataplane/listener_manager.h"
#include "dataplane/node_agent.h"
#include "dataplane/node_metrics.h"
#include "dataplane/node_stop.h"
#include "dataplane/policy_client.h"
#include "dataplane/smtp/address.h"

namespace {

// This run's part of session ids: 40 random bits, base 36 ("k3x90qz1"), so an id is not
// reused after a restart, even one within the same second or after the clock stepped back
// (probe round 43: the start second repeated) (listener.h NodeIdentity::run_id).
std::string random_run_id() {
  std::random_device source;
  std::uint64_t bits = (static_cast<std::uint64_t>(source()) << 32 | source()) & ((1ull << 40) - 1);
  std::string digits;
  for (int i = 0; i < 8; ++i) {  // 36^8 > 2^40
    digits.insert(digits.begin(), "0123456789abcdefghijklmnopqrstuvwxyz"[bits % 36]);
    bits /= 36;
  }
  return digits;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace gw::dataplane;
  // Debian builds Abseil without NDEBUG, so every absl::Mutex lock inside gRPC would run the
  // deadlock detector (GraphCycles, under one global lock): measurable CPU on every RPC.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  CLI::App app{"grelayd: SMTP relay gateway node"};
  NodeAgent::Options agent_options;
  agent_options.control_plane = "127.0.0.1:7070";
  agent_options.instance = "default";
  unsigned threads = 1;
  std::string hostname;
  std::string log_level = "info";
  app.add_option("--control-plane", agent_options.control_plane, "gctld address host:port");
  // gctld's naming rule, checked here: with another id the node would retry its
  // registration forever (probe round 42).
  const CLI::Validator object_name(
      [](std::string& name) -> std::string {
        if (gw::common::is_valid_object_name(name)) return {};
        return std::string(gw::common::kObjectNameRule);
      },
      "NAME");
  app.add_option("--node-id", agent_options.node_id, "unique id of this node")
      ->required()
      ->check(object_name);
  app.add_option("--instance", agent_options.instance, "instance (node group) to serve")
      ->check(object_name);
  app.add_option("--threads", threads,
                 "event-loop threads (each runs its own io_context; sessions are spread over them)")
      ->check(CLI::Range(1u, 64u));
  app.add_option("--hostname", hostname, "name used in banners (default: host name)");
  app.add_option("--log-level", log_level, "trace|debug|info|warn|error");
  std::string metrics_listen;
  app.add_option("--metrics-listen", metrics_listen,
                 "serve Prometheus metrics at http://ADDR:PORT/metrics (numeric address, "
                 "e.g. 127.0.0.1:9464; default: off)");
  // DESIGN.md §7 "bounded": the product of sessions and message size, for DATA policies.
  std::uint64_t max_held_message_octets = 512ull * 1024 * 1024;
  app.add_option("--max-held-message-octets", max_held_message_octets,
                 "message octets all sessions together may hold while DATA policies decide "
                 "(the node's memory peaks at about 3x that); beyond it a message gets "
                 "452 4.3.1 (default 536870912, 0: no bound)");
  unsigned drain_timeout_ms = 10000;
  app.add_option("--drain-timeout", drain_timeout_ms,
                 "on SIGTERM/SIGINT, ms to let sessions finish the command under way (a "
                 "message being received, a wait for the upstream) before they are cut; "
                 "idle sessions get 421 4.3.2 at once (default 10000)");
  std::string tls_ca, tls_cert, tls_key;
  app.add_option("--tls-ca", tls_ca, "CA certificate (PEM file) of gctld: use TLS")
      ->check(CLI::ExistingFile);
  app.add_option("--tls-cert", tls_cert, "client certificate (PEM file) for mTLS")
      ->check(CLI::ExistingFile);
  app.add_option("--tls-key", tls_key, "private key (PEM file) of --tls-cert")
      ->check(CLI::ExistingFile);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // Usage errors exit 2, as gctld and gctl do (CLI11's own codes, 105/106, said nothing
    // to a service manager; probe round 40). --help exits 0.
    return app.exit(e) == 0 ? 0 : 2;
  }
  if (!tls_cert.empty() != !tls_key.empty() || (!tls_cert.empty() && tls_ca.empty())) {
    std::fprintf(stderr, "grelayd: error: --tls-cert and --tls-key go together, with --tls-ca\n");
    return 2;
  }
  if (!tls_ca.empty()) {
    // A file that cannot work is named now, not retried as "Deadline Exceeded" forever
    // (probe round 45), as gctl and gctld do.
    std::string cause;
    gw::common::load_client_tls_files(tls_ca, tls_cert, tls_key, cause);
    if (!cause.empty()) {
      std::fprintf(stderr, "grelayd: error: %s\n", cause.c_str());
      return 2;
    }
  }
  // The name in the banner and the EHLO reply is a Domain (RFC 5321 §4.1.1.1, §4.2): a
  // space or CR/LF there would break or inject reply lines (probe round 45).
  if (!hostname.empty() && !gw::smtp::is_valid_domain(hostname)) {
    std::fprintf(stderr, "grelayd: error: --hostname %s is not a valid host name\n",
                 gw::common::log_escape(hostname).c_str());
    return 2;
  }
  auto slurp = [](const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  };
  if (!tls_ca.empty()) agent_options.tls_ca_pem = slurp(tls_ca);
  if (!tls_cert.empty()) agent_options.tls_cert_pem = slurp(tls_cert);
  if (!tls_key.empty()) agent_options.tls_key_pem = slurp(tls_key);

  try {
    gw::common::init_logging("grelayd", log_level);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "grelayd: error: %s\n", e.what());
    return 2;
  }
  if (hostname.empty()) {
    char buf[256] = {};
    if (gethostname(buf, sizeof buf - 1) == 0) hostname = buf;
    if (hostname.empty() || !gw::smtp::is_valid_domain(hostname)) {
      if (!hostname.empty()) {
        spdlog::warn("host name {} is no valid Domain for the banner: using localhost "
                     "(give --hostname)", gw::common::log_escape(hostname));
      }
      hostname = "localhost";
    }
  }
  agent_options.hostname = hostname;
  agent_options.version = "0.1.0";

  // One io_context per thread; a session lives on one of them and needs no strand. `io`
  // (this thread) also runs the acceptors, the listener manager and the timers below. Its
  // sockets, acceptors and timers are only touched by this thread (other threads — gRPC —
  // only post to it), so its per-socket reactor lock can go (UNSAFE_IO keeps the
  // scheduler's lock for those posts). The other threads' contexts keep every lock: the
  // acceptors register accepted sockets with their reactors from this thread.
  asio::io_context io(BOOST_ASIO_CONCURRENCY_HINT_UNSAFE_IO);
  std::vector<std::unique_ptr<asio::io_context>> more_contexts;
  for (unsigned i = 1; i < threads; ++i) {
    more_contexts.push_back(std::make_unique<asio::io_context>(1));
  }
  auto strand = asio::make_strand(io);
  // The agent is built first: its channel also carries the decisions. Snapshots only
  // reach `listeners` once start() runs, after it exists.
  ListenerManager* listeners_ptr = nullptr;
  std::atomic<std::uint64_t> config_version{0};
  NodeAgent agent(agent_options, [&](gateway::v1::ConfigSnapshot snapshot) {
    config_version.store(snapshot.version(), std::memory_order_relaxed);
    asio::post(strand, [&listeners_ptr, snap = std::move(snapshot)] { listeners_ptr->apply(snap); });
  });
  auto policy_client = std::make_shared<GrpcPolicyClient>(agent.channel());
  NodeIdentity identity{agent_options.node_id, hostname, random_run_id(), policy_client};
  if (threads > 1) {
    identity.session_contexts.push_back(&io);
    for (auto& context : more_contexts) identity.session_contexts.push_back(context.get());
  }
  identity.policy_counters = std::make_shared<PolicyCounters>();
  identity.relay_counters = std::make_shared<RelayCounters>();
  identity.held_messages = std::make_shared<HeldMessageBudget>(max_held_message_octets);
  identity.sessions = std::make_shared<SessionRegistry>();
  std::unique_ptr<gw::metrics::MetricsExporter> exporter;
  if (!metrics_listen.empty()) {
    NodeMetricsSources sources{agent_options.node_id, agent_options.instance,
                               identity.relay_counters.get(), &config_version};
    try {
      exporter = std::make_unique<gw::metrics::MetricsExporter>(
          metrics_listen, [sources] { return render_node_metrics(sources); });
    } catch (const std::exception& e) {
      spdlog::error("grelayd: {}", e.what());
      return 1;
    }
    spdlog::info("metrics at {}", exporter->url());
  }
  // The decision outcomes, once a minute when they changed (and at exit): an operator sees
  // fail-safe answers (unavailable) without a metrics system.
  asio::steady_timer counters_timer(io);
  std::uint64_t counters_logged = 0;
  std::function<void()> log_counters_later = [&] {
    counters_timer.expires_after(std::chrono::seconds(60));
    counters_timer.async_wait([&](const boost::system::error_code& ec) {
      if (ec) return;
      if (identity.policy_counters->total() != counters_logged) {
        counters_logged = identity.policy_counters->total();
        spdlog::info("policy: {}", identity.policy_counters->summary());
      }
      log_counters_later();
    });
  };
  log_counters_later();
  ListenerManager listeners(io, strand, identity);
  listeners_ptr = &listeners;

  auto work = asio::make_work_guard(io);
  std::vector<asio::executor_work_guard<asio::io_context::executor_type>> more_work;
  for (auto& context : more_contexts) more_work.push_back(asio::make_work_guard(*context));
  // SIGTERM/SIGINT: a stop in two steps (RFC 5321 §3.8); SIGHUP ignored (NodeStop).
  NodeStop node_stop(io, *identity.sessions, std::chrono::milliseconds(drain_timeout_ms),
                     {.close_listeners = [&] { asio::post(strand, [&] { listeners.stop_all(); }); },
                      .stop_everything =
                          [&] {
                            counters_timer.cancel();
                            work.reset();
                            io.stop();
                            for (auto& guard : more_work) guard.reset();
                            for (auto& context : more_contexts) context->stop();
                          }});
  node_stop.start();

  spdlog::info("grelayd node={} instance={} control-plane={} threads={}", agent_options.node_id,
               agent_options.instance, agent_options.control_plane, threads);
  agent.start(policy_client->completion_queue(),
              [client = policy_client.get()](const gateway::v1::RegisterNodeResponse& r) {
                client->set_decide_batches(r.decide_batches());
              });
  std::vector<std::thread> pool;
  for (auto& context : more_contexts) pool.emplace_back([&context] { context->run(); });
  io.run();
  for (auto& t : pool) t.join();
  agent.stop();
  spdlog::info("policy: {}", identity.policy_counters->summary());
  return 0;
}

// gw-decision-load: load generator for gateway.v1.DecisionService (issue 4 "Benchmarks";
// decision.proto). --client node (default) asks through the relay node's own client
// (DecideStream, decision_load_node.cc); --client unary makes raw Decide calls on gRPC's
// callback API (decision_load_unary.cc).
//
// Closed loop (default): C callers, each sends its next request when the previous answer
// arrives. Open loop (--rate R): R requests/s in total, sent by C pacing threads at fixed
// intended times whatever the answers do; latency counts from the intended time, so a
// stalled server is not hidden by the generator waiting for it (coordinated omission).
//
// Runs --warmup seconds unmeasured, then --duration seconds measured (calls *started* in
// the window count), waits for the calls in flight, and prints one JSON object on stdout:
//   {"mode", "callers", "channels", "rate_target", "duration_s", "warmup_s", "sent", "ok",
//    "decisions_per_s", "latency_us": {count, mean, min, p50, p90, p99, p99.9, max},
//    "service_latency_us" (open loop: from the actual send), "verdicts": {"VERDICT_...": n},
//    "errors": {"UNAVAILABLE": n, ...}, "skipped" (open loop: over --max-in-flight),
//    "answered_total" / "failed_total" (whole run, warm-up included),
//    "client_cpu_s" (this process's user + system CPU, whole run)}
// Exit status: 0 after a run (errors are in the JSON), 1 when the server cannot be reached,
// 2 on a usage error.
#include <absl/synchronization/mutex.h>

#include <CLI/CLI.hpp>

#include "tests/bench/decision_load.h"

int main(int argc, char** argv) {
  CLI::App app{"gw-decision-load: closed- or open-loop load on DecisionService/Decide"};
  gw::bench::LoadOptions o;
  app.add_option("--target", o.target, "gctld gRPC address HOST:PORT (plaintext)")
      ->capture_default_str();
  app.add_option("--callers", o.callers,
                 "closed loop: concurrent callers; open loop: pacing threads")
      ->check(CLI::Range(1, 4096))
      ->capture_default_str();
  app.add_option("--channels", o.channels, "gRPC channels (TCP connections), callers spread")
      ->check(CLI::Range(1, 256))
      ->capture_default_str();
  app.add_option("--rate", o.rate, "open loop: decisions/s in total (0: closed loop)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  app.add_option("--duration", o.duration_s, "measured seconds")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--warmup", o.warmup_s, "unmeasured seconds before the measurement")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  app.add_option("--deadline-ms", o.deadline_ms, "deadline of each call")
      ->check(CLI::Range(1, 600000))
      ->capture_default_str();
  app.add_option("--max-in-flight", o.max_in_flight,
                 "open loop: calls over this many in flight are skipped and counted")
      ->check(CLI::Range(1, 1000000))
      ->capture_default_str();
  app.add_option("--node-id", o.node_id, "DecisionRequest.node_id")->capture_default_str();
  app.add_option("--service", o.service, "DecisionRequest.service")->capture_default_str();
  app.add_option("--interface-id", o.interface_id, "DecisionRequest.interface_id")
      ->capture_default_str();
  app.add_option("--handler-id", o.handler_id, "DecisionRequest.handler_id (the selected handler)")
      ->capture_default_str();
  app.add_option("--command", o.command, "SMTP command")
      ->check(CLI::IsMember({"helo", "auth", "mail", "rcpt", "data"}))
      ->capture_default_str();
  app.add_option("--mail-from", o.mail_from, "smtp.mail.from (mail, rcpt, data)")
      ->capture_default_str();
  app.add_option("--rcpt-to", o.rcpt_to, "smtp.rcpt.to (rcpt, data)")->capture_default_str();
  app.add_option("--helo-domain", o.helo_domain, "smtp.helo.domain")->capture_default_str();
  app.add_option("--client-address", o.client_address, "DecisionRequest.client_address")
      ->capture_default_str();
  app.add_option("--attr", o.attributes, "extra attribute NAME=VALUE (repeatable)");
  app.add_option("--client", o.client,
                 "node: the relay node's client (one DecideStream per channel); unary: raw "
                 "Decide calls")
      ->check(CLI::IsMember({"node", "unary"}))
      ->capture_default_str();
  app.add_flag("--pretty", o.pretty, "indent the JSON");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  // Debian builds Abseil without NDEBUG, so every absl::Mutex lock inside gRPC runs the
  // deadlock detector (GraphCycles) unless told not to: a few % of the generator's CPU,
  // which on a 2-core machine is taken from the server under test.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  return o.client == "unary" ? gw::bench::run_unary_load(o) : gw::bench::run_node_load(o);
}

// gw-decision-load: load generator for gateway.v1.DecisionService/Decide (issue 4
// "Benchmarks"; decision.proto). Uses gRPC's callback API (stub->async()->Decide).
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
#include <grpcpp/grpcpp.h>
#include <sys/resource.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "gateway/v1/decision.grpc.pb.h"
#include "tests/bench/decision_load_stats.h"

namespace {

namespace v1 = gateway::v1;
namespace bench = gw::bench;
using Clock = std::chrono::steady_clock;  // gRPC deadlines take system_clock

/// Command-line settings of one run.
struct Options {
  std::string target = "127.0.0.1:7070";
  int callers = 1;
  int channels = 1;
  double rate = 0;  // 0: closed loop
  double duration_s = 10;
  double warmup_s = 2;
  int deadline_ms = 1000;
  int max_in_flight = 20000;
  std::string node_id = "bench-load";
  std::string service = "bench";
  std::int64_t interface_id = 0;
  std::int64_t handler_id = 0;
  std::string command = "mail";
  std::string mail_from = "sender@example.com";
  std::string rcpt_to = "rcpt@example.net";
  std::string helo_domain = "client.example";
  std::string client_address = "127.0.0.1:40000";
  std::vector<std::string> attributes;  // NAME=VALUE
  bool pretty = false;
};

/// The status code's name as in grpc/status.h ("UNAVAILABLE").
std::string code_name(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::OK: return "OK";
    case grpc::StatusCode::CANCELLED: return "CANCELLED";
    case grpc::StatusCode::UNKNOWN: return "UNKNOWN";
    case grpc::StatusCode::INVALID_ARGUMENT: return "INVALID_ARGUMENT";
    case grpc::StatusCode::DEADLINE_EXCEEDED: return "DEADLINE_EXCEEDED";
    case grpc::StatusCode::NOT_FOUND: return "NOT_FOUND";
    case grpc::StatusCode::ALREADY_EXISTS: return "ALREADY_EXISTS";
    case grpc::StatusCode::PERMISSION_DENIED: return "PERMISSION_DENIED";
    case grpc::StatusCode::RESOURCE_EXHAUSTED: return "RESOURCE_EXHAUSTED";
    case grpc::StatusCode::FAILED_PRECONDITION: return "FAILED_PRECONDITION";
    case grpc::StatusCode::ABORTED: return "ABORTED";
    case grpc::StatusCode::OUT_OF_RANGE: return "OUT_OF_RANGE";
    case grpc::StatusCode::UNIMPLEMENTED: return "UNIMPLEMENTED";
    case grpc::StatusCode::INTERNAL: return "INTERNAL";
    case grpc::StatusCode::UNAVAILABLE: return "UNAVAILABLE";
    case grpc::StatusCode::DATA_LOSS: return "DATA_LOSS";
    case grpc::StatusCode::UNAUTHENTICATED: return "UNAUTHENTICATED";
    default: return "CODE_" + std::to_string(static_cast<int>(code));
  }
}

/// The request every call sends (session_id is set per call): the attributes a node sends
/// for `command` (DESIGN.md §3), plus the --attr extras.
v1::DecisionRequest request_template(const Options& o) {
  static const std::map<std::string, v1::SmtpCommand> kCommands = {
      {"helo", v1::SMTP_COMMAND_HELO}, {"auth", v1::SMTP_COMMAND_AUTH},
      {"mail", v1::SMTP_COMMAND_MAIL}, {"rcpt", v1::SMTP_COMMAND_RCPT},
      {"data", v1::SMTP_COMMAND_DATA}};
  v1::DecisionRequest r;
  r.set_node_id(o.node_id);
  r.set_service(o.service);
  r.set_interface_id(o.interface_id);
  r.set_command(kCommands.at(o.command));
  r.set_client_address(o.client_address);
  r.set_handler_id(o.handler_id);
  r.set_config_version(0);
  auto& attrs = *r.mutable_attributes();
  attrs["message.protocol.type"] = "smtp";
  attrs["smtp.helo.domain"] = o.helo_domain;
  if (o.command == "auth") attrs["authentication.subject.id"] = "bench";
  if (o.command == "mail" || o.command == "rcpt" || o.command == "data") {
    attrs["smtp.mail.from"] = o.mail_from;
  }
  if (o.command == "rcpt" || o.command == "data") {
    attrs["smtp.rcpt.to"] = o.rcpt_to;
    r.add_recipients(o.rcpt_to);
  }
  if (o.command == "data") {
    r.set_message("From: <" + o.mail_from + ">\r\nTo: <" + o.rcpt_to +
                  ">\r\nSubject: bench\r\n\r\nbench\r\n");
  }
  for (const auto& kv : o.attributes) {
    const auto eq = kv.find('=');
    attrs[kv.substr(0, eq)] = eq == std::string::npos ? "" : kv.substr(eq + 1);
  }
  return r;
}

std::int64_t micros(Clock::duration d) {
  return std::chrono::duration_cast<std::chrono::microseconds>(d).count();
}

/// Shared state of a run: stubs, the measurement window, the recorder and a count of calls
/// still in flight (the main thread waits for it to reach zero).
class Run {
 public:
  Run(const Options& o, std::vector<std::unique_ptr<v1::DecisionService::Stub>> stubs)
      : opts_(o), stubs_(std::move(stubs)), template_(request_template(o)) {}

  const Options& opts() const { return opts_; }
  v1::DecisionService::Stub* stub(int caller) {
    return stubs_[static_cast<std::size_t>(caller) % stubs_.size()].get();
  }
  const v1::DecisionRequest& request() const { return template_; }

  void set_window(Clock::time_point start, Clock::time_point measure_from,
                  Clock::time_point end) {
    start_ = start;
    measure_from_ = measure_from;
    end_ = end;
  }
  Clock::time_point start() const { return start_; }
  Clock::time_point end() const { return end_; }
  bool measured(Clock::time_point intended) const {
    return intended >= measure_from_ && intended < end_;
  }

  /// Records one finished call when it was started inside the window.
  void finish(Clock::time_point intended, Clock::time_point sent, const grpc::Status& status,
              const v1::DecisionResponse& response) {
    (status.ok() ? answered_total_ : failed_total_).fetch_add(1, std::memory_order_relaxed);
    if (measured(intended)) {
      if (status.ok()) {
        const auto now = Clock::now();
        recorder_.ok(micros(now - intended), micros(now - sent),
                     v1::Verdict_Name(response.verdict()));
      } else {
        recorder_.error(code_name(status.error_code()));
      }
    }
  }

  void call_started() { in_flight_.fetch_add(1, std::memory_order_relaxed); }
  void call_ended() {
    if (in_flight_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
      std::lock_guard lock(mu_);
      idle_.notify_all();
    }
  }
  std::int64_t in_flight() const { return in_flight_.load(std::memory_order_relaxed); }
  /// Waits until no call is in flight or `until`; true when none is.
  bool wait_idle(Clock::time_point until) {
    std::unique_lock lock(mu_);
    return idle_.wait_until(lock, until, [this] { return in_flight() == 0; });
  }

  /// Calls answered OK / failed over the whole run, warm-up included (the audit check
  /// compares the audit rows with answered_total()).
  std::uint64_t answered_total() const { return answered_total_.load(); }
  std::uint64_t failed_total() const { return failed_total_.load(); }

  void skipped() { skipped_.fetch_add(1, std::memory_order_relaxed); }
  std::uint64_t skipped_count() const { return skipped_.load(); }
  bench::Recorder& recorder() { return recorder_; }

 private:
  const Options& opts_;
  std::vector<std::unique_ptr<v1::DecisionService::Stub>> stubs_;
  v1::DecisionRequest template_;
  Clock::time_point start_, measure_from_, end_;
  bench::Recorder recorder_;
  std::atomic<std::int64_t> in_flight_{0};
  std::atomic<std::uint64_t> skipped_{0};
  std::atomic<std::uint64_t> answered_total_{0};
  std::atomic<std::uint64_t> failed_total_{0};
  std::mutex mu_;
  std::condition_variable idle_;
};

/// Closed-loop caller: one call at a time; the callback of one call sends the next until
/// the window ends. Its Run outlives it being in flight (main waits for wait_idle()).
class ClosedCaller {
 public:
  ClosedCaller(Run& run, int index) : run_(run), index_(index), request_(run.request()) {}

  void start() {
    run_.call_started();
    issue();
  }

 private:
  void issue() {
    const auto now = Clock::now();
    if (now >= run_.end()) {
      run_.call_ended();
      return;
    }
    context_ = std::make_unique<grpc::ClientContext>();
    context_->set_deadline(std::chrono::system_clock::now() +
                           std::chrono::milliseconds(run_.opts().deadline_ms));
    request_.set_session_id("load-" + std::to_string(index_) + "-" + std::to_string(++seq_));
    response_.Clear();
    sent_ = now;
    run_.stub(index_)->async()->Decide(context_.get(), &request_, &response_,
                                       [this](grpc::Status status) {
                                         run_.finish(sent_, sent_, status, response_);
                                         issue();
                                       });
  }

  Run& run_;
  int index_;
  std::uint64_t seq_ = 0;
  v1::DecisionRequest request_;
  v1::DecisionResponse response_;
  std::unique_ptr<grpc::ClientContext> context_;
  Clock::time_point sent_;
};

/// One open-loop call: owns its context and messages, deletes itself when answered.
struct OpenCall {
  grpc::ClientContext context;
  v1::DecisionRequest request;
  v1::DecisionResponse response;
  Clock::time_point intended, sent;
};

/// Open-loop pacer: sends calls at start + offset + k * interval until the window ends,
/// catching up in a burst after an oversleep (the intended times do not move).
void pace(Run& run, int index, Clock::duration interval, Clock::duration offset) {
  std::uint64_t seq = 0;
  auto next = run.start() + offset;
  while (next < run.end()) {
    std::this_thread::sleep_until(next);
    const auto now = Clock::now();
    while (next <= now && next < run.end()) {
      if (run.in_flight() >= run.opts().max_in_flight) {
        if (run.measured(next)) run.skipped();
        next += interval;
        continue;
      }
      auto* call = new OpenCall;
      call->request = run.request();
      call->request.set_session_id("load-" + std::to_string(index) + "-" + std::to_string(++seq));
      call->intended = next;
      call->sent = Clock::now();
      call->context.set_deadline(std::chrono::system_clock::now() +
                                 std::chrono::milliseconds(run.opts().deadline_ms));
      run.call_started();
      run.stub(index)->async()->Decide(&call->context, &call->request, &call->response,
                                       [&run, call](grpc::Status status) {
                                         run.finish(call->intended, call->sent, status,
                                                    call->response);
                                         delete call;
                                         run.call_ended();
                                       });
      next += interval;
    }
  }
}

std::vector<std::unique_ptr<v1::DecisionService::Stub>> connect(const Options& o) {
  std::vector<std::unique_ptr<v1::DecisionService::Stub>> stubs;
  for (int i = 0; i < o.channels; ++i) {
    grpc::ChannelArguments args;
    // Each channel its own subchannel pool, hence its own TCP connection.
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    auto channel = grpc::CreateCustomChannel(o.target, grpc::InsecureChannelCredentials(), args);
    if (!channel->WaitForConnected(std::chrono::system_clock::now() + std::chrono::seconds(5))) {
      throw std::runtime_error("cannot connect to " + o.target);
    }
    stubs.push_back(v1::DecisionService::NewStub(channel));
  }
  return stubs;
}

int run_load(const Options& o) {
  std::vector<std::unique_ptr<v1::DecisionService::Stub>> stubs;
  try {
    stubs = connect(o);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "gw-decision-load: %s\n", e.what());
    return 1;
  }
  Run run(o, std::move(stubs));
  const auto start = Clock::now();
  const auto measure_from =
      start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(o.warmup_s));
  const auto end = measure_from + std::chrono::duration_cast<Clock::duration>(
                                      std::chrono::duration<double>(o.duration_s));
  run.set_window(start, measure_from, end);

  std::vector<std::unique_ptr<ClosedCaller>> closed;
  std::vector<std::thread> pacers;
  if (o.rate <= 0) {
    for (int i = 0; i < o.callers; ++i) closed.push_back(std::make_unique<ClosedCaller>(run, i));
    for (auto& c : closed) c->start();
    std::this_thread::sleep_until(end);
  } else {
    const auto interval = std::chrono::duration_cast<Clock::duration>(
        std::chrono::duration<double>(o.callers / o.rate));
    for (int i = 0; i < o.callers; ++i) {
      pacers.emplace_back(pace, std::ref(run), i, interval, interval * i / o.callers);
    }
    for (auto& t : pacers) t.join();
  }
  const bool drained =
      run.wait_idle(Clock::now() + std::chrono::milliseconds(o.deadline_ms + 5000));
  if (!drained) {
    std::fprintf(stderr, "gw-decision-load: %lld calls still in flight after the deadline\n",
                 static_cast<long long>(run.in_flight()));
    std::fflush(stderr);
    std::_Exit(1);  // the callbacks still reference `run`
  }

  auto totals = run.recorder().take();
  const auto latency = bench::summarize(totals.latency_us);
  const auto service = bench::summarize(totals.service_us);
  std::uint64_t errors = 0;
  for (const auto& [_, n] : totals.errors) errors += n;
  nlohmann::json out = {
      {"mode", o.rate > 0 ? "open" : "closed"},
      {"target", o.target},
      {"service", o.service},
      {"command", o.command},
      {"handler_id", o.handler_id},
      {"callers", o.callers},
      {"channels", o.channels},
      {"rate_target", o.rate},
      {"duration_s", o.duration_s},
      {"warmup_s", o.warmup_s},
      {"sent", latency.count + errors},
      {"ok", latency.count},
      {"decisions_per_s", std::round(static_cast<double>(latency.count) / o.duration_s * 10) / 10},
      {"latency_us", bench::to_json(latency)},
      {"answered_total", run.answered_total()},
      {"failed_total", run.failed_total()},
      {"verdicts", totals.verdicts},
      {"errors", totals.errors},
  };
  if (o.rate > 0) {
    out["service_latency_us"] = bench::to_json(service);
    out["skipped"] = run.skipped_count();
  }
  rusage usage{};
  if (getrusage(RUSAGE_SELF, &usage) == 0) {
    const auto seconds = [](const timeval& t) { return static_cast<double>(t.tv_sec) + t.tv_usec / 1e6; };
    out["client_cpu_s"] = std::round((seconds(usage.ru_utime) + seconds(usage.ru_stime)) * 1000) / 1000;
  }
  std::printf("%s\n", out.dump(o.pretty ? 2 : -1).c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"gw-decision-load: closed- or open-loop load on DecisionService/Decide"};
  Options o;
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
  return run_load(o);
}

// gw-decision-load --client node: decisions through the relay node's own client
// (dataplane::GrpcPolicyClient: one DecideStream per client, Asio timers for the timeout,
// results posted to the io_context), driven from one io_context thread the way grelayd
// --threads 1 runs its sessions. Closed or open loop as decision_load.cc says.
#include <grpcpp/grpcpp.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "dataplane/asio.h"
#include "dataplane/policy_client.h"
#include "tests/bench/decision_load.h"

namespace gw::bench {
namespace {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;
using dataplane::Decision;

std::int64_t micros(Clock::duration d) {
  return std::chrono::duration_cast<std::chrono::microseconds>(d).count();
}

/// The state of one run; only ever touched on the io_context's one thread.
struct NodeRun {
  const LoadOptions& o;
  std::vector<std::unique_ptr<dataplane::GrpcPolicyClient>> clients;
  gateway::v1::DecisionRequest request;
  Clock::time_point start, measure_from, end;
  Recorder recorder;
  RunCounts counts;
  std::int64_t in_flight = 0;

  bool measured(Clock::time_point intended) const {
    return intended >= measure_from && intended < end;
  }

  /// One call: asks client `index % clients`, records the outcome by the node's view of it
  /// (any failure, a timeout included, is kUnavailable and counted as "UNAVAILABLE").
  gw::dataplane::awaitable<void> call(int index, std::uint64_t seq, Clock::time_point intended) {
    gateway::v1::DecisionRequest r = request;
    r.set_session_id("load-" + std::to_string(index) + "-" + std::to_string(seq));
    auto& client = *clients[static_cast<std::size_t>(index) % clients.size()];
    const auto sent = Clock::now();
    ++in_flight;
    Decision d = co_await client.decide(std::move(r), std::chrono::milliseconds(o.deadline_ms));
    --in_flight;
    const bool ok = d.outcome != Decision::Outcome::kUnavailable;
    ++(ok ? counts.answered_total : counts.failed_total);
    if (!measured(intended)) co_return;
    if (!ok) {
      recorder.error("UNAVAILABLE");
      co_return;
    }
    const auto now = Clock::now();
    const char* verdict = d.outcome == Decision::Outcome::kContinue ? "VERDICT_CONTINUE"
                          : d.outcome == Decision::Outcome::kReject  ? "VERDICT_REJECT"
                                                                     : "VERDICT_TEMPFAIL";
    recorder.ok(micros(now - intended), micros(now - sent), verdict);
  }

  /// Closed loop: one call at a time until the window ends.
  gw::dataplane::awaitable<void> caller(int index) {
    std::uint64_t seq = 0;
    while (Clock::now() < end) {
      co_await call(index, ++seq, Clock::now());
    }
  }

  /// Open loop: a call at every intended time start + k * interval, whatever the answers
  /// do, catching up in a burst after a late wake-up; over --max-in-flight they are
  /// skipped and counted.
  gw::dataplane::awaitable<void> pacer(Clock::duration interval) {
    gw::dataplane::SteadyTimer timer(co_await asio::this_coro::executor);
    std::uint64_t seq = 0;
    auto next = start;
    int index = 0;
    while (next < end) {
      timer.expires_at(next);
      co_await timer.async_wait(gw::dataplane::use_awaitable);
      const auto now = Clock::now();
      while (next <= now && next < end) {
        if (in_flight >= o.max_in_flight) {
          if (measured(next)) ++counts.skipped;
        } else {
          asio::co_spawn(timer.get_executor(), call(index, ++seq, next), asio::detached);
          index = (index + 1) % o.callers;
        }
        next += interval;
      }
    }
  }
};

}  // namespace

int run_node_load(const LoadOptions& o) {
  NodeRun run{o, {}, request_template(o), {}, {}, {}, {}, {}, 0};
  for (int i = 0; i < o.channels; ++i) {
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);  // one TCP connection per client
    auto channel = grpc::CreateCustomChannel(o.target, grpc::InsecureChannelCredentials(), args);
    if (!channel->WaitForConnected(std::chrono::system_clock::now() + std::chrono::seconds(5))) {
      std::fprintf(stderr, "gw-decision-load: cannot connect to %s\n", o.target.c_str());
      return 1;
    }
    run.clients.push_back(std::make_unique<dataplane::GrpcPolicyClient>(channel));
  }
  asio::io_context io(BOOST_ASIO_CONCURRENCY_HINT_UNSAFE_IO);
  run.start = Clock::now();
  run.measure_from = run.start + std::chrono::duration_cast<Clock::duration>(
                                     std::chrono::duration<double>(o.warmup_s));
  run.end = run.measure_from + std::chrono::duration_cast<Clock::duration>(
                                   std::chrono::duration<double>(o.duration_s));
  if (o.rate <= 0) {
    for (int i = 0; i < o.callers; ++i) asio::co_spawn(io, run.caller(i), asio::detached);
  } else {
    const auto interval = std::chrono::duration_cast<Clock::duration>(
        std::chrono::duration<double>(1.0 / o.rate));
    asio::co_spawn(io, run.pacer(interval), asio::detached);
  }
  io.run();  // returns when every call has been answered or timed out
  run.counts.totals = run.recorder.take();
  const auto out = report(o, std::move(run.counts));
  std::printf("%s\n", out.dump(o.pretty ? 2 : -1).c_str());
  return 0;
}

}  // namespace gw::bench

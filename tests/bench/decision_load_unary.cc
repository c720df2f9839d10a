// gw-decision-load --client unary: raw DecisionService/Decide calls on gRPC's callback API
// (stub->async()->Decide), closed or open loop (see decision_load.cc).
#include <grpcpp/grpcpp.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "gateway/v1/decision.grpc.pb.h"
#include "tests/bench/decision_load.h"

namespace gw::bench {
namespace {

namespace v1 = gateway::v1;
using Clock = std::chrono::steady_clock;  // gRPC deadlines take system_clock

std::int64_t micros(Clock::duration d) {
  return std::chrono::duration_cast<std::chrono::microseconds>(d).count();
}

/// Shared state of a run: stubs, the measurement window, the recorder and a count of calls
/// still in flight (the main thread waits for it to reach zero).
class Run {
 public:
  Run(const LoadOptions& o, std::vector<std::unique_ptr<v1::DecisionService::Stub>> stubs)
      : opts_(o), stubs_(std::move(stubs)), template_(request_template(o)) {}

  const LoadOptions& opts() const { return opts_; }
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
  Recorder& recorder() { return recorder_; }

 private:
  const LoadOptions& opts_;
  std::vector<std::unique_ptr<v1::DecisionService::Stub>> stubs_;
  v1::DecisionRequest template_;
  Clock::time_point start_, measure_from_, end_;
  Recorder recorder_;
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

std::vector<std::unique_ptr<v1::DecisionService::Stub>> connect(const LoadOptions& o) {
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

}  // namespace

int run_unary_load(const LoadOptions& o) {
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

  RunCounts counts{run.recorder().take(), run.answered_total(), run.failed_total(),
                   run.skipped_count()};
  const auto out = report(o, std::move(counts));
  std::printf("%s\n", out.dump(o.pretty ? 2 : -1).c_str());
  return 0;
}

}  // namespace gw::bench

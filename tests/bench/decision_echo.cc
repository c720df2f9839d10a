// gw-decision-echo: a DecisionService that answers every DecideStream call at once with
// VERDICT_CONTINUE and a fixed decision id: no policy, no audit, no SQLite. It is the
// baseline decision_bench.sh measures gctld against in the same run (issue 4
// "Benchmarks"; house rule: benchmark numbers as ratios against a baseline): the latency
// the load generator sees against it is what gRPC, the node's client and this machine's
// thread wake-ups cost before gctld does any work.
//
//   --api callback  the gRPC callback API, as gctld served DecideStream up to session 6
//                   (ServerBidiReactor; gRPC's own threads run the reactions)
//   --api cq        the asynchronous completion-queue API with one thread of its own that
//                   polls the sockets and runs every step (the fewest thread hand-offs
//                   gRPC allows), as gctld serves it now (CqServerQueue, one thread)
//
// Decide (unary) is not served (UNIMPLEMENTED): nodes only use it for DATA.
// Prints nothing; writes the bound port to --port-file. Runs until SIGTERM/SIGINT.
// Exit status: 0 after a signal, 1 when it cannot listen, 2 on a usage error.
#include <absl/synchronization/mutex.h>
#include <grpcpp/grpcpp.h>
#include <signal.h>

#include <CLI/CLI.hpp>
#include <csignal>
#include <cstdio>
#include <deque>
#include <fstream>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>

#include "gateway/v1/decision.grpc.pb.h"

namespace {

namespace v1 = gateway::v1;

/// The answer to `call`: call id echoed, VERDICT_CONTINUE, a fixed UUIDv7-shaped id (the
/// size of gctld's ids, so the frames are as large).
v1::DecisionResult answer(const v1::DecisionCall& call) {
  v1::DecisionResult result;
  result.set_call_id(call.call_id());
  auto* response = result.mutable_response();
  response->set_decision_id("01900000-0000-7000-8000-000000000000");
  response->set_verdict(v1::VERDICT_CONTINUE);
  return result;
}

/// Answers waiting to be written, at most one write in flight; a write with more answers
/// behind it carries gRPC's buffer hint (as gctld's DecisionStreamReactor does).
struct WriteQueue {
  std::deque<v1::DecisionResult> ready;
  v1::DecisionResult current;  // the write in flight
  bool writing = false;

  /// Moves the next answer into `current` and says how to write it; false when a write is
  /// in flight or nothing waits.
  bool next(grpc::WriteOptions& options) {
    if (writing || ready.empty()) return false;
    current = std::move(ready.front());
    ready.pop_front();
    writing = true;
    if (!ready.empty()) options.set_buffer_hint();
    return true;
  }
};

/// --api callback: one reactor per stream; answers are written in order, at most one write
/// in flight, as controlplane::DecisionStreamReactor does.
class CallbackStream final : public grpc::ServerBidiReactor<v1::DecisionCall, v1::DecisionResult> {
 public:
  CallbackStream() { StartRead(&incoming_); }

  void OnReadDone(bool ok) override {
    std::unique_lock lock(mu_);
    if (!ok) {
      reads_done_ = true;
      maybe_finish(lock);
      return;
    }
    out_.ready.push_back(answer(incoming_));
    lock.unlock();
    StartRead(&incoming_);
    lock.lock();
    maybe_write(lock);
  }

  void OnWriteDone(bool ok) override {
    std::unique_lock lock(mu_);
    out_.writing = false;
    if (!ok) out_.ready.clear();
    maybe_write(lock);
    if (!out_.writing) maybe_finish(lock);
  }

  void OnDone() override { delete this; }

 private:
  void maybe_write(std::unique_lock<std::mutex>& lock) {
    grpc::WriteOptions options;
    if (!out_.next(options)) return;
    lock.unlock();
    StartWrite(&out_.current, options);
    lock.lock();
  }
  void maybe_finish(std::unique_lock<std::mutex>& lock) {
    if (!reads_done_ || out_.writing || finished_) return;
    finished_ = true;
    lock.unlock();
    Finish(grpc::Status::OK);
    lock.lock();
  }

  v1::DecisionCall incoming_;
  std::mutex mu_;
  WriteQueue out_;
  bool reads_done_ = false;
  bool finished_ = false;
};

class CallbackService final : public v1::DecisionService::CallbackService {
  grpc::ServerBidiReactor<v1::DecisionCall, v1::DecisionResult>* DecideStream(
      grpc::CallbackServerContext* /*ctx*/) override {
    return new CallbackStream();
  }
};

/// --api cq: one stream's state; every step is a completion-queue tag handled on the one
/// thread that calls Next().
class CqStream {
 public:
  CqStream(v1::DecisionService::AsyncService& service, grpc::ServerCompletionQueue& cq)
      : service_(service), cq_(cq) {
    service_.RequestDecideStream(&context_, &stream_, &cq_, &cq_, &accepted_);
  }

  struct Step {
    CqStream* stream;
    void (CqStream::*on)(bool ok);
  };

 private:
  void on_accepted(bool ok) {
    if (!ok) {  // the server is shutting down: no more accepts
      delete this;
      return;
    }
    new CqStream(service_, cq_);  // the next stream's accept
    stream_.Read(&incoming_, &read_);
  }
  void on_read(bool ok) {
    if (!ok) {
      reads_done_ = true;
      if (!out_.writing) finish();
      return;
    }
    out_.ready.push_back(answer(incoming_));
    stream_.Read(&incoming_, &read_);
    write_next();
  }
  void on_written(bool ok) {
    out_.writing = false;
    if (!ok) out_.ready.clear();
    write_next();
    if (!out_.writing && reads_done_) finish();
  }
  void on_finished(bool /*ok*/) { delete this; }

  void write_next() {
    grpc::WriteOptions options;
    if (out_.next(options)) stream_.Write(out_.current, options, &written_);
  }
  void finish() {
    if (finishing_) return;
    finishing_ = true;
    stream_.Finish(grpc::Status::OK, &finished_);
  }

  v1::DecisionService::AsyncService& service_;
  grpc::ServerCompletionQueue& cq_;
  grpc::ServerContext context_;
  grpc::ServerAsyncReaderWriter<v1::DecisionResult, v1::DecisionCall> stream_{&context_};
  Step accepted_{this, &CqStream::on_accepted};
  Step read_{this, &CqStream::on_read};
  Step written_{this, &CqStream::on_written};
  Step finished_{this, &CqStream::on_finished};
  v1::DecisionCall incoming_;
  WriteQueue out_;
  bool reads_done_ = false;
  bool finishing_ = false;
};

bool write_port_file(const std::string& path, int port) {
  std::ofstream out(path, std::ios::trunc);
  out << port << "\n";
  return static_cast<bool>(out.flush());
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"gw-decision-echo: a DecisionService answering every call with CONTINUE"};
  std::string listen = "127.0.0.1:0";
  std::string port_file;
  std::string api = "callback";
  app.add_option("--listen", listen, "HOST:PORT; port 0 binds a free port")->capture_default_str();
  app.add_option("--port-file", port_file, "write the bound port here once listening");
  app.add_option("--api", api,
                 "callback: gRPC's callback API (as gctld); cq: one thread polling "
                 "a completion queue")
      ->check(CLI::IsMember({"callback", "cq"}))
      ->capture_default_str();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);  // as gctld does

  // Signals are taken synchronously by a waiting thread, which shuts the server down.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  CallbackService callback_service;
  v1::DecisionService::AsyncService async_service;
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(listen, grpc::InsecureServerCredentials(), &port);
  std::unique_ptr<grpc::ServerCompletionQueue> cq;
  if (api == "callback") {
    builder.RegisterService(&callback_service);
  } else {
    builder.RegisterService(&async_service);
    cq = builder.AddCompletionQueue();
  }
  auto server = builder.BuildAndStart();
  if (!server || port == 0) {
    std::fprintf(stderr, "gw-decision-echo: cannot listen on %s\n", listen.c_str());
    return 1;
  }
  if (!port_file.empty() && !write_port_file(port_file, port)) {
    std::fprintf(stderr, "gw-decision-echo: cannot write %s\n", port_file.c_str());
    return 1;
  }
  std::thread poller;
  if (cq) {
    new CqStream(async_service, *cq);
    poller = std::thread([&cq] {
      void* tag = nullptr;
      bool ok = false;
      while (cq->Next(&tag, &ok)) {
        auto* step = static_cast<CqStream::Step*>(tag);
        (step->stream->*(step->on))(ok);
      }
    });
  }
  int signal = 0;
  sigwait(&signals, &signal);
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
  if (cq) {
    cq->Shutdown();
    poller.join();
  }
  return 0;
}

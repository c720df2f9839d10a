// GrpcPolicyClient against a real gRPC server (a scripted DecisionService on loopback):
// results matched to their callers on one shared DecideStream, the per-call timeout, the
// stream reopened after the server went away, DATA on unary Decide.
#include "dataplane/policy_client.h"

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "gateway/v1/decision.grpc.pb.h"

namespace gw::dataplane {
namespace {

namespace v1 = gateway::v1;

/// Answers by the request's "test.mode" attribute: "continue", "reject", or "silent" (never
/// answers). Counts streams and unary calls.
class ScriptedDecisions final : public v1::DecisionService::Service {
 public:
  std::atomic<int> streams{0};
  std::atomic<int> unary_calls{0};

  grpc::Status Decide(grpc::ServerContext* context, const v1::DecisionRequest* request,
                      v1::DecisionResponse* response) override {
    ++unary_calls;
    if (request->attributes().at("test.mode") == "silent") {
      // Until the client cancels or its deadline passes (the server thread waits).
      while (!context->IsCancelled()) std::this_thread::sleep_for(std::chrono::milliseconds(5));
      return grpc::Status(grpc::StatusCode::CANCELLED, "cancelled");
    }
    *response = answer(*request);
    return grpc::Status::OK;
  }

  grpc::Status DecideStream(
      grpc::ServerContext*,
      grpc::ServerReaderWriter<v1::DecisionResult, v1::DecisionCall>* stream) override {
    ++streams;
    v1::DecisionCall call;
    while (stream->Read(&call)) {
      if (call.request().attributes().at("test.mode") == "silent") continue;
      v1::DecisionResult result;
      result.set_call_id(call.call_id());
      *result.mutable_response() = answer(call.request());
      if (!stream->Write(result)) break;
    }
    return grpc::Status::OK;
  }

  grpc::Status DecideBatches(
      grpc::ServerContext*,
      grpc::ServerReaderWriter<v1::DecisionResultBatch, v1::DecisionCallBatch>* stream) override {
    ++batch_streams;
    v1::DecisionCallBatch batch;
    while (stream->Read(&batch)) {
      batch_calls += batch.calls_size();
      ++batches;
      largest_batch = std::max(largest_batch.load(), batch.calls_size());
      v1::DecisionResultBatch results;
      for (const v1::DecisionCall& call : batch.calls()) {
        if (call.request().attributes().at("test.mode") == "silent") continue;
        v1::DecisionResult* result = results.add_results();
        result->set_call_id(call.call_id());
        *result->mutable_response() = answer(call.request());
      }
      if (results.results_size() > 0 && !stream->Write(results)) break;
    }
    return grpc::Status::OK;
  }

  std::atomic<int> batch_streams{0};
  std::atomic<int> batches{0};
  std::atomic<int> batch_calls{0};
  std::atomic<int> largest_batch{0};

 private:
  static v1::DecisionResponse answer(const v1::DecisionRequest& request) {
    v1::DecisionResponse r;
    r.set_decision_id("d-" + request.session_id());
    if (request.attributes().at("test.mode") == "reject") {
      r.set_verdict(v1::VERDICT_REJECT);
      r.mutable_reply()->set_code(550);
      r.mutable_reply()->set_enhanced_code("5.7.1");
      r.mutable_reply()->set_text("no");
    } else {
      r.set_verdict(v1::VERDICT_CONTINUE);
    }
    return r;
  }
};

/// A DecisionService server on loopback; port 0 picks a free one.
struct TestServer {
  ScriptedDecisions service;
  std::unique_ptr<grpc::Server> server;
  int port = 0;

  explicit TestServer(int wanted_port = 0) {
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:" + std::to_string(wanted_port),
                             grpc::InsecureServerCredentials(), &port);
    builder.RegisterService(&service);
    server = builder.BuildAndStart();
  }
  ~TestServer() { stop(); }
  void stop() {
    if (server) server->Shutdown(std::chrono::system_clock::now() + std::chrono::milliseconds(100));
    server.reset();
  }
};

v1::DecisionRequest request(const std::string& mode, const std::string& session,
                            v1::SmtpCommand command = v1::SMTP_COMMAND_MAIL) {
  v1::DecisionRequest r;
  r.set_session_id(session);
  r.set_command(command);
  (*r.mutable_attributes())["test.mode"] = mode;
  return r;
}

class PolicyClientTest : public ::testing::Test {
 protected:
  std::shared_ptr<grpc::Channel> channel(int port) {
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
    args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 200);
    return grpc::CreateCustomChannel("127.0.0.1:" + std::to_string(port),
                                     grpc::InsecureChannelCredentials(), args);
  }

  /// Runs `body` as a coroutine on io_ until it finishes (at most 20 s).
  template <typename F>
  void run(F body) {
    bool done = false;
    asio::co_spawn(io_, [&]() -> awaitable<void> {
      co_await body();
      done = true;
    }, asio::detached);
    io_.run_for(std::chrono::seconds(20));
    io_.restart();
    ASSERT_TRUE(done) << "the coroutine did not finish";
  }

  /// Runs io_ until `done` is set or `limit` has passed since the call.
  void run_until(const bool& done, std::chrono::seconds limit) {
    const auto start = std::chrono::steady_clock::now();
    while (!done && std::chrono::steady_clock::now() - start < limit) {
      io_.run_for(std::chrono::milliseconds(20));
      io_.restart();
    }
  }

  asio::io_context io_;
};

TEST_F(PolicyClientTest, ConcurrentDecisionsShareOneStreamAndGetTheirOwnAnswers) {
  TestServer server;
  ASSERT_GT(server.port, 0);
  GrpcPolicyClient client(channel(server.port));
  constexpr int kCalls = 60;
  std::vector<Decision> decisions(kCalls);
  int finished = 0;
  for (int i = 0; i < kCalls; ++i) {
    asio::co_spawn(io_, [&, i]() -> awaitable<void> {
      decisions[static_cast<std::size_t>(i)] = co_await client.decide(
          request(i % 3 == 0 ? "reject" : "continue", "s" + std::to_string(i)),
          std::chrono::seconds(5));
      ++finished;
    }, asio::detached);
  }
  io_.run_for(std::chrono::seconds(20));
  ASSERT_EQ(finished, kCalls);
  for (int i = 0; i < kCalls; ++i) {
    const Decision& d = decisions[static_cast<std::size_t>(i)];
    EXPECT_EQ(d.decision_id, "d-s" + std::to_string(i));
    if (i % 3 == 0) {
      EXPECT_EQ(d.outcome, Decision::Outcome::kReject);
      EXPECT_EQ(d.reply.code, 550);
      EXPECT_EQ(d.reply.lines.at(0), "5.7.1 no (decision d-s" + std::to_string(i) + ")");
    } else {
      EXPECT_EQ(d.outcome, Decision::Outcome::kContinue) << d.error;
    }
  }
  EXPECT_EQ(server.service.streams.load(), 1);
  EXPECT_EQ(server.service.unary_calls.load(), 0);
}

TEST_F(PolicyClientTest, WithDecideBatchesQueuedCallsLeaveTogether) {
  // Once gctld said it serves DecideBatches (NodeAgent: RegisterNodeResponse), calls queued
  // behind the write in flight leave in one message; each still gets its own answer.
  TestServer server;
  GrpcPolicyClient client(channel(server.port));
  client.set_decide_batches(true);
  constexpr int kCalls = 200;
  std::vector<Decision> decisions(kCalls);
  int finished = 0;
  for (int i = 0; i < kCalls; ++i) {
    asio::co_spawn(io_, [&, i]() -> awaitable<void> {
      decisions[static_cast<std::size_t>(i)] = co_await client.decide(
          request(i % 4 == 0 ? "reject" : "continue", "b" + std::to_string(i)),
          std::chrono::seconds(5));
      ++finished;
    }, asio::detached);
  }
  const auto start = std::chrono::steady_clock::now();
  while (finished < kCalls && std::chrono::steady_clock::now() - start < std::chrono::seconds(20)) {
    io_.run_for(std::chrono::milliseconds(20));
    io_.restart();
  }
  ASSERT_EQ(finished, kCalls);
  for (int i = 0; i < kCalls; ++i) {
    const Decision& d = decisions[static_cast<std::size_t>(i)];
    EXPECT_EQ(d.decision_id, "d-b" + std::to_string(i));
    EXPECT_EQ(d.outcome, i % 4 == 0 ? Decision::Outcome::kReject : Decision::Outcome::kContinue)
        << d.error;
  }
  EXPECT_EQ(server.service.batch_streams.load(), 1);
  EXPECT_EQ(server.service.streams.load(), 0);
  EXPECT_EQ(server.service.batch_calls.load(), kCalls);
  EXPECT_LT(server.service.batches.load(), kCalls) << "no call was sent together with another";
  EXPECT_LE(server.service.largest_batch.load(), DecisionStream::kMaxBatch);
}

TEST_F(PolicyClientTest, UnansweredCallTimesOutAndTheStreamGoesOn) {
  TestServer server;
  GrpcPolicyClient client(channel(server.port));
  run([&]() -> awaitable<void> {
    const auto t0 = std::chrono::steady_clock::now();
    Decision silent =
        co_await client.decide(request("silent", "quiet"), std::chrono::milliseconds(150));
    const auto waited = std::chrono::steady_clock::now() - t0;
    EXPECT_EQ(silent.outcome, Decision::Outcome::kUnavailable);
    EXPECT_GE(waited, std::chrono::milliseconds(140));
    EXPECT_LT(waited, std::chrono::seconds(3));
    Decision next = co_await client.decide(request("continue", "after"), std::chrono::seconds(5));
    EXPECT_EQ(next.outcome, Decision::Outcome::kContinue) << next.error;
  });
  EXPECT_EQ(server.service.streams.load(), 1);
}

TEST_F(PolicyClientTest, ServerGoneIsUnavailableThenTheStreamReopens) {
  auto server = std::make_unique<TestServer>();
  const int port = server->port;
  GrpcPolicyClient client(channel(port));
  run([&]() -> awaitable<void> {
    Decision first = co_await client.decide(request("continue", "a"), std::chrono::seconds(5));
    EXPECT_EQ(first.outcome, Decision::Outcome::kContinue) << first.error;
  });
  // A call waiting when the server goes away fails at once, not at its timeout.
  Decision waiting;
  bool waiting_done = false;
  asio::co_spawn(io_, [&]() -> awaitable<void> {
    waiting = co_await client.decide(request("silent", "w"), std::chrono::seconds(30));
    waiting_done = true;
  }, asio::detached);
  io_.run_for(std::chrono::milliseconds(200));
  const auto t0 = std::chrono::steady_clock::now();
  server->stop();
  run_until(waiting_done, std::chrono::seconds(10));
  ASSERT_TRUE(waiting_done);
  EXPECT_EQ(waiting.outcome, Decision::Outcome::kUnavailable);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(10));
  run([&]() -> awaitable<void> {
    Decision down = co_await client.decide(request("continue", "b"), std::chrono::seconds(2));
    EXPECT_EQ(down.outcome, Decision::Outcome::kUnavailable);
  });
  TestServer again(port);
  ASSERT_EQ(again.port, port);
  run([&]() -> awaitable<void> {
    Decision d;
    for (int attempt = 0; attempt < 50; ++attempt) {
      d = co_await client.decide(request("continue", "c"), std::chrono::seconds(2));
      if (d.outcome == Decision::Outcome::kContinue) break;
      SteadyTimer pause(co_await asio::this_coro::executor, std::chrono::milliseconds(100));
      co_await pause.async_wait(use_awaitable);
    }
    EXPECT_EQ(d.outcome, Decision::Outcome::kContinue) << d.error;
  });
  EXPECT_EQ(again.service.streams.load(), 1);
}

TEST_F(PolicyClientTest, ACancelledDecisionEndsAtOnceOnTheStreamAndAsUnaryCall) {
  // A session whose client reset while its decision was out cancels it (RelaySession's
  // client watch): decide() must return at once, long before its 30 s timeout, for a
  // stream decision (MAIL) and for a unary one (DATA); the stream goes on afterwards.
  TestServer server;
  GrpcPolicyClient client(channel(server.port));
  for (v1::SmtpCommand command : {v1::SMTP_COMMAND_MAIL, v1::SMTP_COMMAND_DATA}) {
    SCOPED_TRACE(v1::SmtpCommand_Name(command));
    DecisionCancellation cancellation;
    Decision decision;
    bool done = false;
    asio::co_spawn(io_, [&]() -> awaitable<void> {
      decision = co_await client.decide(request("silent", "gone", command),
                                        std::chrono::seconds(30), &cancellation);
      done = true;
    }, asio::detached);
    io_.run_for(std::chrono::milliseconds(300));
    io_.restart();
    ASSERT_FALSE(done) << "a silent server answered";
    const auto t0 = std::chrono::steady_clock::now();
    asio::post(io_, [&] { cancellation.cancel(); });
    run_until(done, std::chrono::seconds(10));
    ASSERT_TRUE(done);
    EXPECT_EQ(decision.outcome, Decision::Outcome::kUnavailable);
    EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(3));
    cancellation.cancel();  // again, after the end: nothing happens
  }
  run([&]() -> awaitable<void> {
    Decision next = co_await client.decide(request("continue", "after"), std::chrono::seconds(5));
    EXPECT_EQ(next.outcome, Decision::Outcome::kContinue) << next.error;
  });
  EXPECT_EQ(server.service.streams.load(), 1);
  EXPECT_EQ(server.service.unary_calls.load(), 1);
}

TEST_F(PolicyClientTest, DataDecisionsUseUnaryDecide) {
  TestServer server;
  GrpcPolicyClient client(channel(server.port));
  run([&]() -> awaitable<void> {
    Decision d = co_await client.decide(request("reject", "m", v1::SMTP_COMMAND_DATA),
                                        std::chrono::seconds(5));
    EXPECT_EQ(d.outcome, Decision::Outcome::kReject);
  });
  EXPECT_EQ(server.service.unary_calls.load(), 1);
  EXPECT_EQ(server.service.streams.load(), 0);
}

TEST(ToDecision, PolicyReplyTextIsMadePrintable) {
  v1::DecisionResponse r;
  r.set_decision_id("d-1");
  r.set_verdict(v1::VERDICT_REJECT);
  r.mutable_reply()->set_code(554);
  r.mutable_reply()->set_enhanced_code("5.7.1");
  r.mutable_reply()->set_text(std::string("no\r\n250 ok\0\x7f\tend", 16));
  Decision d = to_decision(r);
  EXPECT_EQ(d.outcome, Decision::Outcome::kReject);
  EXPECT_EQ(d.reply.wire(), "554 5.7.1 no??250 ok???end (decision d-1)\r\n");

  // Client data a policy echoes (${content.body}, a SMTPUTF8 ${smtp.mail.from}): NEL,
  // U+2028 and octets that are not UTF-8 are line breaks or worse to some readers.
  r.mutable_reply()->set_text("ok\xc2\x85" "250 queued\xe2\x80\xa8x \xff\xfe caf\xc3\xa9");
  EXPECT_EQ(to_decision(r).reply.wire(),
            "554 5.7.1 ok?250 queued?x ?? caf\xc3\xa9 (decision d-1)\r\n");
}

TEST(ToDecision, ReplyLineFitsInto512OctetsWithTheDecisionId) {
  v1::DecisionResponse r;
  r.set_decision_id("0190c0de-0000-7000-8000-0123456789ab");
  r.set_verdict(v1::VERDICT_REJECT);
  r.mutable_reply()->set_code(550);
  r.mutable_reply()->set_enhanced_code("5.7.1");
  r.mutable_reply()->set_text(std::string(600, 'x'));
  const std::string wire = to_decision(r).reply.wire();
  EXPECT_EQ(wire.size(), 512u);  // RFC 5321 §4.5.3.1.5, CRLF included
  EXPECT_TRUE(wire.ends_with(" (decision 0190c0de-0000-7000-8000-0123456789ab)\r\n")) << wire;
  // Cut before a character that does not fit, never inside it.
  r.mutable_reply()->set_text(std::string(440, 'x') + std::string(30, 'y') +
                              "\xe2\x82\xac\xe2\x82\xac");
  const std::string cut = to_decision(r).reply.wire();
  EXPECT_LE(cut.size(), 512u);
  EXPECT_EQ(cut.find("\xe2\x82 "), std::string::npos) << cut;
}

TEST(ToDecision, EnhancedCodeMustBeWellFormedAndOfTheReplysClass) {
  v1::DecisionResponse r;
  r.set_verdict(v1::VERDICT_TEMPFAIL);
  r.mutable_reply()->set_code(451);
  r.mutable_reply()->set_text("later");
  for (const char* bad : {"5.7.1", "4.7", "4.7.1\r\n250 ok", "4.7.1x", "4.1234.1", "x.7.1"}) {
    r.mutable_reply()->set_enhanced_code(bad);
    EXPECT_EQ(to_decision(r).reply.wire(), "451 4.3.0 later\r\n") << bad;
  }
  r.mutable_reply()->set_enhanced_code("4.7.12");
  EXPECT_EQ(to_decision(r).reply.wire(), "451 4.7.12 later\r\n");
  // A 421 keeps its code: the session ends on it (relay_session.cc, RFC 5321 §3.8).
  r.mutable_reply()->set_code(421);
  r.mutable_reply()->set_enhanced_code("4.7.0");
  EXPECT_EQ(to_decision(r).reply.code, 421);
}

}  // namespace
}  // namespace gw::dataplane

// gRPC client for decisions on the completion-queue API, bridged into Asio with
// async_initiate.
#include "dataplane/policy_client.h"

#include <atomic>
#include <tuple>

#include "common/printable_line.h"

namespace gw::dataplane {
namespace {

using DecideSignature = void(grpc::Status, gateway::v1::DecisionResponse);

/// One call on a DecisionStream: completes its handler exactly once, with the stream's
/// result or, when the timer on the handler's executor fires first, DEADLINE_EXCEEDED.
template <typename Handler>
class StreamCall final : public PendingDecision,
                         public std::enable_shared_from_this<StreamCall<Handler>> {
 public:
  explicit StreamCall(Handler handler)
      : handler_(std::move(handler)), timer_(asio::get_associated_executor(handler_)) {}

  /// On the handler's executor, before the call is submitted.
  void arm(std::chrono::milliseconds timeout) {
    timer_.expires_after(timeout);
    timer_.async_wait([self = this->shared_from_this()](const boost::system::error_code& ec) {
      if (ec) return;  // cancelled: the result came first
      if (auto stream = self->stream_.lock()) stream->forget(self->call_id_);
      self->complete(grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED,
                                  "no decision within the decision timeout"),
                     {});
    });
  }
  /// On the handler's executor, once submitted: lets the timeout forget the call.
  void submitted(const std::shared_ptr<DecisionStream>& stream, std::uint64_t call_id) {
    stream_ = stream;
    call_id_ = call_id;
  }
  /// On the handler's executor, once submitted: `cancellation` (may be null) then ends the
  /// call as the timeout does, with CANCELLED.
  void cancellable_by(DecisionCancellation* cancellation) {
    if (cancellation == nullptr) return;
    cancellation->set([weak = this->weak_from_this()] {
      auto self = weak.lock();
      if (!self) return;
      if (auto stream = self->stream_.lock()) stream->forget(self->call_id_);
      self->complete(grpc::Status(grpc::StatusCode::CANCELLED,
                                  "cancelled: the client's connection failed"),
                     {});
    });
  }

  void complete(grpc::Status status, gateway::v1::DecisionResponse response) override {
    if (done_.exchange(true)) return;
    auto executor = asio::get_associated_executor(handler_);
    asio::post(executor, [self = this->shared_from_this(), status = std::move(status),
                          response = std::move(response)]() mutable {
      self->timer_.cancel();
      std::move(self->handler_)(std::move(status), std::move(response));
    });
  }

 private:
  Handler handler_;
  SteadyTimer timer_;
  std::atomic<bool> done_{false};
  std::weak_ptr<DecisionStream> stream_;
  std::uint64_t call_id_ = 0;
};

template <typename Token>
auto async_decide_on_stream(std::shared_ptr<DecisionStream> stream,
                            gateway::v1::DecisionRequest request,
                            std::chrono::milliseconds timeout,
                            DecisionCancellation* cancellation, Token&& token) {
  return asio::async_initiate<Token, DecideSignature>(
      [timeout, cancellation](auto handler, std::shared_ptr<DecisionStream> s,
                              gateway::v1::DecisionRequest req) {
        using H = decltype(handler);
        auto call = std::make_shared<StreamCall<H>>(std::move(handler));
        call->arm(timeout);
        auto id = s->submit(std::move(req), call);
        if (!id) {
          call->complete(grpc::Status(grpc::StatusCode::UNAVAILABLE,
                                      "decision stream unavailable or full"),
                         {});
          return;
        }
        call->submitted(s, *id);
        call->cancellable_by(cancellation);
      },
      token, std::move(stream), std::move(request));
}

}  // namespace

/// One unary Decide: owns everything gRPC references until its Finish completed on the
/// completion thread; then hands the result to its handler's executor and is deleted.
class GrpcPolicyClient::UnaryCall : public CqStep {
 public:
  virtual ~UnaryCall() = default;

  grpc::ClientContext context;
  gateway::v1::DecisionRequest request;
  gateway::v1::DecisionResponse response;
  grpc::Status status;
  std::unique_ptr<grpc::ClientAsyncResponseReader<gateway::v1::DecisionResponse>> rpc;
  GrpcPolicyClient* owner = nullptr;

  void done(bool /*ok: always true for Finish*/) override {
    deliver();
    owner->unary_done(this);  // deletes this
  }

 protected:
  /// Posts (status, response) to the handler's executor.
  virtual void deliver() = 0;
};

namespace {

template <typename Handler>
class UnaryCallFor final : public GrpcPolicyClient::UnaryCall {
 public:
  UnaryCallFor(gateway::v1::DecisionRequest r, Handler h) : handler_(std::move(h)) {
    request = std::move(r);
  }

 private:
  void deliver() override {
    auto executor = asio::get_associated_executor(handler_);
    asio::post(executor, [handler = std::move(handler_), status = std::move(status),
                          response = std::move(response)]() mutable {
      std::move(handler)(std::move(status), std::move(response));
    });
  }
  Handler handler_;
};

}  // namespace

GrpcPolicyClient::GrpcPolicyClient(std::shared_ptr<grpc::Channel> channel)
    : stub_(gateway::v1::DecisionService::NewStub(std::move(channel))) {}

GrpcPolicyClient::~GrpcPolicyClient() {
  {
    std::unique_lock lock(mu_);
    for (auto& s : streams_) s->close();
    for (auto& [call, id] : unary_) call->context.TryCancel();
    // gRPC completes every cancelled operation promptly; the queue may only shut down once
    // nothing of these calls is left on it.
    auto idle = [this] {
      for (auto& s : streams_) {
        if (!s->finished()) return false;
      }
      return unary_.empty();
    };
    while (!idle()) idle_.wait_for(lock, std::chrono::milliseconds(1));
  }
  completion_.shutdown();
}

std::shared_ptr<DecisionStream> GrpcPolicyClient::stream() {
  std::lock_guard lock(mu_);
  if (!stream_ || stream_->broken()) {
    if (stream_) stream_->close();
    std::erase_if(streams_, [](const auto& s) { return s->finished(); });
    stream_ = DecisionStream::open(*stub_, *completion_.cq(), batched_.load(std::memory_order_relaxed));
    streams_.push_back(stream_);
  }
  return stream_;
}

void GrpcPolicyClient::start_unary(UnaryCall* call, std::chrono::milliseconds timeout,
                                   DecisionCancellation* cancellation) {
  call->owner = this;
  call->context.set_deadline(std::chrono::system_clock::now() + timeout);
  std::uint64_t id = 0;
  {
    std::lock_guard lock(mu_);
    id = ++next_unary_id_;
    unary_.emplace(call, id);
  }
  if (cancellation != nullptr) {
    // Under mu_: unary_done() forgets the call under it before deleting it, and the id
    // tells this call from a later one allocated at the same address.
    cancellation->set([this, call, id] {
      std::lock_guard lock(mu_);
      auto it = unary_.find(call);
      if (it != unary_.end() && it->second == id) call->context.TryCancel();
    });
  }
  call->rpc = stub_->PrepareAsyncDecide(&call->context, call->request, completion_.cq());
  // The unary call serialized the request as it was created (grpcpp SendMessage): the
  // message copy it holds is not needed any more, and for a DATA decision it is the whole
  // message (HeldMessageBudget: one of the three copies at a decision's peak).
  std::string().swap(*call->request.mutable_message());
  call->rpc->StartCall();
  call->rpc->Finish(&call->response, &call->status, call);
}

void GrpcPolicyClient::unary_done(UnaryCall* call) {
  {
    std::lock_guard lock(mu_);
    unary_.erase(call);
    idle_.notify_all();  // under the lock: the destructor may return as soon as it is free
  }
  delete call;
}

awaitable<Decision> GrpcPolicyClient::decide(gateway::v1::DecisionRequest request,
                                             std::chrono::milliseconds timeout,
                                             DecisionCancellation* cancellation) {
  const bool unary = request.command() == gateway::v1::SMTP_COMMAND_DATA;
  // Awaited into a named local, one co_await per statement (dataplane/asio.h).
  std::tuple<grpc::Status, gateway::v1::DecisionResponse> result;
  if (unary) {
    result = co_await asio::async_initiate<decltype(use_awaitable), DecideSignature>(
        [this, timeout, cancellation](auto handler, gateway::v1::DecisionRequest req) {
          using H = decltype(handler);
          start_unary(new UnaryCallFor<H>(std::move(req), std::move(handler)), timeout,
                      cancellation);
        },
        use_awaitable, std::move(request));
  } else {
    result = co_await async_decide_on_stream(stream(), std::move(request), timeout,
                                             cancellation, use_awaitable);
  }
  auto& [status, response] = result;
  if (!status.ok()) {
    Decision d;
    d.outcome = Decision::Outcome::kUnavailable;
    d.error = status.error_message().empty() ? "status " + std::to_string(status.error_code())
                                             : status.error_message();
    co_return d;
  }
  co_return to_decision(response);
}

Decision to_decision(const gateway::v1::DecisionResponse& response) {
  Decision d;
  d.decision_id = response.decision_id();
  for (const auto& [k, v] : response.attribute_changes()) d.attribute_changes[k] = v;
  if (response.message_replaced()) d.replaced_message = response.message();
  switch (response.verdict()) {
    case gateway::v1::VERDICT_CONTINUE:
      d.outcome = Decision::Outcome::kContinue;
      return d;
    case gateway::v1::VERDICT_REJECT:
      d.outcome = Decision::Outcome::kReject;
      break;
    case gateway::v1::VERDICT_TEMPFAIL:
      d.outcome = Decision::Outcome::kTempfail;
      break;
    default:
      d.outcome = Decision::Outcome::kUnavailable;
      d.error = "decision without a verdict";
      return d;
  }
  const auto& r = response.reply();
  bool reject = d.outcome == Decision::Outcome::kReject;
  int code = static_cast<int>(r.code());
  // A policy reply must keep its class: a reject is 5xx, a tempfail 4xx.
  if (reject ? (code < 500 || code > 599) : (code < 400 || code > 499)) code = reject ? 550 : 451;
  // The enhanced code must be one (RFC 3463 §2: class.subject.detail) of the reply's class.
  const bool enhanced_ok = smtp::is_enhanced_code(r.enhanced_code()) &&
                           r.enhanced_code()[0] == static_cast<char>('0' + code / 100);
  const std::string enhanced = enhanced_ok ? r.enhanced_code() : (reject ? "5.7.1" : "4.3.0");
  const std::string suffix =
      d.decision_id.empty() ? "" : " (decision " + common::printable_line(d.decision_id, 64) + ")";
  // "NNN SP enhanced SP text (decision ID) CRLF" within 512 octets (RFC 5321 §4.5.3.1.5),
  // the decision id kept whole. The text is made one printable line: policies echo client
  // data (${smtp.mail.from}, ${content.body}), and a CR, LF, NEL or broken UTF-8 must not
  // reach the client as a line break or a second reply (BR-31 applies the same rule to
  // upstream replies).
  const std::size_t fixed = 3 + 1 + enhanced.size() + 1 + suffix.size() + 2;
  std::string text = common::printable_line(
      r.text().empty() ? (reject ? "Rejected by policy" : "Try again later") : r.text(),
      fixed < 512 ? 512 - fixed : 0);
  text += suffix;
  smtp::Reply reply;
  reply.code = code;
  reply.lines.push_back(enhanced + " " + text);
  d.reply = std::move(reply);
  return d;
}

}  // namespace gw::dataplane

// Server calls on gRPC's completion-queue API with the shape of the callback API's
// reactors (StartWrite / OnWriteDone / Finish / OnCancel / OnDone), so gctld's stream
// state machines read as before while their events run on CqServerQueue's threads.
#pragma once

#include <grpcpp/grpcpp.h>

#include <functional>
#include <mutex>
#include <utility>

#include "common/grpc/cq_step.h"
#include "controlplane/cq_server_queue.h"

namespace gw::controlplane {

/// The life of one server call: armed (before the service's RequestX), accepted (OnStart),
/// operations, Finish, then OnDone once both the Finish and gRPC's "call done" event
/// completed. A call that is never accepted (the server shuts down first) only gets
/// OnDone, with started() false. OnCancel runs when the call ended without the server's
/// status reaching the client (client gone, cancelled, deadline); the subclass must then
/// still call Finish (once no write is in flight), as every call must, or OnDone never
/// comes. OnDone is the last event: the subclass frees itself there (delete this, or drop
/// its own shared_ptr). Events run on completion threads; Start*/Finish may be called from
/// any thread, one write (or read) in flight at a time, as with the callback API.
class CqReactorBase {
 public:
  CqReactorBase(const CqReactorBase&) = delete;
  CqReactorBase& operator=(const CqReactorBase&) = delete;

  [[nodiscard]] grpc::ServerContext* context() { return &ctx_; }
  /// Arms the call before the service's RequestX: `accept_next` runs when this call is
  /// accepted (it requests the next call of the same method). Returns RequestX's tag.
  void* arm(std::function<void()> accept_next);

 protected:
  explicit CqReactorBase(CqServerQueue& queue) : queue_(queue) { queue_.call_created(); }
  virtual ~CqReactorBase() { queue_.call_destroyed(); }

  virtual void OnStart() = 0;
  virtual void OnCancel() {}
  virtual void OnDone() = 0;

  /// False for a call that was never accepted (in OnDone).
  [[nodiscard]] bool started() const { return started_; }
  /// The tag of the call's Finish operation.
  void* finish_tag() { return &finished_; }

  grpc::ServerContext ctx_;

 private:
  void on_accepted(bool ok);
  void on_call_done(bool ok);
  void on_finished(bool ok);
  /// OnDone() once both the Finish and the call-done event completed.
  void done_if_over(bool finish_completed, bool call_done);

  CqServerQueue& queue_;
  std::function<void()> accept_next_;
  bool started_ = false;  // written before OnStart, read by the call's own events
  common::MemberStep<CqReactorBase> accepted_{this, &CqReactorBase::on_accepted};
  common::MemberStep<CqReactorBase> call_done_{this, &CqReactorBase::on_call_done};
  common::MemberStep<CqReactorBase> finished_{this, &CqReactorBase::on_finished};
  std::mutex mu_;
  bool start_ran_ = false;           // OnStart returned
  bool call_done_deferred_ = false;  // the call-done event came before that
  bool finish_completed_ = false;
  bool call_done_seen_ = false;
  bool reported_ = false;
};

/// A server-streaming call: OnWriteDone after each StartWrite (and after
/// StartSendInitialMetadata, which counts as the write in flight).
template <class Response>
class CqWriteReactor : public CqReactorBase {
 public:
  [[nodiscard]] grpc::ServerAsyncWriter<Response>* stream() { return &stream_; }

 protected:
  using CqReactorBase::CqReactorBase;

  void StartSendInitialMetadata() { stream_.SendInitialMetadata(&written_); }
  void StartWrite(const Response* response) { stream_.Write(*response, &written_); }
  void Finish(grpc::Status status) { stream_.Finish(status, finish_tag()); }
  virtual void OnWriteDone(bool ok) = 0;

 private:
  void on_written(bool ok) { OnWriteDone(ok); }

  grpc::ServerAsyncWriter<Response> stream_{&ctx_};
  common::MemberStep<CqWriteReactor> written_{this, &CqWriteReactor::on_written};
};

/// A bidirectional-streaming call: OnReadDone(false) when the client half-closed or the
/// call broke.
template <class Request, class Response>
class CqBidiReactor : public CqReactorBase {
 public:
  [[nodiscard]] grpc::ServerAsyncReaderWriter<Response, Request>* stream() { return &stream_; }

 protected:
  using CqReactorBase::CqReactorBase;

  void StartRead(Request* request) { stream_.Read(request, &read_); }
  void StartWrite(const Response* response, grpc::WriteOptions options) {
    stream_.Write(*response, options, &written_);
  }
  void Finish(grpc::Status status) { stream_.Finish(status, finish_tag()); }
  virtual void OnReadDone(bool ok) = 0;
  virtual void OnWriteDone(bool ok) = 0;

 private:
  void on_read(bool ok) { OnReadDone(ok); }
  void on_written(bool ok) { OnWriteDone(ok); }

  grpc::ServerAsyncReaderWriter<Response, Request> stream_{&ctx_};
  common::MemberStep<CqBidiReactor> read_{this, &CqBidiReactor::on_read};
  common::MemberStep<CqBidiReactor> written_{this, &CqBidiReactor::on_written};
};

}  // namespace gw::controlplane

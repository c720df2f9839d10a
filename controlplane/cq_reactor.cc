// The life of a completion-queue server call.
#include "controlplane/cq_reactor.h"

namespace gw::controlplane {

void* CqReactorBase::arm(std::function<void()> accept_next) {
  accept_next_ = std::move(accept_next);
  // The call-done tag is only delivered for a call that starts (grpc issue 10136).
  ctx_.AsyncNotifyWhenDone(&call_done_);
  return &accepted_;
}

void CqReactorBase::on_accepted(bool ok) {
  if (!ok) {
    // The server is shutting down: no call, and no call-done event will come.
    OnDone();
    return;
  }
  started_ = true;
  if (accept_next_) std::exchange(accept_next_, nullptr)();
  OnStart();
  bool call_done_waiting = false;
  {
    std::lock_guard lock(mu_);
    start_ran_ = true;
    call_done_waiting = call_done_deferred_;
  }
  // With several completion threads the call-done event may be taken while OnStart runs:
  // it was held back until now.
  if (call_done_waiting) on_call_done(true);
}

void CqReactorBase::on_call_done(bool /*ok*/) {
  {
    std::lock_guard lock(mu_);
    if (!start_ran_) {
      call_done_deferred_ = true;
      return;
    }
  }
  if (ctx_.IsCancelled()) OnCancel();
  done_if_over(false, true);
}

void CqReactorBase::on_finished(bool /*ok*/) { done_if_over(true, false); }

void CqReactorBase::done_if_over(bool finish_completed, bool call_done) {
  {
    std::lock_guard lock(mu_);
    finish_completed_ = finish_completed_ || finish_completed;
    call_done_seen_ = call_done_seen_ || call_done;
    if (!finish_completed_ || !call_done_seen_ || reported_) return;
    reported_ = true;
  }
  OnDone();
}

}  // namespace gw::controlplane

// Completion-queue tags that know what to run: the shared shape of every gRPC call the
// gateway drives on the asynchronous completion-queue API (node client, gctld services).
#pragma once

namespace gw::common {

/// What a completion-queue tag points to: the step to run when its operation completed.
/// Every tag given to a queue run by CompletionThread must be a CqStep*.
class CqStep {
 public:
  /// Runs on a completion thread. `ok` is gRPC's per-operation success flag (false: the
  /// call broke or was cancelled, a read found the end of the stream, or a server's
  /// request for a new call ended because the server is shutting down).
  virtual void done(bool ok) = 0;

 protected:
  ~CqStep() = default;
};

/// A tag that calls `(owner->*on)(ok)`: one per kind of operation of a call object
/// (read, write, finish...), a member of that object.
template <class Owner>
struct MemberStep final : CqStep {
  Owner* owner;
  void (Owner::*on)(bool ok);
  MemberStep(Owner* o, void (Owner::*f)(bool)) : owner(o), on(f) {}
  void done(bool ok) override { (owner->*on)(ok); }
};

}  // namespace gw::common

// Watch stream state machine: one write in flight, newest snapshot wins.
#include "controlplane/watch_reactor.h"

#include <spdlog/spdlog.h>

#include "controlplane/grpc_status.h"
#include "controlplane/validation.h"

namespace gw::controlplane {

namespace v1 = gateway::v1;

void WatchReactor::accept(Service& service, CqServerQueue& queue, SnapshotHub& hub,
                          NodeDirectory& nodes, DbWorker& worker) {
  std::shared_ptr<WatchReactor> reactor(new WatchReactor(queue, hub, nodes, worker));
  reactor->self_ = reactor;
  void* tag = reactor->arm(
      [&service, &queue, &hub, &nodes, &worker] { accept(service, queue, hub, nodes, worker); });
  service.RequestWatch(reactor->context(), &reactor->request_, reactor->stream(), queue.cq(),
                       queue.cq(), tag);
}

void WatchReactor::OnStart() {
  if (auto valid = validate_node_identity(request_.node_id(), request_.instance()); !valid) {
    request_finish(to_grpc_status(valid.error()));
    return;
  }
  node_id_ = request_.node_id();
  instance_ = request_.instance();
  peer_ = ctx_.peer();
  nodes_.stream_opened(node_id_, peer_);
  (void)worker_.post([&nodes = nodes_, node_id = node_id_, instance = instance_] {
    (void)nodes.record_seen(node_id, instance, unix_now_ms());
  });
  spdlog::info("node {} watching instance {} from {}", node_id_, instance_, peer_);
  auto initial = hub_.subscribe(instance_, self_);
  if (initial == nullptr) {
    request_finish(grpc::Status(grpc::StatusCode::UNAVAILABLE, "control plane is shutting down"));
  } else {
    offer(std::move(initial));
  }
}

void WatchReactor::on_snapshot(std::shared_ptr<const v1::ConfigSnapshot> snapshot) {
  offer(std::move(snapshot));
}

void WatchReactor::on_hub_closed() {
  request_finish(grpc::Status(grpc::StatusCode::UNAVAILABLE, "control plane is shutting down"));
}

void WatchReactor::offer(std::shared_ptr<const v1::ConfigSnapshot> snapshot) {
  {
    std::lock_guard lock(mu_);
    if (finish_requested_ || (accepted_any_ && snapshot->version() <= accepted_version_)) return;
    accepted_any_ = true;
    accepted_version_ = snapshot->version();
    pending_ = std::move(snapshot);
  }
  advance();
}

void WatchReactor::request_finish(grpc::Status status) {
  {
    std::lock_guard lock(mu_);
    if (finish_requested_) return;
    finish_requested_ = true;
    finish_status_ = std::move(status);
    pending_.reset();
  }
  advance();
}

void WatchReactor::advance() {
  const v1::ConfigSnapshot* to_write = nullptr;
  bool finish = false;
  grpc::Status status;
  {
    std::lock_guard lock(mu_);
    // Writing and finishing are mutually exclusive: whoever sets writing_ or finished_
    // here is the only one to call StartWrite or Finish, after the lock is released.
    if (finished_ || writing_) return;
    if (finish_requested_) {
      finished_ = true;
      finish = true;
      status = finish_status_;
    } else if (pending_ != nullptr) {
      in_flight_ = std::move(pending_);
      writing_ = true;
      to_write = in_flight_.get();
    }
  }
  if (finish) {
    Finish(std::move(status));
  } else if (to_write != nullptr) {
    StartWrite(to_write);
  }
}

void WatchReactor::OnWriteDone(bool ok) {
  std::uint64_t sent = 0;
  {
    std::lock_guard lock(mu_);
    writing_ = false;
    if (ok && in_flight_ != nullptr) sent = in_flight_->version();
    in_flight_.reset();
    if (!ok && !finish_requested_) {
      // The stream broke (client gone, connection reset): nothing more can be written.
      finish_requested_ = true;
      finish_status_ = grpc::Status(grpc::StatusCode::UNAVAILABLE, "watch stream broken");
      pending_.reset();
    }
  }
  if (ok) {
    nodes_.snapshot_sent(node_id_, sent);
    spdlog::debug("node {}: sent configuration version {}", node_id_, sent);
  }
  advance();
}

void WatchReactor::OnCancel() {
  request_finish(grpc::Status(grpc::StatusCode::CANCELLED, "watch cancelled"));
}

void WatchReactor::OnDone() {
  if (started() && !node_id_.empty()) {
    hub_.unsubscribe(instance_, this);
    nodes_.stream_closed(node_id_);
    (void)worker_.post([&nodes = nodes_, node_id = node_id_, instance = instance_] {
      (void)nodes.record_seen(node_id, instance, unix_now_ms());
    });
    spdlog::info("node {} stopped watching instance {}", node_id_, instance_);
  }
  // Last statement: dropping self_ may destroy this object.
  auto last_reference = std::move(self_);
}

}  // namespace gw::controlplane

// Wiring of the control plane and its gRPC server.
#include "controlplane/control_plane.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <stdexcept>
#include <thread>

#include "common/message_limits.h"
#include "controlplane/listen_address.h"

namespace gw::controlplane {

ControlPlane::ControlPlane(const ControlPlaneOptions& options)
    : db_(storage::Database::open(options.db_path)),
      new_key_file_(storage::SecretBox::key_path_for(options.db_path)),
      secrets_(
          storage::SecretBox::open_key_file(storage::SecretBox::key_path_for(options.db_path))),
      store_(db_, secrets_, hub_),
      nodes_(db_),
      decisions_(hub_),
      audit_repository_(db_),
      audit_writer_(options.db_path, options.audit_retention),
      // Argon2id verifications hold 64 MiB and one core each: one thread per core.
      slow_decisions_(std::max(1u, std::thread::hardware_concurrency()), kSlowDecisionQueue),
      admin_gate_(options.admin_gate),
      admin_service_(store_, nodes_, worker_, admin_gate_),
      node_service_(hub_, nodes_, worker_),
      decision_service_(decisions_, audit_writer_, slow_decisions_),
      policy_admin_service_(store_, audit_repository_, audit_writer_, worker_, admin_gate_) {
  grpc::ServerBuilder builder;
  builder.AddListeningPort(options.listen, server_credentials(options.tls), &port_);
  builder.RegisterService(&admin_service_);
  builder.RegisterService(&node_service_);
  builder.RegisterService(&decision_service_);
  builder.RegisterService(&policy_admin_service_);
  // gRPC sets SO_REUSEPORT by default: a second gctld on the same port would then share it
  // silently instead of failing.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  // Find dead watchers (a node host that vanished without FIN) within about 30 s, and let
  // nodes send their own keepalive pings as often as every 5 s without being cut off.
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS, 20000);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 10000);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, 5000);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MAX_PING_STRIKES, 0);
  // A DATA decision carries the whole message (up to the service's max_message_size).
  builder.SetMaxReceiveMessageSize(common::kMaxDecisionRpcBytes);
  queue_ = std::make_unique<CqServerQueue>(builder);
  server_ = builder.BuildAndStart();
  if (server_ == nullptr || port_ == 0) {
    if (server_ != nullptr) server_->Shutdown();
    queue_->shutdown(std::chrono::milliseconds::zero());
    worker_.stop();
    slow_decisions_.stop();
    audit_writer_.stop();
    throw std::runtime_error("cannot listen on " + options.listen);
  }
  if (auto address = parse_listen(options.listen)) {
    store_.reserve_endpoint(address->host + ":" + std::to_string(port_),
                            "gctld's own gRPC listener (--listen)");
  }
  queue_->start(options.grpc_threads);
  node_service_.start(*queue_);
  decision_service_.start(*queue_);
  policy_admin_service_.start(*queue_);
  new_key_file_.kept = true;
}

ControlPlane::NewKeyFile::NewKeyFile(std::filesystem::path key_path)
    : path(std::move(key_path)), existed(std::filesystem::exists(path)) {}

ControlPlane::NewKeyFile::~NewKeyFile() {
  if (kept || existed) return;
  std::error_code ignored;
  if (std::filesystem::remove(path, ignored)) {
    spdlog::info("storage: removed the key file {} this failed start created", path.string());
  }
}

ControlPlane::~ControlPlane() { shutdown(); }

void ControlPlane::shutdown() {
  if (shut_down_) return;
  shut_down_ = true;
  // 1. Watch streams end with UNAVAILABLE. 2. The DB thread runs what is queued, so every
  // admin/register call in flight is finished; later ones are refused with UNAVAILABLE.
  // 3. Nothing is left running, so the server only needs a moment to flush the last
  // statuses; at the deadline gRPC also drops idle client connections, which it would
  // otherwise wait for, and cancels the calls still open (decision streams). 4. The
  // completion queue is shut down once every call object on it has ended.
  hub_.close();
  worker_.stop();
  slow_decisions_.stop();
  audit_writer_.stop();
  if (server_ != nullptr) {
    server_->Shutdown(std::chrono::system_clock::now() +
                      std::chrono::milliseconds(kShutdownGraceMs));
  }
  if (queue_ != nullptr) queue_->shutdown(std::chrono::milliseconds(kQueueDrainMs));
  spdlog::info("control plane stopped");
}

}  // namespace gw::controlplane

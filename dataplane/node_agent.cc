// Register + Watch loop against gctld.
#include "dataplane/node_agent.h"

#include <spdlog/spdlog.h>

#include <chrono>

#include "common/message_limits.h"
#include "gateway/v1/node.grpc.pb.h"

namespace gw::dataplane {

NodeAgent::NodeAgent(Options options, SnapshotHandler on_snapshot)
    : options_(std::move(options)), on_snapshot_(std::move(on_snapshot)) {
  grpc::ChannelArguments args;
  // Reconnect quickly after the control plane comes back.
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 200);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 2000);
  // Notice a control plane that vanished without closing the connection (the watch stream
  // is otherwise silent between changes). gctld permits pings at this interval.
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, 30000);
  args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 10000);
  // The channel also carries DATA decisions, whose answer may hold a replaced message.
  args.SetMaxReceiveMessageSize(common::kMaxDecisionRpcBytes);
  std::shared_ptr<grpc::ChannelCredentials> credentials;
  if (options_.tls_ca_pem.empty()) {
    credentials = grpc::InsecureChannelCredentials();
  } else {
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = options_.tls_ca_pem;
    ssl.pem_cert_chain = options_.tls_cert_pem;
    ssl.pem_private_key = options_.tls_key_pem;
    credentials = grpc::SslCredentials(ssl);
  }
  channel_ = grpc::CreateCustomChannel(options_.control_plane, credentials, args);
}

NodeAgent::~NodeAgent() { stop(); }

void NodeAgent::start(grpc::CompletionQueue* cq, RegisteredHandler on_registered) {
  cq_ = cq;
  on_registered_ = std::move(on_registered);
  thread_ = std::thread([this] { run(); });
}

void NodeAgent::stop() {
  stopping_ = true;
  {
    std::lock_guard lock(mutex_);
    if (active_context_) active_context_->TryCancel();
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void NodeAgent::Waiter::done(bool ok) {
  {
    std::lock_guard lock(mu_);
    ok_ = ok;
    completed_ = true;
  }
  cv_.notify_one();
}

bool NodeAgent::Waiter::wait() {
  std::unique_lock lock(mu_);
  cv_.wait(lock, [this] { return completed_; });
  completed_ = false;
  return ok_;
}

bool NodeAgent::watch_once(std::uint64_t& known_version) {
  auto stub = gateway::v1::NodeService::NewStub(channel_);
  // One operation at a time, completed on the decision client's queue.
  void* const tag = static_cast<common::CqStep*>(&waiter_);
  {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    ctx.set_wait_for_ready(true);
    gateway::v1::RegisterNodeRequest req;
    req.set_node_id(options_.node_id);
    req.set_instance(options_.instance);
    req.set_hostname(options_.hostname);
    req.set_version(options_.version);
    gateway::v1::RegisterNodeResponse resp;
    {
      std::lock_guard lock(mutex_);
      if (stopping_) return false;
      active_context_ = &ctx;
    }
    grpc::Status status;
    auto call = stub->AsyncRegister(&ctx, req, cq_);
    call->Finish(&resp, &status, tag);
    (void)waiter_.wait();
    {
      std::lock_guard lock(mutex_);
      active_context_ = nullptr;
    }
    if (!status.ok()) {
      spdlog::warn("control plane {}: register failed: {}", options_.control_plane,
                   status.error_message());
      return false;
    }
    if (on_registered_) on_registered_(resp);
  }
  grpc::ClientContext ctx;
  gateway::v1::WatchConfigRequest req;
  req.set_node_id(options_.node_id);
  req.set_instance(options_.instance);
  req.set_known_version(known_version);
  {
    std::lock_guard lock(mutex_);
    if (stopping_) return false;
    active_context_ = &ctx;
  }
  auto reader = stub->AsyncWatch(&ctx, req, cq_, tag);
  bool got_any = false;
  gateway::v1::ConfigSnapshot snapshot;
  bool open = waiter_.wait();  // the call started
  while (open) {
    reader->Read(&snapshot, tag);
    if (!waiter_.wait()) break;
    if (!got_any) {
      spdlog::info("control plane {}: watching instance {} (version {})", options_.control_plane,
                   options_.instance, snapshot.version());
    }
    got_any = true;
    known_version = snapshot.version();
    on_snapshot_(std::move(snapshot));
    snapshot = gateway::v1::ConfigSnapshot{};
  }
  grpc::Status status;
  reader->Finish(&status, tag);
  (void)waiter_.wait();
  {
    std::lock_guard lock(mutex_);
    active_context_ = nullptr;
  }
  if (!stopping_) {
    spdlog::warn("control plane {}: watch ended ({}), keeping the last configuration",
                 options_.control_plane, status.error_message());
  }
  return got_any;
}

void NodeAgent::run() {
  std::uint64_t known_version = 0;
  auto backoff = std::chrono::milliseconds(200);
  while (!stopping_) {
    if (watch_once(known_version)) backoff = std::chrono::milliseconds(200);
    if (stopping_) break;
    std::unique_lock lock(mutex_);
    wake_.wait_for(lock, backoff, [this] { return stopping_.load(); });
    backoff = std::min(backoff * 2, std::chrono::milliseconds(5000));
  }
}

}  // namespace gw::dataplane

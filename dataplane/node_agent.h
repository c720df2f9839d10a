// The relay node's link to the control plane: registration and the configuration watch
// stream, with reconnection and backoff (DESIGN.md §7 "Fail safe": keep serving with the
// last configuration meanwhile).
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include <grpcpp/grpcpp.h>

#include "common/grpc/cq_step.h"
#include "gateway/v1/config.pb.h"
#include "gateway/v1/node.pb.h"

namespace gw::dataplane {

/// Runs on its own thread (never an event-loop thread): Register, then Watch; every
/// snapshot received is handed to `on_snapshot` (which must only post the work to the event
/// loop). On any stream end or error it retries with exponential backoff (200 ms .. 5 s).
/// Its calls complete on the decision client's completion queue (start()), whose thread
/// wakes the agent's thread: with the synchronous API the agent's thread polled gRPC's
/// sockets itself, and since epoll1 keeps one epoll set for the whole process it was woken
/// for the decision answers arriving on the shared channel and handed each on to the
/// decision client's completion thread (0.67 extra wake-ups per decision and 16% of a core
/// at 5,400 decisions/s in relay_bench --policy, session 7).
class NodeAgent {
 public:
  struct Options {
    std::string control_plane;  // "host:port"
    std::string node_id;
    std::string instance;
    std::string hostname;
    std::string version;
    // TLS towards gctld (all PEM contents, not paths). Empty ca_pem: plaintext channel.
    std::string tls_ca_pem;    // trust anchor for gctld's certificate
    std::string tls_cert_pem;  // this node's client certificate chain (mTLS), optional
    std::string tls_key_pem;   // its private key; never logged
  };
  using SnapshotHandler = std::function<void(gateway::v1::ConfigSnapshot)>;
  /// Told gctld's answer after every successful Register, on the agent's thread (what
  /// gctld serves: RegisterNodeResponse.decide_batches). Must not block.
  using RegisteredHandler = std::function<void(const gateway::v1::RegisterNodeResponse&)>;

  NodeAgent(Options options, SnapshotHandler on_snapshot);
  ~NodeAgent();
  NodeAgent(const NodeAgent&) = delete;
  NodeAgent& operator=(const NodeAgent&) = delete;

  /// Starts the agent's thread; its calls complete on `cq`, a queue whose every tag is a
  /// common::CqStep run by a polling thread (GrpcPolicyClient::completion_queue()), which
  /// must keep running until stop() returned.
  /// `on_registered` (may be empty) is told each Register's answer.
  void start(grpc::CompletionQueue* cq, RegisteredHandler on_registered = {});
  /// The channel to gctld, shared with the decision client.
  [[nodiscard]] std::shared_ptr<grpc::Channel> channel() const { return channel_; }
  /// Cancels the stream and joins the thread.
  void stop();

 private:
  void run();
  bool watch_once(std::uint64_t& known_version);
  /// The tag of the agent's one operation in flight: wakes the agent's thread.
  class Waiter final : public common::CqStep {
   public:
    void done(bool ok) override;
    /// Blocks until the operation completed; returns its ok flag.
    bool wait();

   private:
    std::mutex mu_;
    std::condition_variable cv_;
    bool completed_ = false;
    bool ok_ = false;
  };

  Options options_;
  SnapshotHandler on_snapshot_;
  RegisteredHandler on_registered_;
  std::shared_ptr<grpc::Channel> channel_;
  grpc::CompletionQueue* cq_ = nullptr;
  Waiter waiter_;
  std::thread thread_;
  std::atomic<bool> stopping_{false};
  std::mutex mutex_;
  grpc::ClientContext* active_context_ = nullptr;  // guarded by mutex_
  std::condition_variable wake_;
};

}  // namespace gw::dataplane

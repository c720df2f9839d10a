// The control plane assembled: database, configuration store, snapshot hub, DB thread and
// the gRPC server with the admin, node and decision services (gctld without its CLI).
#pragma once

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include "controlplane/admin_gate.h"
#include "controlplane/admin_grpc_service.h"
#include "controlplane/audit_writer.h"
#include "controlplane/config_store.h"
#include "controlplane/cq_server_queue.h"
#include "controlplane/db_worker.h"
#include "controlplane/decision_engine.h"
#include "controlplane/decision_grpc_service.h"
#include "controlplane/node_directory.h"
#include "controlplane/node_grpc_service.h"
#include "controlplane/policy_admin_grpc_service.h"
#include "controlplane/server_tls.h"
#include "controlplane/snapshot_hub.h"
#include "controlplane/worker_pool.h"
#include "storage/audit_repository.h"
#include "storage/database.h"
#include "storage/secret_box.h"

namespace gw::controlplane {

struct ControlPlaneOptions {
  /// gRPC listen address "HOST:PORT"; port 0 picks a free port (see ControlPlane::port()).
  std::string listen = "127.0.0.1:7070";
  /// SQLite file, created with its schema when missing. The upstream-password key lives
  /// next to it as PATH.key (storage::SecretBox).
  std::filesystem::path db_path = "gctld.db";
  /// TLS for the gRPC port (server_tls.h); plaintext when absent. The caller decides
  /// whether plaintext is acceptable for `listen` (gctld: loopback only, or --insecure).
  std::optional<ServerTls> tls = std::nullopt;
  /// Audit records older than this are deleted (AuditWriter); zero keeps them forever.
  std::chrono::milliseconds audit_retention = std::chrono::hours(24 * 90);
  /// Threads running the completion queue of the streams and Decide (CqServerQueue). One
  /// thread reads, decides and answers a decision with a single wake-up: the lowest
  /// latency and CPU per decision while it is not saturated (tests/bench/README.md).
  std::size_t grpc_threads = 1;
  /// Admin token (AdminGate): when set, gctl's calls must carry it; nodes are not asked.
  AdminGate admin_gate = {};
};

/// A running control plane. Threads: the completion-queue threads ("grpc-cq": decision
/// streams and cheap decisions, watch and audit-follow streams), gRPC's synchronous-API
/// threads (admin calls, waiting for the DB thread), one DB thread (every admin SQLite
/// statement), the audit writer thread (its own connection), the slow-decision pool
/// (Argon2id, DATA), and the caller's.
class ControlPlane {
 public:
  /// Opens (and migrates) the database, loads the configuration, starts serving. Throws
  /// std::runtime_error when the database or key file cannot be used or the address
  /// cannot be bound (also when another process holds the port: SO_REUSEPORT is off).
  explicit ControlPlane(const ControlPlaneOptions& options);
  ControlPlane(const ControlPlane&) = delete;
  ControlPlane& operator=(const ControlPlane&) = delete;
  /// shutdown().
  ~ControlPlane();

  /// The bound TCP port.
  int port() const { return port_; }

  /// Ends watch streams (UNAVAILABLE: nodes keep their last configuration and reconnect),
  /// stops the DB thread after it drained its queue (so every admin call in flight gets
  /// its answer) and the slow-decision pool after its queue, writes every queued audit
  /// record and ends audit followers, then stops the gRPC server, giving it
  /// `kShutdownGraceMs` to flush the last statuses. Idempotent; call from one thread.
  void shutdown();

  static constexpr int kShutdownGraceMs = 200;
  /// After the server's shutdown, how long the call objects get to end (CqServerQueue).
  static constexpr int kQueueDrainMs = 5000;
  /// Decisions waiting for a slow-decision thread at most; beyond, UNAVAILABLE.
  static constexpr std::size_t kSlowDecisionQueue = 1024;

  SnapshotHub& hub() { return hub_; }

  /// The control plane's metrics in the Prometheus text format (GET /metrics): the
  /// configuration version, watching nodes, audit records written and queued, the
  /// decision counts and latency of DecisionMetrics, and process_*. Thread-safe.
  std::string metrics_text() const;

  /// Another endpoint of this gctld (its --metrics-listen) that no interface may overlap
  /// (ConfigStore::reserve_endpoint). Its gRPC listener is reserved at start.
  void reserve_endpoint(std::string_view host_port, std::string what) {
    store_.reserve_endpoint(host_port, std::move(what));
  }

 private:
  storage::Database db_;
  /// The key file, if this start creates it, is removed again when the start fails: a
  /// database with secrets but no key file refuses to start, and the new (wrong) key left
  /// beside it made every later start refuse too, and could be backed up as if it were the
  /// database's (probe round 21). Declared before secrets_, which creates the file.
  struct NewKeyFile {
    explicit NewKeyFile(std::filesystem::path key_path);
    ~NewKeyFile();
    NewKeyFile(const NewKeyFile&) = delete;
    NewKeyFile& operator=(const NewKeyFile&) = delete;
    std::filesystem::path path;
    bool existed = true;
    bool kept = false;  // set once the start succeeded
  } new_key_file_;
  storage::SecretBox secrets_;
  SnapshotHub hub_;
  ConfigStore store_;
  NodeDirectory nodes_;
  DecisionEngine decisions_;
  storage::AuditRepository audit_repository_;  // on the DB thread's connection
  AuditWriter audit_writer_;
  DbWorker worker_;
  WorkerPool slow_decisions_;
  AdminGate admin_gate_;
  AdminGrpcService admin_service_;
  NodeGrpcService node_service_;
  DecisionGrpcService decision_service_;
  PolicyAdminGrpcService policy_admin_service_;
  std::unique_ptr<CqServerQueue> queue_;  // before server_: outlives it
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
  bool shut_down_ = false;
};

}  // namespace gw::controlplane

// One inbound interface: a TCP acceptor that creates a RelaySession per connection, within
// the service's session limits (DESIGN.md §2 "interface", §7 "Bounded").
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "dataplane/asio.h"
#include "dataplane/policy_client.h"
#include "dataplane/policy_counters.h"
#include "dataplane/held_message_budget.h"
#include "dataplane/relay_counters.h"
#include "dataplane/service_config.h"
#include "dataplane/session_registry.h"
#include "dataplane/tls_context.h"

namespace gw::dataplane {

/// Identity of the node, shared by all listeners.
struct NodeIdentity {
  std::string node_id;
  std::string hostname;
  /// Tells this run of grelayd from earlier ones in session ids ("NODE-RUN-IFACE-N"): 40
  /// random bits in base 36 (main.cc). Empty: session ids are "NODE-IFACE-N" (tests). Probe round 42: ids restarted at 1 with every start, so one id named several
  /// sessions in the audit trail.
  std::string run_id;
  std::shared_ptr<PolicyClient> policy;  // shared by every session of the node
  std::shared_ptr<PolicyCounters> policy_counters = nullptr;  // may be null (tests)
  std::shared_ptr<RelayCounters> relay_counters = nullptr;    // may be null (tests)
  /// Message octets the node's sessions may hold for DATA decisions; null: no bound (tests).
  std::shared_ptr<HeldMessageBudget> held_messages = nullptr;
  /// The io_contexts sessions run on, one per thread of grelayd (--threads), taken in turn
  /// by each listener; each context is run by exactly one thread, so a session needs no
  /// strand (every handler of a session runs on its context's thread). Empty: sessions run
  /// on the listener's own io_context, which then must be run by one thread only.
  std::vector<asio::io_context*> session_contexts = {};
  /// The node's running sessions (graceful stop on SIGTERM); may be null (tests).
  std::shared_ptr<SessionRegistry> sessions = nullptr;
};

/// A listening socket for one interface. open() binds; start() spawns the accept loop on the
/// listener's io_context; stop() closes the acceptor and drains the listener's sessions
/// (each finishes its command, then gets 421 4.3.2). The service can be replaced while
/// running: new sessions start on the new version, running ones take it at their next
/// command (LiveService).
class Listener : public std::enable_shared_from_this<Listener> {
 public:
  Listener(asio::io_context& io, std::int64_t interface_id, gateway::v1::InterfaceType type,
           tcp::endpoint endpoint, std::shared_ptr<const ServiceConfig> service, NodeIdentity node);

  /// Binds and listens (SO_REUSEADDR). Returns the error (e.g. address in use) instead of
  /// throwing; the caller logs it.
  boost::system::error_code open();
  void start();
  /// Closes the acceptor at once (the caller runs on the listener's io_context thread, so
  /// the port is free for a listener the same snapshot opens on it) and drains the sessions.
  void stop();
  void set_service(std::shared_ptr<const ServiceConfig> service, std::uint64_t config_version);
  /// The TLS server context for ssl/starttls interfaces (null: no usable certificate; an
  /// ssl interface then drops connections, a starttls one answers STARTTLS with 454).
  void set_tls(std::shared_ptr<TlsServerContext> tls);
  [[nodiscard]] gateway::v1::InterfaceType type() const { return type_; }
  /// The name of the service it serves now.
  [[nodiscard]] std::string service_name() const { return service_->get().first->name; }
  /// The client CAs its TLS context verifies client certificates against ("" for none).
  [[nodiscard]] std::string client_ca_pem() const {
    auto tls = tls_->get();
    return tls ? tls->client_ca_pem() : std::string();
  }
  /// Serves the interface `interface_id` from now on (new sessions carry it in their ids
  /// and audit records; running ones keep theirs): the interface gctl apply recreated on
  /// the same endpoint. Call on the listener's io_context thread, like stop().
  void set_interface_id(std::int64_t interface_id) { interface_id_ = interface_id; }

  [[nodiscard]] const tcp::endpoint& endpoint() const { return endpoint_; }
  [[nodiscard]] std::size_t active_sessions() const { return counters_->active.load(); }

  /// Live session counts, shared with the sessions' slots so they outlive the listener.
  struct Counters {
    std::atomic<std::size_t> active{0};
    std::mutex mutex;
    std::map<std::string, std::size_t> per_client;  // guarded by mutex
  };

 private:
  awaitable<void> accept_loop();
  /// The executor of the next session: the next of NodeIdentity::session_contexts in turn,
  /// or the listener's io_context. Called from the accept loop only.
  Executor next_session_executor();

  asio::io_context& io_;
  std::int64_t interface_id_;
  tcp::endpoint endpoint_;
  NodeIdentity node_;
  Acceptor acceptor_;
  std::string local_address_;  // endpoint_ as "ip:port", set by open()
  std::shared_ptr<LiveService> service_;  // shared with the sessions
  std::shared_ptr<LiveTls> tls_ = std::make_shared<LiveTls>();  // shared with the sessions
  gateway::v1::InterfaceType type_;
  std::shared_ptr<Counters> counters_ = std::make_shared<Counters>();
  /// This listener's sessions: stop() asks them to finish their command and close with
  /// 421 4.3.2, since a listener closes when its interface or service goes away, or moves,
  /// and the sessions would otherwise go on with a configuration nobody updates any more
  /// (probe round 42: a deny handler added later never reached them).
  std::shared_ptr<SessionRegistry> sessions_ = std::make_shared<SessionRegistry>();
  std::uint64_t next_session_ = 0;
  std::size_t next_context_ = 0;  // round robin over node_.session_contexts
};

}  // namespace gw::dataplane

// Accept loop and per-interface / per-client session caps.
#include "dataplane/listener.h"

#include <spdlog/spdlog.h>

#include "dataplane/relay_session.h"
#include "dataplane/smtp/reply.h"
#include "dataplane/socket_state.h"

namespace gw::dataplane {
namespace {

/// Holds one session's place in the counters until the session ends.
class SessionSlot {
 public:
  SessionSlot(std::shared_ptr<Listener::Counters> counters, std::string client)
      : counters_(std::move(counters)), client_(std::move(client)) {}
  SessionSlot(const SessionSlot&) = delete;
  SessionSlot& operator=(const SessionSlot&) = delete;
  ~SessionSlot() {
    counters_->active.fetch_sub(1);
    std::lock_guard lock(counters_->mutex);
    auto it = counters_->per_client.find(client_);
    if (it != counters_->per_client.end() && --it->second == 0) counters_->per_client.erase(it);
  }

 private:
  std::shared_ptr<Listener::Counters> counters_;
  std::string client_;
};

std::string format_endpoint(const tcp::endpoint& ep) {
  auto addr = ep.address();
  std::string host = addr.is_v6() ? "[" + addr.to_string() + "]" : addr.to_string();
  return host + ":" + std::to_string(ep.port());
}

/// Refuses a connection over a session cap: 421 at once, then close (RFC 5321 §3.1).
awaitable<void> refuse(Socket socket, std::string text) {
  std::string wire = smtp::make_reply(421, smtp::es::kSecurityOther, text).wire();
  boost::system::error_code ec;
  co_await asio::async_write(socket, asio::buffer(wire), asio::redirect_error(use_awaitable, ec));
  socket.shutdown(tcp::socket::shutdown_both, ec);
  socket.close(ec);
}

}  // namespace

Listener::Listener(asio::io_context& io, std::int64_t interface_id,
                   gateway::v1::InterfaceType type, tcp::endpoint endpoint,
                   std::shared_ptr<const ServiceConfig> service, NodeIdentity node)
    : io_(io),
      interface_id_(interface_id),
      endpoint_(std::move(endpoint)),
      node_(std::move(node)),
      acceptor_(io.get_executor()),
      service_(std::make_shared<LiveService>(std::move(service), 0)),
      type_(type) {}

Executor Listener::next_session_executor() {
  if (node_.session_contexts.empty()) return io_.get_executor();
  if (next_context_ >= node_.session_contexts.size()) next_context_ = 0;
  return node_.session_contexts[next_context_++]->get_executor();
}

void Listener::set_tls(std::shared_ptr<TlsServerContext> tls) {
  tls_->set(std::move(tls));
}

boost::system::error_code Listener::open() {
  boost::system::error_code ec;
  acceptor_.open(endpoint_.protocol(), ec);
  if (ec) return ec;
  acceptor_.set_option(tcp::acceptor::reuse_address(true), ec);
  if (ec) return ec;
  acceptor_.bind(endpoint_, ec);
  if (ec) {
    boost::system::error_code ignored;
    acceptor_.close(ignored);
    return ec;
  }
  acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (!ec) endpoint_ = acceptor_.local_endpoint(ec);
  if (!ec) local_address_ = format_endpoint(endpoint_);
  return ec;
}

void Listener::start() {
  asio::co_spawn(acceptor_.get_executor(), accept_loop(),
                 [self = shared_from_this()](std::exception_ptr) {});
}

void Listener::stop() {
  // Closed here, not posted: the manager opens a listener on the same endpoint right after
  // (an interface whose type changed), and a posted close left the port bound for that
  // bind ("address in use", connections refused for 100 ms; probe round 42). The acceptor
  // is only touched by this thread (main.cc runs `io` on one thread).
  boost::system::error_code ignored;
  acceptor_.close(ignored);
  sessions_->drain_all();
}

void Listener::set_service(std::shared_ptr<const ServiceConfig> service,
                           std::uint64_t config_version) {
  service_->set(std::move(service), config_version);
}

awaitable<void> Listener::accept_loop() {
  while (acceptor_.is_open()) {
    boost::system::error_code ec;
    // Accepted straight onto the io_context (thread) the session will run on: Asio registers
    // the new socket with that context's reactor (NodeIdentity::session_contexts).
    Socket socket(next_session_executor());
    // The peer's address comes from accept() itself (no getpeername per session).
    tcp::endpoint remote;
    co_await acceptor_.async_accept(socket, remote, asio::redirect_error(use_awaitable, ec));
    if (ec) {
      if (ec == asio::error::operation_aborted || !acceptor_.is_open()) break;
      spdlog::warn("accept on {} failed: {}", format_endpoint(endpoint_), ec.message());
      continue;
    }
    // A fresh descriptor from accept(2), never dup()ed: its close needs no EPOLL_CTL_DEL.
    mark_sole_descriptor(socket);
    auto [svc, config_version] = service_->get();
    std::shared_ptr<TlsServerContext> tls = tls_->get();
    std::string client_ip = remote.address().to_string();

    std::size_t active = counters_->active.fetch_add(1) + 1;
    std::size_t from_client;
    {
      std::lock_guard lock(counters_->mutex);
      from_client = ++counters_->per_client[client_ip];
    }
    auto slot = std::make_shared<SessionSlot>(counters_, client_ip);
    // One lookup per connection; sessions then count lock-free.
    auto service_counters =
        node_.relay_counters ? node_.relay_counters->for_service(svc->name) : nullptr;
    if (active > svc->limits.max_sessions || from_client > svc->limits.max_sessions_per_client) {
      if (service_counters) {
        service_counters->sessions_refused.fetch_add(1, std::memory_order_relaxed);
      }
      spdlog::warn("interface={} refused {}: too many sessions (interface {}, client {})",
                   interface_id_, format_endpoint(remote), active, from_client);
      if (type_ == gateway::v1::INTERFACE_TYPE_SSL) {
        // Implicit TLS (RFC 8314 §3.3): plaintext would reach the client as a broken TLS
        // record, and a handshake only to say 421 would spend the CPU an overload lacks.
        // The connection is closed without a byte; the client retries later.
        boost::system::error_code ignored;
        socket.close(ignored);
        continue;
      }
      // RFC 5321 §4.2: a 421 greeting names the server ("421 <domain> ...").
      const std::string& hostname = svc->hostname.empty() ? node_.hostname : svc->hostname;
      asio::co_spawn(socket.get_executor(),
                     refuse(std::move(socket), hostname + " Too many connections, try again later"),
                     [slot](std::exception_ptr) {});
      continue;
    }
    SessionEnv env;
    env.service = svc;
    env.interface_id = interface_id_;
    env.interface_type = type_;
    env.tls = std::move(tls);
    env.hostname = svc->hostname.empty() ? node_.hostname : svc->hostname;
    env.session_id = node_.node_id + "-" + (node_.run_id.empty() ? "" : node_.run_id + "-") +
                     std::to_string(interface_id_) + "-" + std::to_string(++next_session_);
    // format_endpoint(remote), reusing client_ip: one address-to-text per session, not two.
    env.client_address = (remote.address().is_v6() ? "[" + client_ip + "]" : client_ip) + ":" +
                         std::to_string(remote.port());
    env.local_address = local_address_;
    env.slot = std::move(slot);
    env.policy = node_.policy;
    env.policy_counters = node_.policy_counters;
    env.held_messages = node_.held_messages;
    env.sessions = node_.sessions;
    env.interface_sessions = sessions_;
    if (service_counters) {
      service_counters->sessions.fetch_add(1, std::memory_order_relaxed);
      service_counters->sessions_active.fetch_add(1, std::memory_order_relaxed);
    }
    env.service_counters = std::move(service_counters);
    env.node_id = node_.node_id;
    env.config_version = config_version;
    env.live_service = service_;
    env.live_tls = tls_;
    RelaySession::start(std::make_shared<RelaySession>(std::move(socket), std::move(env)));
  }
}

}  // namespace gw::dataplane

// Snapshot → listeners.
#include "dataplane/listener_manager.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <set>
#include <stdexcept>

namespace gw::dataplane {
namespace {

std::string endpoint_text(const tcp::endpoint& ep) {
  auto addr = ep.address();
  return (addr.is_v6() ? "[" + addr.to_string() + "]" : addr.to_string()) + ":" +
         std::to_string(ep.port());
}

/// Server TLS for one interface from the snapshot's certificates (throws on bad material).
std::shared_ptr<TlsServerContext> make_server_tls(const gateway::v1::Interface& iface,
                                                  const CertificateIndex& certificates) {
  auto lookup = [&](const std::string& name, bool need_key) {
    auto it = certificates.find(name);
    if (it == certificates.end()) throw std::runtime_error("unknown certificate " + name);
    if (need_key && it->second->key_pem().empty()) {
      throw std::runtime_error("certificate " + name + " has no private key");
    }
    return it->second;
  };
  if (iface.cert().empty()) throw std::runtime_error("no certificate configured");
  ServerTlsSettings settings;
  const auto* cert = lookup(iface.cert(), true);
  settings.certificate = {cert->cert_pem(), cert->key_pem()};
  for (const auto& sni : iface.sni_certs()) {
    const auto* c = lookup(sni.cert(), true);
    settings.by_sni[sni.server_name()] = {c->cert_pem(), c->key_pem()};
  }
  if (!iface.client_ca().empty()) settings.client_ca_pem = lookup(iface.client_ca(), false)->cert_pem();
  if (!iface.ciphers().empty()) settings.ciphers = iface.ciphers();
  if (!iface.tls_min_version().empty()) settings.min_version = iface.tls_min_version();
  return std::make_shared<TlsServerContext>(settings);
}

}  // namespace

ListenerManager::ListenerManager(asio::io_context& io, asio::any_io_executor strand,
                                 NodeIdentity node)
    : io_(io), node_(std::move(node)), retry_timer_(std::move(strand)) {}

void ListenerManager::apply(const gateway::v1::ConfigSnapshot& snapshot) {
  // Stopping (SIGTERM): a snapshot that still arrives opens nothing again (probe round 42:
  // every listener came back during the drain, and new clients got 220 then 421).
  if (stopped_) return;
  const bool retry = &snapshot == &last_;  // problems were logged on the first pass
  if (!retry) last_ = snapshot;
  version_ = snapshot.version();
  CertificateIndex certificates;
  for (const auto& cert : last_.certificates()) certificates[cert.name()] = &cert;

  // What the snapshot wants, by interface id.
  struct Wanted {
    std::string service;
    gateway::v1::InterfaceType type;
    tcp::endpoint endpoint;
    std::shared_ptr<const ServiceConfig> config;
    std::shared_ptr<TlsServerContext> tls;
  };
  std::map<std::int64_t, Wanted> wanted;
  for (const auto& service : last_.services()) {
    auto config = make_service_config(service, certificates);
    if (!config->upstream_tls_error.empty() && !retry) {
      spdlog::error("service={}: upstream TLS unusable: {}", service.name(),
                    config->upstream_tls_error);
    }
    for (const auto& iface : service.interfaces()) {
      auto type = iface.type() == gateway::v1::INTERFACE_TYPE_UNSPECIFIED
                      ? gateway::v1::INTERFACE_TYPE_TCP
                      : iface.type();
      std::shared_ptr<TlsServerContext> tls;
      if (type != gateway::v1::INTERFACE_TYPE_TCP) {
        try {
          tls = make_server_tls(iface, certificates);
        } catch (const std::exception& e) {
          if (!retry) {
            spdlog::error("interface={} service={}: TLS unusable: {}", iface.id(),
                          service.name(), e.what());
          }
        }
      }
      boost::system::error_code ec;
      auto address = asio::ip::make_address(
          iface.bind_address().empty() ? "127.0.0.1" : iface.bind_address(), ec);
      if (ec || iface.port() == 0 || iface.port() > 65535) {
        spdlog::error("interface={} service={}: bad endpoint {}:{}", iface.id(), service.name(),
                      iface.bind_address(), iface.port());
        continue;
      }
      wanted[iface.id()] = Wanted{service.name(), type,
                                  tcp::endpoint(address, static_cast<std::uint16_t>(iface.port())),
                                  config, std::move(tls)};
    }
  }

  // 1. An interface replaced one for one keeps its listener and its sessions: `gctl apply`
  //    recreates an interface whose settings changed (a certificate rotated, ciphers), and
  //    the new one has the same endpoint, type and service. Its sessions would otherwise
  //    all get 421 at their next command (probe round 45). New handshakes use the new
  //    certificate (step 3 sets it); a session already in TLS keeps its own.
  std::map<std::int64_t, std::shared_ptr<Listener>> adopted;
  for (auto it = listeners_.begin(); it != listeners_.end();) {
    if (wanted.contains(it->first)) {
      ++it;
      continue;
    }
    const auto& listener = it->second;
    auto successor = std::find_if(wanted.begin(), wanted.end(), [&](const auto& entry) {
      const Wanted& w = entry.second;
      // The client-certificate trust is a decision about who may relay, not a rotation:
      // sessions admitted under another one are drained (probe round 46).
      const std::string client_ca = w.tls ? w.tls->client_ca_pem() : std::string();
      return !listeners_.contains(entry.first) && !adopted.contains(entry.first) &&
             w.endpoint == listener->endpoint() && w.type == listener->type() &&
             w.service == listener->service_name() && client_ca == listener->client_ca_pem();
    });
    if (successor == wanted.end()) {
      ++it;
      continue;
    }
    spdlog::info("grelayd keeps {} for interface={} (was interface={})",
                 endpoint_text(listener->endpoint()), successor->first, it->first);
    listener->set_interface_id(successor->first);
    adopted.emplace(successor->first, listener);
    it = listeners_.erase(it);
  }
  listeners_.merge(adopted);
  // 2. Close the listeners that go away or move first, so that a port the same snapshot
  //    gives to another interface (one that moved there from another port) is free for it.
  for (auto it = listeners_.begin(); it != listeners_.end();) {
    auto w = wanted.find(it->first);
    if (w == wanted.end() || w->second.endpoint != it->second->endpoint() ||
        w->second.type != it->second->type()) {
      const std::size_t sessions = it->second->active_sessions();
      it->second->stop();
      spdlog::info("grelayd closed {}{}", endpoint_text(it->second->endpoint()),
                   sessions == 0 ? std::string()
                                 : ": its " + std::to_string(sessions) +
                                       " session(s) finish their command, then get 421");
      it = listeners_.erase(it);
    } else {
      ++it;
    }
  }
  // 3. Hand the new service to the listeners that stay; open the new ones. A listener
  //    closed in step 1 releases its port once its executor has run the close, and another
  //    process may hold a port for a while: a failed open is retried on a timer (100 ms,
  //    doubling to 5 s) until it succeeds or a snapshot no longer wants it.
  bool failed = false;
  for (auto& [id, w] : wanted) {
    if (auto it = listeners_.find(id); it != listeners_.end()) {
      // TLS first: a session that sees the new version takes the new TLS context with it
      // (RelaySession::refresh_service).
      it->second->set_tls(w.tls);
      it->second->set_service(w.config, version_);
      continue;
    }
    auto listener = std::make_shared<Listener>(io_, id, w.type, w.endpoint, w.config, node_);
    listener->set_tls(w.tls);
    listener->set_service(w.config, version_);
    if (auto err = listener->open()) {
      const std::string reason = endpoint_text(w.endpoint) + ": " + err.message();
      if (auto [known, inserted] = open_failures_.try_emplace(id, reason);
          inserted || known->second != reason) {
        known->second = reason;
        spdlog::error("interface={} service={}: cannot listen on {} (retrying)", id, w.service,
                      reason);
      }
      failed = true;
      continue;
    }
    open_failures_.erase(id);
    listener->start();
    spdlog::info("grelayd listening on {} service={}", endpoint_text(listener->endpoint()),
                 w.service);
    listeners_.emplace(id, std::move(listener));
  }
  std::erase_if(open_failures_, [&](const auto& entry) { return !wanted.contains(entry.first); });
  if (!failed) {
    retry_delay_ = kFirstRetry;
    retry_timer_.cancel();
    return;
  }
  retry_timer_.expires_after(retry_delay_);
  retry_delay_ = std::min(retry_delay_ * 2, kLastRetry);
  retry_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (!ec) apply(last_);
  });
}

void ListenerManager::stop_all() {
  stopped_ = true;
  retry_timer_.cancel();
  for (auto& [id, listener] : listeners_) listener->stop();
  listeners_.clear();
}

}  // namespace gw::dataplane

// Snapshot → listeners.
#include "dataplane/listener_manager.h"

#include <spdlog/spdlog.h>

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

ListenerManager::ListenerManager(asio::io_context& io, NodeIdentity node)
    : io_(io), node_(std::move(node)) {}

void ListenerManager::apply(const gateway::v1::ConfigSnapshot& snapshot) {
  version_ = snapshot.version();
  CertificateIndex certificates;
  for (const auto& cert : snapshot.certificates()) certificates[cert.name()] = &cert;
  std::set<std::int64_t> wanted;
  for (const auto& service : snapshot.services()) {
    auto config = make_service_config(service, certificates);
    if (!config->upstream_tls_error.empty()) {
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
          spdlog::error("interface={} service={}: TLS unusable: {}", iface.id(), service.name(),
                        e.what());
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
      tcp::endpoint endpoint(address, static_cast<std::uint16_t>(iface.port()));
      wanted.insert(iface.id());
      auto it = listeners_.find(iface.id());
      if (it != listeners_.end()) {
        if (it->second->endpoint() == endpoint && it->second->type() == type) {
          it->second->set_service(config, version_);
          it->second->set_tls(tls);
          continue;
        }
        it->second->stop();
        spdlog::info("grelayd closed {}", endpoint_text(it->second->endpoint()));
        listeners_.erase(it);
      }
      auto listener = std::make_shared<Listener>(io_, iface.id(), type, endpoint, config, node_);
      listener->set_tls(tls);
      listener->set_service(config, version_);
      if (auto err = listener->open()) {
        spdlog::error("interface={} service={}: cannot listen on {}: {}", iface.id(),
                      service.name(), endpoint_text(endpoint), err.message());
        continue;
      }
      listener->start();
      spdlog::info("grelayd listening on {} service={}", endpoint_text(listener->endpoint()),
                   service.name());
      listeners_.emplace(iface.id(), std::move(listener));
    }
  }
  for (auto it = listeners_.begin(); it != listeners_.end();) {
    if (wanted.count(it->first) == 0) {
      it->second->stop();
      spdlog::info("grelayd closed {}", endpoint_text(it->second->endpoint()));
      it = listeners_.erase(it);
    } else {
      ++it;
    }
  }
}

void ListenerManager::stop_all() {
  for (auto& [id, listener] : listeners_) listener->stop();
  listeners_.clear();
}

}  // namespace gw::dataplane

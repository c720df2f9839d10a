// Snapshot → listeners.
#include "dataplane/listener_manager.h"

#include <spdlog/spdlog.h>

#include <set>

namespace gw::dataplane {
namespace {

std::string endpoint_text(const tcp::endpoint& ep) {
  auto addr = ep.address();
  return (addr.is_v6() ? "[" + addr.to_string() + "]" : addr.to_string()) + ":" +
         std::to_string(ep.port());
}

}  // namespace

ListenerManager::ListenerManager(asio::io_context& io, NodeIdentity node)
    : io_(io), node_(std::move(node)) {}

void ListenerManager::apply(const gateway::v1::ConfigSnapshot& snapshot) {
  version_ = snapshot.version();
  std::set<std::int64_t> wanted;
  for (const auto& service : snapshot.services()) {
    auto config = make_service_config(service);
    for (const auto& iface : service.interfaces()) {
      if (iface.type() != gateway::v1::INTERFACE_TYPE_TCP &&
          iface.type() != gateway::v1::INTERFACE_TYPE_UNSPECIFIED) {
        spdlog::warn("interface={} service={}: type {} not supported by this node yet, skipped",
                     iface.id(), service.name(), gateway::v1::InterfaceType_Name(iface.type()));
        continue;
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
        if (it->second->endpoint() == endpoint) {
          it->second->set_service(config);
          continue;
        }
        it->second->stop();
        spdlog::info("grelayd closed {}", endpoint_text(it->second->endpoint()));
        listeners_.erase(it);
      }
      auto listener = std::make_shared<Listener>(io_, iface.id(), endpoint, config, node_);
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

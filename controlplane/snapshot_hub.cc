// Snapshot publication to watchers.
#include "controlplane/snapshot_hub.h"

#include <cstdio>
#include <cstdlib>

namespace gw::controlplane {

namespace v1 = gateway::v1;

SnapshotHub::SnapshotHub() : current_(std::make_shared<const Configuration>()) {}

std::shared_ptr<const Configuration> SnapshotHub::current() const {
  std::lock_guard lock(mu_);
  return current_;
}

void SnapshotHub::publish(std::shared_ptr<const Configuration> next,
                          const std::vector<std::string>& changed_instances) {
  std::vector<
      std::pair<std::shared_ptr<SnapshotWatcher>, std::shared_ptr<const v1::ConfigSnapshot>>>
      deliveries;
  {
    std::lock_guard lock(mu_);
    if (next == nullptr || next->version < current_->version) {
      std::fprintf(stderr, "SnapshotHub::publish: configuration version went backwards\n");
      std::abort();
    }
    current_ = std::move(next);
    for (const std::string& instance : changed_instances) {
      auto snapshot = current_->snapshot(instance);
      if (snapshot == nullptr) {
        auto empty = std::make_shared<v1::ConfigSnapshot>();
        empty->set_version(current_->version);
        empty->set_instance(instance);
        snapshot = std::move(empty);
      }
      auto it = watchers_.find(instance);
      if (it == watchers_.end()) continue;
      for (auto w = it->second.begin(); w != it->second.end();) {
        if (auto strong = w->second.lock()) {
          deliveries.emplace_back(std::move(strong), snapshot);
          ++w;
        } else {
          w = it->second.erase(w);
        }
      }
    }
  }
  // Outside the lock: a watcher may call back into the hub (unsubscribe) or take its own
  // lock; the strong references keep each watcher alive for the call.
  for (auto& [watcher, snapshot] : deliveries) watcher->on_snapshot(std::move(snapshot));
}

std::shared_ptr<const v1::ConfigSnapshot> SnapshotHub::subscribe(
    const std::string& instance, const std::shared_ptr<SnapshotWatcher>& watcher) {
  std::lock_guard lock(mu_);
  if (closed_) return nullptr;
  watchers_[instance][watcher.get()] = watcher;
  if (auto snapshot = current_->snapshot(instance)) return snapshot;
  auto empty = std::make_shared<v1::ConfigSnapshot>();
  empty->set_version(current_->version);
  empty->set_instance(instance);
  return empty;
}

void SnapshotHub::unsubscribe(const std::string& instance, const SnapshotWatcher* watcher) {
  std::lock_guard lock(mu_);
  auto it = watchers_.find(instance);
  if (it == watchers_.end()) return;
  it->second.erase(watcher);
  if (it->second.empty()) watchers_.erase(it);
}

void SnapshotHub::close() {
  std::vector<std::shared_ptr<SnapshotWatcher>> all;
  {
    std::lock_guard lock(mu_);
    if (closed_) return;
    closed_ = true;
    for (auto& [instance, by_ptr] : watchers_) {
      for (auto& [ptr, weak] : by_ptr) {
        if (auto strong = weak.lock()) all.push_back(std::move(strong));
      }
    }
    watchers_.clear();
  }
  for (auto& watcher : all) watcher->on_hub_closed();
}

std::size_t SnapshotHub::watcher_count() const {
  std::lock_guard lock(mu_);
  std::size_t n = 0;
  for (const auto& [instance, by_ptr] : watchers_) n += by_ptr.size();
  return n;
}

}  // namespace gw::controlplane

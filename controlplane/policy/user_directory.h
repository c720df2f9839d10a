// The authentication repository as the policy engine sees it: user name → password hash
// (DESIGN.md §2 "authentication repository").
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace gw::controlplane::policy {

/// Looks users up for attribute_authentication. Implementations are read-only snapshots:
/// lookup() is called from decision threads concurrently and must not block on I/O.
class UserDirectory {
 public:
  virtual ~UserDirectory() = default;

  /// The stored password hash of user `name` (exact, case-sensitive), or nullopt if there
  /// is no such user.
  virtual std::optional<std::string> lookup(std::string_view name) const = 0;
};

/// An in-memory directory: what the control plane builds from its configuration snapshot,
/// and what tests use. Immutable after construction.
class MapUserDirectory final : public UserDirectory {
 public:
  MapUserDirectory() = default;
  explicit MapUserDirectory(std::map<std::string, std::string, std::less<>> hashes)
      : hashes_(std::move(hashes)) {}

  std::optional<std::string> lookup(std::string_view name) const override {
    const auto it = hashes_.find(name);
    if (it == hashes_.end()) return std::nullopt;
    return it->second;
  }

 private:
  std::map<std::string, std::string, std::less<>> hashes_;
};

}  // namespace gw::controlplane::policy

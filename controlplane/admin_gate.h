// The admin token (DESIGN.md §8: "admin token for gctl"): who may call the admin API.
#pragma once

#include <array>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include <grpcpp/server_context.h>
#include <grpcpp/support/status.h>

namespace gw::controlplane {

/// Checks the bearer token of admin calls (AdminService, PolicyAdminService, FollowAudit
/// included). The token travels as gRPC metadata `authorization: Bearer TOKEN` (RFC 6750
/// §2.1, as gRPC's own call credentials send it). Nodes (NodeService, DecisionService) are
/// not asked for it: they are authenticated by client certificates (gctld --tls-ca).
/// Without a token every admin call is let through, as before the token existed.
/// Only a SHA-256 of the token is kept; the comparison takes constant time.
/// Thread-safe (immutable after construction).
class AdminGate {
 public:
  /// Admin tokens are 16 to 4096 visible ASCII characters (an HTTP/2 header value).
  static constexpr std::size_t kMinTokenLength = 16;
  static constexpr std::size_t kMaxTokenLength = 4096;

  /// A gate that lets every call through.
  AdminGate() = default;
  /// A gate that asks for `token`. Throws std::invalid_argument (message says why, never
  /// the token) when it is shorter than kMinTokenLength, longer than kMaxTokenLength or
  /// has a character outside 0x21-0x7E.
  explicit AdminGate(std::string_view token);
  /// The token in `path` (trailing CR, LF, spaces and tabs dropped, so `echo` and editors
  /// may end the file with a newline). Throws std::runtime_error naming the file when it
  /// cannot be read, std::invalid_argument as above.
  static AdminGate from_file(const std::filesystem::path& path);

  [[nodiscard]] bool enabled() const { return digest_.has_value(); }

  /// nullopt when `ctx`'s call may go on; otherwise the status to end it with:
  /// UNAUTHENTICATED "admin token required" (no `authorization` metadata) or
  /// "admin token refused" (another token). Logs a warning with the peer and `method`
  /// (never the token).
  [[nodiscard]] std::optional<grpc::Status> refuse(const grpc::ServerContext& ctx,
                                                   std::string_view method) const;

 private:
  std::optional<std::array<unsigned char, 32>> digest_;
};

}  // namespace gw::controlplane

// gctl's connection to the control plane: one gRPC channel, plaintext or TLS with an optional
// client certificate, carrying AdminService and PolicyAdminService, with a bounded wait for
// the connection and a deadline on every unary call (DESIGN.md §8, issues 3 and 4).
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include <grpcpp/client_context.h>

#include "gateway/v1/admin.grpc.pb.h"
#include "gateway/v1/policy.grpc.pb.h"

namespace gw::cli {

/// How long gctl waits for the TCP/HTTP2 connection to the control plane.
inline constexpr std::chrono::seconds kConnectTimeout{3};
/// Deadline of every admin call, connection included.
inline constexpr std::chrono::seconds kCallTimeout{10};
/// Deadline of `gctl apply`: a file may hold tens of MiB of policies or many users, each
/// password hashed with Argon2id (about 0.2 s each; probe round 34: 120 users took 24 s
/// and gctl gave up at 10 s while gctld went on and applied the file).
inline constexpr std::chrono::minutes kApplyTimeout{10};
/// Server used when neither --server nor $GCTL_SERVER is given.
inline constexpr const char* kDefaultServer = "127.0.0.1:7070";

/// `env_value` (the value of $GCTL_SERVER, null when unset) if non-empty, else kDefaultServer.
std::string default_server(const char* env_value);

/// Where and how to reach the control plane: the global options `--server`, `--tls-ca`,
/// `--tls-cert`, `--tls-key` (files; read when connecting, never printed).
struct ChannelOptions {
  std::string server = kDefaultServer;  // "host:port", any gRPC target
  std::string tls_ca_file;    // non-empty: TLS; gctld's certificate must chain to this CA and
                              // name the server's host (SAN DNS or IP)
  std::string tls_cert_file;  // client certificate chain (with tls_key_file), for mTLS
  std::string tls_key_file;
  std::string token_file;     // admin token (gctld --admin-token-file), sent on every call
};

/// The admin token in `path`: the file's text without trailing CR, LF, spaces and tabs.
/// Throws std::runtime_error naming the file (never its content) when it cannot be read,
/// is empty, or holds a character other than visible ASCII (it travels as the HTTP/2 header
/// `authorization: Bearer TOKEN`).
std::string read_admin_token(const std::string& path);

/// Adds `token` to `context` as `authorization: Bearer TOKEN` (RFC 6750 §2.1); nothing
/// when `token` is empty.
void add_admin_token(grpc::ClientContext& context, const std::string& token);

/// The stubs of the control plane's admin API, both on the same channel (same server, same
/// TLS settings). Both set, or both null when the server cannot be reached.
struct ControlPlaneStubs {
  std::shared_ptr<gateway::v1::AdminService::StubInterface> admin;
  std::shared_ptr<gateway::v1::PolicyAdminService::StubInterface> policy;
  /// When both are null: what a TLS handshake of gctl's own found wrong (diagnose_unreachable
  /// in tls_diagnosis.h), or "" when it found nothing to say.
  std::string unreachable_reason;

  explicit operator bool() const { return admin != nullptr && policy != nullptr; }
};

/// Connection attempts that must fail (refused, unresolvable, TLS refused) before gctl
/// gives up, and the pause between them.
inline constexpr int kConnectAttempts = 3;
inline constexpr std::chrono::milliseconds kReconnectBackoff{100};

/// Opens a channel per `options` and waits up to `connect_timeout` until it is ready.
/// Returns empty stubs when the server cannot be reached (kConnectAttempts failed attempts,
/// or no answer in time), with the TLS cause when one is found; the caller reports that. Throws
/// std::runtime_error when a TLS file cannot be read (the message names the file, never its
/// content). HTTP proxies from the environment are not used: the admin API is reached
/// directly.
ControlPlaneStubs connect_control_plane(
    const ChannelOptions& options, std::chrono::milliseconds connect_timeout = kConnectTimeout);

/// Sets `context`'s deadline to now + `timeout`. Every call gctl makes goes through this.
void set_call_deadline(grpc::ClientContext& context,
                       std::chrono::milliseconds timeout = kCallTimeout);

}  // namespace gw::cli

// The relay node's view of one service: the proto Service with every default applied, in
// the units the session uses (DESIGN.md §2 "service", config.proto Limits).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>

#include "dataplane/asio.h"
#include "gateway/v1/config.pb.h"

namespace gw::dataplane {

/// Limits and timeouts of a service. Field meanings and defaults: config.proto `Limits`.
struct SessionLimits {
  std::size_t max_command_line = 512;
  std::size_t max_auth_line = 12288;
  std::size_t max_text_line = 1000;
  std::uint64_t max_message_size = 36700160;
  std::size_t max_recipients = 100;
  std::size_t max_sessions = 1000;
  std::size_t max_sessions_per_client = 50;
  std::chrono::milliseconds idle_timeout{60000};
  std::chrono::milliseconds session_timeout{1800000};
  std::chrono::milliseconds data_timeout{600000};
  std::chrono::milliseconds upstream_connect_timeout{30000};
  std::chrono::milliseconds upstream_timeout{300000};
  std::chrono::milliseconds upstream_data_timeout{600000};
  std::chrono::milliseconds decision_timeout{1000};
  std::size_t max_errors = 20;
  std::size_t max_idle_commands = 50;

  /// Octets of message a DATA decision may take per extra millisecond of its timeout.
  static constexpr std::size_t kDataDecisionOctetsPerMs = 8 * 1024;
  /// What an AUTH decision may take beyond decision_timeout: gctld checks the password
  /// against an Argon2id hash (64 MiB, 2 passes: 0.1–0.5 s on a 2-core machine, more with
  /// several logins at once), slow by design; with the example's 500 ms half of four
  /// concurrent good logins got 454 4.7.0 (probe round 40).
  static constexpr std::chrono::milliseconds kAuthDecisionAllowance{2000};
  /// How long a decision for `command` may take, in ms: decision_timeout; for AUTH
  /// kAuthDecisionAllowance more; for DATA one ms more per kDataDecisionOctetsPerMs octets of
  /// `message_octets` (about 4.5 s more at 35 MiB). gctld parses the whole message (about
  /// 0.25 s for 34 MB alone, several times that with a few at once), so one fixed second
  /// turned large messages into 451 4.3.0 on every retry under load (probe round 36).
  [[nodiscard]] std::chrono::milliseconds decision_timeout_for(
      gateway::v1::SmtpCommand command, std::size_t message_octets) const {
    if (command == gateway::v1::SMTP_COMMAND_AUTH) return decision_timeout + kAuthDecisionAllowance;
    if (command != gateway::v1::SMTP_COMMAND_DATA) return decision_timeout;
    return decision_timeout +
           std::chrono::milliseconds(message_octets / kDataDecisionOctetsPerMs);
  }
};

/// Immutable once built; a session holds a shared_ptr to the version it runs on (LiveService
/// says when a newer one is there).
struct ServiceConfig {
  std::string name;
  std::string upstream_host;
  std::uint16_t upstream_port = 25;
  gateway::v1::Security security = gateway::v1::SECURITY_NONE;
  std::string hostname;  // banner / EHLO name; empty = the node's host name
  bool monitoring = false;
  bool protocol_trace = false;  // log the SMTP dialogue of its sessions (smtp::ProtocolTrace)
  bool fail_open = false;
  bool require_tls = false;           // only NOOP/EHLO/STARTTLS/QUIT before TLS (530 5.7.0)
  bool allow_plaintext_auth = false;  // AUTH on an unencrypted client connection
  std::string username;               // upstream AUTH credentials; never logged
  std::string password;
  // Upstream TLS (security ssl/starttls): the client context, or why there is none.
  std::shared_ptr<asio::ssl::context> upstream_tls;
  std::string upstream_tls_error;
  bool verify_hostname = true;
  std::string tls_server_name;        // name verified and sent as SNI; default upstream_host
  SessionLimits limits;
  gateway::v1::Service handlers;  // only its `handlers` field is set (handler_selector.h)

  [[nodiscard]] bool has_credentials() const { return !username.empty() && !password.empty(); }
};

/// The version of one interface's service the node runs now, shared by the interface's
/// listener (which replaces it when a snapshot changes the service) and its sessions (which
/// take the new version at their next command, so a handler added or deleted with gctl
/// reaches sessions already open: issue 2 "within one second"). Thread-safe.
class LiveService {
 public:
  LiveService(std::shared_ptr<const ServiceConfig> service, std::uint64_t config_version)
      : service_(std::move(service)), version_(config_version) {}

  void set(std::shared_ptr<const ServiceConfig> service, std::uint64_t config_version) {
    std::lock_guard lock(mu_);
    service_ = std::move(service);
    version_.store(config_version, std::memory_order_release);
  }
  /// The configuration version of the current service; cheap (no lock).
  [[nodiscard]] std::uint64_t version() const { return version_.load(std::memory_order_acquire); }
  /// The current service and its configuration version.
  [[nodiscard]] std::pair<std::shared_ptr<const ServiceConfig>, std::uint64_t> get() const {
    std::lock_guard lock(mu_);
    return {service_, version_.load(std::memory_order_relaxed)};
  }

 private:
  mutable std::mutex mu_;
  std::shared_ptr<const ServiceConfig> service_;  // guarded by mu_
  std::atomic<std::uint64_t> version_;
};

/// Certificates of a snapshot by name.
using CertificateIndex = std::map<std::string, const gateway::v1::Certificate*>;

/// Converts a snapshot's service, replacing zero limits by their defaults and building the
/// upstream TLS context from the named trust anchors and client certificate. A TLS
/// configuration that cannot be built leaves upstream_tls empty with upstream_tls_error set
/// (sessions then give their clients a 4xx); it does not throw.
std::shared_ptr<const ServiceConfig> make_service_config(const gateway::v1::Service& service,
                                                         const CertificateIndex& certificates);

}  // namespace gw::dataplane

// gctl's gRPC channel to the control plane: bounded connect, per-call deadlines.
#include "cli/admin_channel.h"

#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/support/channel_arguments.h>

#include <fstream>
#include <iterator>
#include <stdexcept>
#include <thread>

#include "cli/tls_diagnosis.h"
#include "common/message_limits.h"

namespace gw::cli {
namespace {

std::string read_file(const std::string& path, const char* flag) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error(std::string("cannot read ") + flag + " " + path);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) throw std::runtime_error(std::string("cannot read ") + flag + " " + path);
  if (text.empty()) throw std::runtime_error(std::string(flag) + " " + path + " is empty");
  return text;
}

std::shared_ptr<grpc::ChannelCredentials> credentials_for(const ChannelOptions& options) {
  if (options.tls_ca_file.empty()) return grpc::InsecureChannelCredentials();
  grpc::SslCredentialsOptions ssl;
  ssl.pem_root_certs = read_file(options.tls_ca_file, "--tls-ca");
  if (!options.tls_cert_file.empty()) {
    ssl.pem_cert_chain = read_file(options.tls_cert_file, "--tls-cert");
    ssl.pem_private_key = read_file(options.tls_key_file, "--tls-key");
  }
  return grpc::SslCredentials(ssl);
}

// Empty stubs, with what gctl's own TLS handshake found wrong (gRPC says only "not
// connected").
ControlPlaneStubs unreachable(const ChannelOptions& options) {
  ControlPlaneStubs none;
  none.unreachable_reason = diagnose_unreachable(options);
  return none;
}

}  // namespace

std::string read_admin_token(const std::string& path) {
  std::string token = read_file(path, "--token-file");
  while (!token.empty() && (token.back() == '\n' || token.back() == '\r' ||
                            token.back() == ' ' || token.back() == '\t')) {
    token.pop_back();
  }
  if (token.empty()) throw std::runtime_error("--token-file " + path + " is empty");
  for (char c : token) {
    if (c < 0x21 || c > 0x7e) {
      throw std::runtime_error("--token-file " + path +
                               " holds a character other than visible ASCII");
    }
  }
  return token;
}

void add_admin_token(grpc::ClientContext& context, const std::string& token) {
  if (!token.empty()) context.AddMetadata("authorization", "Bearer " + token);
}

std::string default_server(const char* env_value) {
  if (env_value != nullptr && *env_value != '\0') return env_value;
  return kDefaultServer;
}

ControlPlaneStubs connect_control_plane(const ChannelOptions& options,
                                        std::chrono::milliseconds connect_timeout) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_ENABLE_HTTP_PROXY, 0);
  // Whatever gctld answers (its own configuration, which it keeps exportable: policies are
  // capped, and a large user list must still be readable; probe round 34).
  args.SetMaxReceiveMessageSize(-1);
  args.SetMaxSendMessageSize(common::kMaxConfigurationBytes);     // apply of one
  const auto credentials = credentials_for(options);
  const auto deadline = std::chrono::system_clock::now() + connect_timeout;
  // WaitForConnected would keep retrying a refused connection until the deadline, and a
  // channel stays in TRANSIENT_FAILURE through its own (1 s and more) backoff. So each
  // attempt gets a fresh channel: a refused or unresolvable server (TRANSIENT_FAILURE) is
  // tried kConnectAttempts times, kReconnectBackoff apart (well under a second in all),
  // because a busy control plane may drop a single connection attempt.
  std::shared_ptr<grpc::Channel> channel;
  for (int attempt = 1;; ++attempt) {
    channel = grpc::CreateCustomChannel(options.server, credentials, args);
    grpc_connectivity_state state = channel->GetState(/*try_to_connect=*/true);
    while (state != GRPC_CHANNEL_READY && state != GRPC_CHANNEL_TRANSIENT_FAILURE &&
           state != GRPC_CHANNEL_SHUTDOWN) {
      if (!channel->WaitForStateChange(state, deadline)) return unreachable(options);
      state = channel->GetState(/*try_to_connect=*/true);
    }
    if (state == GRPC_CHANNEL_READY) break;
    if (attempt >= kConnectAttempts ||
        std::chrono::system_clock::now() + kReconnectBackoff >= deadline) {
      return unreachable(options);
    }
    std::this_thread::sleep_for(kReconnectBackoff);
  }
  return ControlPlaneStubs{gateway::v1::AdminService::NewStub(channel),
                           gateway::v1::PolicyAdminService::NewStub(channel), ""};
}

void set_call_deadline(grpc::ClientContext& context, std::chrono::milliseconds timeout) {
  context.set_deadline(std::chrono::system_clock::now() + timeout);
}

}  // namespace gw::cli

// gctl's gRPC channel to the control plane: bounded connect, per-call deadlines.
#include "cli/admin_channel.h"

#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/support/channel_arguments.h>

#include <fstream>
#include <iterator>
#include <stdexcept>

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

}  // namespace

std::string default_server(const char* env_value) {
  if (env_value != nullptr && *env_value != '\0') return env_value;
  return kDefaultServer;
}

ControlPlaneStubs connect_control_plane(const ChannelOptions& options,
                                        std::chrono::milliseconds connect_timeout) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_ENABLE_HTTP_PROXY, 0);
  auto channel = grpc::CreateCustomChannel(options.server, credentials_for(options), args);
  const auto deadline = std::chrono::system_clock::now() + connect_timeout;
  // WaitForConnected would keep retrying a refused connection until the deadline; a refused
  // or unresolvable server shows up as TRANSIENT_FAILURE at once, so stop there.
  grpc_connectivity_state state = channel->GetState(/*try_to_connect=*/true);
  while (state != GRPC_CHANNEL_READY) {
    if (state == GRPC_CHANNEL_TRANSIENT_FAILURE || state == GRPC_CHANNEL_SHUTDOWN) return {};
    if (!channel->WaitForStateChange(state, deadline)) return {};
    state = channel->GetState(/*try_to_connect=*/true);
  }
  return ControlPlaneStubs{gateway::v1::AdminService::NewStub(channel),
                           gateway::v1::PolicyAdminService::NewStub(channel)};
}

void set_call_deadline(grpc::ClientContext& context, std::chrono::milliseconds timeout) {
  context.set_deadline(std::chrono::system_clock::now() + timeout);
}

}  // namespace gw::cli

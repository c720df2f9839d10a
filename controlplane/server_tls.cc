// Loading and checking gctld's TLS files; gRPC server credentials.
#include "controlplane/server_tls.h"

#include <fstream>
#include <iterator>
#include <stdexcept>

#include "controlplane/certificate_pem.h"

namespace gw::controlplane {
namespace {

std::string read_file(const std::filesystem::path& path, const char* flag) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error(std::string("cannot read ") + flag + " " + path.string());
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) throw std::runtime_error(std::string("cannot read ") + flag + " " + path.string());
  return text;
}

}  // namespace

ServerTls load_server_tls(const std::filesystem::path& cert_file,
                          const std::filesystem::path& key_file,
                          const std::filesystem::path& ca_file) {
  ServerTls tls;
  tls.cert_chain_pem = read_file(cert_file, "--tls-cert");
  tls.private_key_pem = read_file(key_file, "--tls-key");
  if (auto chain = inspect_certificate_chain(tls.cert_chain_pem); !chain) {
    throw std::runtime_error("--tls-cert " + cert_file.string() + ": " + chain.error().message);
  }
  auto key = check_private_key(tls.cert_chain_pem, tls.private_key_pem);
  if (!key) throw std::runtime_error("--tls-key " + key_file.string() + ": " + key.error().message);
  tls.private_key_pem = std::move(key).value();
  if (!ca_file.empty()) {
    tls.client_ca_pem = read_file(ca_file, "--tls-ca");
    if (auto ca = inspect_certificate_chain(tls.client_ca_pem); !ca) {
      throw std::runtime_error("--tls-ca " + ca_file.string() + ": " + ca.error().message);
    }
  }
  return tls;
}

std::shared_ptr<grpc::ServerCredentials> server_credentials(const std::optional<ServerTls>& tls) {
  if (!tls) return grpc::InsecureServerCredentials();
  grpc::SslServerCredentialsOptions options(
      tls->client_ca_pem.empty() ? GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE
                                 : GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  options.pem_root_certs = tls->client_ca_pem;
  options.pem_key_cert_pairs.push_back({tls->private_key_pem, tls->cert_chain_pem});
  return grpc::SslServerCredentials(options);
}

}  // namespace gw::controlplane

// TLS for gctld's gRPC port (issue 3): the server certificate and key, and optionally the CA
// that client certificates (relay nodes, gctl) must chain to.
#pragma once

#include <grpcpp/security/server_credentials.h>

#include <filesystem>
#include <memory>
#include <optional>
#include <string>

namespace gw::controlplane {

/// PEM material of the gRPC server's TLS. Holds a private key: never logged.
struct ServerTls {
  std::string cert_chain_pem;  // leaf first
  std::string private_key_pem;
  std::string client_ca_pem;  // non-empty: require a client certificate that chains to it
};

/// Reads --tls-cert, --tls-key and (when not empty) --tls-ca and checks them with OpenSSL:
/// every PEM block of the chain and of the CA file a certificate, the key matching the first
/// certificate. Throws std::runtime_error naming the file and the reason (start-up only).
ServerTls load_server_tls(const std::filesystem::path& cert_file,
                          const std::filesystem::path& key_file,
                          const std::filesystem::path& ca_file);

/// The gRPC credentials for the listening port: plaintext without `tls`; TLS with it, and
/// with a client CA GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY, so a client
/// without a certificate from that CA never completes the handshake.
std::shared_ptr<grpc::ServerCredentials> server_credentials(const std::optional<ServerTls>& tls);

}  // namespace gw::controlplane

// Tests of gctl's failure mapping (status → exit code and error line), server defaults, and
// the TLS channel against an in-process TLS server that requires client certificates.
#include "cli/command_context.h"

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>

#include "cli/gctl_app.h"

namespace gw::cli {
namespace {

TEST(ExitCodeFor, OkIsZeroEveryFailureIsOne) {
  EXPECT_EQ(exit_code_for(grpc::Status::OK), 0);
  for (auto code : {grpc::StatusCode::INVALID_ARGUMENT, grpc::StatusCode::NOT_FOUND,
                    grpc::StatusCode::ALREADY_EXISTS, grpc::StatusCode::FAILED_PRECONDITION,
                    grpc::StatusCode::UNAVAILABLE, grpc::StatusCode::DEADLINE_EXCEEDED,
                    grpc::StatusCode::INTERNAL, grpc::StatusCode::UNIMPLEMENTED}) {
    EXPECT_EQ(exit_code_for(grpc::Status(code, "x")), 1) << code;
  }
}

TEST(ErrorTextFor, UnreachableNamesTheServer) {
  EXPECT_EQ(error_text_for(grpc::Status(grpc::StatusCode::UNAVAILABLE,
                                        "failed to connect to all "
                                        "addresses"),
                           "127.0.0.1:1"),
            "cannot reach control plane at 127.0.0.1:1");
  EXPECT_EQ(error_text_for(grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED, "Deadline Exceeded"),
                           "cp:7070"),
            "no answer from control plane at cp:7070 in time; a change it was making may "
            "still take effect (check before retrying)");
}

TEST(ErrorTextFor, RefusalCarriesTheServerMessageOnOneLine) {
  EXPECT_EQ(
      error_text_for(
          grpc::Status(grpc::StatusCode::ALREADY_EXISTS, "service \"corp\" already exists"), "s"),
      "service \"corp\" already exists");
  EXPECT_EQ(error_text_for(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "bad\nname\r\n"), "s"),
            "bad name");
  EXPECT_EQ(error_text_for(grpc::Status(grpc::StatusCode::NOT_FOUND, ""), "s"), "NOT_FOUND");
}

TEST(DefaultServer, EnvironmentWinsWhenSet) {
  EXPECT_EQ(default_server(nullptr), "127.0.0.1:7070");
  EXPECT_EQ(default_server(""), "127.0.0.1:7070");
  EXPECT_EQ(default_server("cp.example.net:9000"), "cp.example.net:9000");
}

TEST(ConnectAdmin, RefusedServerIsReportedQuickly) {
  // Port 1 on loopback: nothing listens there, the connection is refused at once.
  const auto start = std::chrono::steady_clock::now();
  ChannelOptions options;
  options.server = "127.0.0.1:1";
  EXPECT_FALSE(connect_control_plane(options, std::chrono::seconds(3)));
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));
}

TEST(ConnectAdmin, UnreadableTlsFileNamesTheFlag) {
  ChannelOptions options;
  options.server = "127.0.0.1:1";
  options.tls_ca_file = "/nonexistent/ca.pem";
  try {
    connect_control_plane(options, std::chrono::seconds(1));
    ADD_FAILURE() << "expected an exception";
  } catch (const std::runtime_error& e) {
    EXPECT_EQ(std::string(e.what()), "cannot read --tls-ca /nonexistent/ca.pem");
  }
}

// A CA, a server certificate (SAN IP:127.0.0.1, DNS:localhost), a client certificate from that
// CA and one from another CA, made with openssl(1) in a private directory.
class TestPki {
 public:
  TestPki() {
    std::string pattern = (std::filesystem::temp_directory_path() / "gctl-pki-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    dir_ = pattern;
    std::ofstream(file("san.ext")) << "subjectAltName=IP:127.0.0.1,DNS:localhost\n";
    std::ofstream(file("client.ext")) << "extendedKeyUsage=clientAuth\n";
    ok_ = ca("ca") && ca("rogue-ca") && leaf("server", "ca", "san.ext") &&
          leaf("client", "ca", "client.ext") && leaf("rogue", "rogue-ca", "client.ext");
  }
  TestPki(const TestPki&) = delete;
  TestPki& operator=(const TestPki&) = delete;
  ~TestPki() {
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }

  bool ok() const { return ok_; }
  std::string file(const std::string& name) const { return (dir_ / name).string(); }
  std::string read(const std::string& name) const {
    std::ifstream in(file(name));
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  }

 private:
  bool sh(const std::string& command) const {
    return std::system(("cd '" + dir_.string() + "' && " + command + " >/dev/null 2>&1").c_str()) ==
           0;
  }
  bool ca(const std::string& name) const {
    return sh(
        "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 "
        "-subj /CN=" +
        name + " -addext basicConstraints=critical,CA:TRUE -keyout " + name + ".key -out " + name +
        ".pem");
  }
  bool leaf(const std::string& name, const std::string& issuer, const std::string& ext) const {
    return sh("openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=" + name +
              " -keyout " + name + ".key -out " + name + ".csr") &&
           sh("openssl x509 -req -in " + name + ".csr -CA " + issuer + ".pem -CAkey " + issuer +
              ".key -CAcreateserial -days 2 -extfile " + ext + " -out " + name + ".pem");
  }

  std::filesystem::path dir_;
  bool ok_ = false;
};

class OneNodeAdmin final : public gateway::v1::AdminService::Service {
  grpc::Status ListNodes(grpc::ServerContext*, const gateway::v1::ListNodesRequest*,
                         gateway::v1::ListNodesResponse* response) override {
    response->add_nodes()->set_node_id("relay-tls");
    return grpc::Status::OK;
  }
};

class TlsChannelTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(pki_.ok()) << "openssl(1) could not make the test certificates";
    // As gctld serves with --tls-cert/--tls-key/--tls-ca (controlplane/server_tls.cc).
    grpc::SslServerCredentialsOptions ssl(
        GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
    ssl.pem_root_certs = pki_.read("ca.pem");
    ssl.pem_key_cert_pairs.push_back({pki_.read("server.key"), pki_.read("server.pem")});
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::SslServerCredentials(ssl), &port_);
    builder.RegisterService(&service_);
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    ASSERT_GT(port_, 0);
  }
  void TearDown() override {
    if (server_) server_->Shutdown(std::chrono::system_clock::now());
  }

  // gctl's whole run with the production connector.
  int gctl(std::vector<std::string> args) {
    out_.str("");
    err_.str("");
    ChannelOptions defaults;
    defaults.server = server();
    return run_gctl(
        args, [](const ChannelOptions& channel) { return connect_control_plane(channel); },
        defaults, in_, out_, err_);
  }
  std::string server() const { return "127.0.0.1:" + std::to_string(port_); }

  TestPki pki_;
  OneNodeAdmin service_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
  std::istringstream in_;
  std::ostringstream out_;
  std::ostringstream err_;
};

TEST_F(TlsChannelTest, ValidClientCertificateIsServed) {
  ASSERT_EQ(gctl({"--tls-ca", pki_.file("ca.pem"), "--tls-cert", pki_.file("client.pem"),
                  "--tls-key", pki_.file("client.key"), "node", "list"}),
            0)
      << err_.str();
  EXPECT_NE(out_.str().find("relay-tls"), std::string::npos) << out_.str();
  EXPECT_EQ(err_.str(), "");
}

// Each refusal names its cause: gRPC 1.51 says only "not connected", so gctl repeats the
// handshake itself (cli/tls_diagnosis.h).
TEST_F(TlsChannelTest, WithoutAValidClientCertificateTheServerCannotBeReachedAndGctlSaysWhy) {
  const std::string unreachable = "gctl: error: cannot reach control plane at " + server() + ": ";
  EXPECT_EQ(gctl({"--tls-ca", pki_.file("ca.pem"), "node", "list"}), 1) << "no client cert";
  EXPECT_EQ(err_.str(), unreachable +
                            "gctld closed the connection during the TLS handshake: it may want "
                            "a client certificate (--tls-cert, --tls-key)\n");
  EXPECT_EQ(gctl({"--tls-ca", pki_.file("ca.pem"), "--tls-cert", pki_.file("rogue.pem"),
                  "--tls-key", pki_.file("rogue.key"), "node", "list"}),
            1)
      << "client cert from another CA";
  EXPECT_EQ(err_.str(), unreachable +
                            "gctld closed the connection during the TLS handshake: it may not "
                            "trust --tls-cert\n");
  EXPECT_EQ(gctl({"node", "list"}), 1) << "plaintext to a TLS port";
  EXPECT_EQ(err_.str(), unreachable +
                            "the server speaks TLS: give --tls-ca (and --tls-cert/--tls-key if it "
                            "asks for a client certificate)\n");
  EXPECT_EQ(gctl({"--tls-ca", pki_.file("rogue-ca.pem"), "--tls-cert", pki_.file("client.pem"),
                  "--tls-key", pki_.file("client.key"), "node", "list"}),
            1)
      << "gctl does not trust the server's CA";
  EXPECT_EQ(err_.str(), unreachable +
                            "gctld's certificate is not trusted by --tls-ca (self-signed "
                            "certificate in certificate chain)\n");
  EXPECT_EQ(gctl({"--server", "127.0.0.2:" + std::to_string(port_), "--tls-ca",
                  pki_.file("ca.pem"), "--tls-cert", pki_.file("client.pem"), "--tls-key",
                  pki_.file("client.key"), "node", "list"}),
            1)
      << "nothing listens on 127.0.0.2";
  EXPECT_EQ(err_.str(), "gctl: error: cannot reach control plane at 127.0.0.2:" +
                            std::to_string(port_) + "\n")
      << "no TCP connection: nothing to add";
  // gctl's own files (probe round 42: a key given as --tls-ca said nothing).
  struct FileCase {
    std::string ca, cert, key, cause;
  };
  const FileCase file_cases[] = {
      {"client.key", "", "", "--tls-ca " + pki_.file("client.key") + " holds no PEM certificate"},
      {"ca.pem", "client.key", "client.pem",
       "--tls-cert " + pki_.file("client.key") + " holds no PEM certificate"},
      {"ca.pem", "client.pem", "ca.pem",
       "--tls-key " + pki_.file("ca.pem") + " holds no unencrypted PEM private key"},
      {"ca.pem", "client.pem", "rogue.key",
       "--tls-key " + pki_.file("rogue.key") + " is not the key of --tls-cert"},
      // Refused, never asked about (probe round 43: OpenSSL's prompt blocked on a tty).
      {"ca.pem", "client.pem", "client.enc.key",
       "--tls-key " + pki_.file("client.enc.key") + " holds no unencrypted PEM private key"},
  };
  ASSERT_EQ(std::system(("openssl pkey -in '" + pki_.file("client.key") +
                         "' -aes256 -passout pass:abcd -out '" + pki_.file("client.enc.key") +
                         "' </dev/null >/dev/null 2>&1")
                            .c_str()),
            0);
  for (const FileCase& c : file_cases) {
    std::vector<std::string> args = {"--tls-ca", pki_.file(c.ca)};
    if (!c.cert.empty()) {
      args.insert(args.end(), {"--tls-cert", pki_.file(c.cert), "--tls-key", pki_.file(c.key)});
    }
    args.insert(args.end(), {"node", "list"});
    EXPECT_EQ(gctl(args), 1) << c.cause;
    EXPECT_EQ(err_.str(), unreachable + c.cause + "\n");
  }
  EXPECT_EQ(out_.str(), "");
  // Nothing of the key file reaches the output.
  const std::string key = pki_.read("client.key");
  EXPECT_EQ(err_.str().find(key.substr(40, 20)), std::string::npos);
}

}  // namespace
}  // namespace gw::cli

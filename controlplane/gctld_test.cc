// Tests of the gctld executable: flags, port file, log line, exit codes, SIGTERM/SIGINT,
// a restart on the same database (data kept, versions never go backwards), and the gRPC
// port's TLS: required client certificates, no plaintext beyond loopback without --insecure.
#include <fcntl.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <chrono>
#include <fstream>
#include <optional>
#include <sstream>
#include <thread>

#include "controlplane/test_pki.h"
#include "gateway/v1/admin.grpc.pb.h"
#include "gateway/v1/node.grpc.pb.h"
#include "storage/test_temp_dir.h"

extern char** environ;

namespace gw::controlplane {
namespace {

namespace v1 = gateway::v1;
using std::chrono::steady_clock;

std::string slurp(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::stringstream out;
  out << in.rdbuf();
  return out.str();
}

// One gctld child process; stdout and stderr go to `log`. Killed if still running at the end.
class Gctld {
 public:
  Gctld(const std::vector<std::string>& args, const std::filesystem::path& log) {
    std::vector<std::string> argv_storage{GCTLD_PATH};
    argv_storage.insert(argv_storage.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& a : argv_storage) argv.push_back(a.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    posix_spawn_file_actions_adddup2(&actions, 1, 2);
    int rc = posix_spawn(&pid_, GCTLD_PATH, &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0) pid_ = -1;
  }
  Gctld(const Gctld&) = delete;
  Gctld& operator=(const Gctld&) = delete;
  ~Gctld() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }

  bool started() const { return pid_ > 0; }
  void signal(int sig) const { ::kill(pid_, sig); }

  // The exit code, or nullopt if it is still running after 10 s (or died by a signal).
  std::optional<int> wait_exit() {
    const auto until = steady_clock::now() + std::chrono::seconds(10);
    while (steady_clock::now() < until) {
      int status = 0;
      pid_t done = ::waitpid(pid_, &status, WNOHANG);
      if (done == pid_) {
        pid_ = -1;
        if (WIFEXITED(status)) return WEXITSTATUS(status);
        return std::nullopt;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return std::nullopt;
  }

 private:
  pid_t pid_ = -1;
};

// Waits up to 10 s for the port file and returns its port (0 on timeout or bad content).
int wait_port_file(const std::filesystem::path& path) {
  const auto until = steady_clock::now() + std::chrono::seconds(10);
  while (steady_clock::now() < until) {
    if (std::filesystem::exists(path)) {
      std::string text = slurp(path);
      if (!text.empty() && text.back() == '\n') return std::stoi(text);
      return 0;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return 0;
}

std::uint64_t register_node(const std::shared_ptr<grpc::Channel>& channel) {
  auto stub = v1::NodeService::NewStub(channel);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  v1::RegisterNodeRequest request;
  request.set_node_id("relay-1");
  request.set_instance("default");
  v1::RegisterNodeResponse response;
  EXPECT_TRUE(stub->Register(&ctx, request, &response).ok());
  return response.config_version();
}

grpc::Status create_service(const std::shared_ptr<grpc::Channel>& channel,
                            const std::string& name) {
  auto stub = v1::AdminService::NewStub(channel);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  v1::CreateServiceRequest request;
  request.mutable_service()->set_name(name);
  request.mutable_service()->set_host("smtp.example.net");
  request.mutable_service()->set_username("relay");
  request.mutable_service()->set_password("pw");
  v1::Service response;
  return stub->CreateService(&ctx, request, &response);
}

std::shared_ptr<grpc::Channel> channel_to(int port) {
  return grpc::CreateChannel("127.0.0.1:" + std::to_string(port),
                             grpc::InsecureChannelCredentials());
}

TEST(GctldTest, ServesOnFreePortAndStopsCleanlyOnSigtermAndRestartKeepsState) {
  storage::TestTempDir dir;
  const auto db = dir.file("g.db").string();
  std::uint64_t version_before_restart = 0;
  {
    Gctld gctld({"--listen", "127.0.0.1:0", "--db", db, "--port-file", dir.file("port").string(),
                 "--log-level", "debug"},
                dir.file("log1"));
    ASSERT_TRUE(gctld.started());
    const int port = wait_port_file(dir.file("port"));
    ASSERT_GT(port, 0) << slurp(dir.file("log1"));
    auto channel = channel_to(port);
    ASSERT_TRUE(create_service(channel, "corp").ok());
    version_before_restart = register_node(channel);
    EXPECT_EQ(version_before_restart, 1u);
    gctld.signal(SIGTERM);
    EXPECT_EQ(gctld.wait_exit(), std::optional<int>(0)) << slurp(dir.file("log1"));
  }
  const std::string log = slurp(dir.file("log1"));
  std::string port_text = slurp(dir.file("port"));
  port_text.pop_back();  // the newline
  EXPECT_NE(log.find("gctld listening on 127.0.0.1:" + port_text + "\n"), std::string::npos) << log;
  EXPECT_EQ(log.find("pw"), std::string::npos) << "the password is never logged";
  // The key, the database and its WAL are for gctld's user only (fresh-user trial,
  // session 16: the database was 0644 and held password hashes and sealed secrets).
  for (const std::string& file : {db + ".key", db, db + "-wal"}) {
    struct stat st {};
    if (file.ends_with("-wal") && ::stat(file.c_str(), &st) != 0) continue;  // checkpointed
    ASSERT_EQ(::stat(file.c_str(), &st), 0) << file;
    EXPECT_EQ(st.st_mode & 0777, 0600u) << file;
  }

  Gctld again({"--listen", "127.0.0.1:0", "--db", db, "--port-file", dir.file("port2").string()},
              dir.file("log2"));
  const int port = wait_port_file(dir.file("port2"));
  ASSERT_GT(port, 0) << slurp(dir.file("log2"));
  auto channel = channel_to(port);
  EXPECT_EQ(register_node(channel), version_before_restart) << "version kept across restart";
  EXPECT_EQ(create_service(channel, "corp").error_code(), grpc::StatusCode::ALREADY_EXISTS);
  ASSERT_TRUE(create_service(channel, "other").ok());
  EXPECT_EQ(register_node(channel), version_before_restart + 1);
  again.signal(SIGINT);
  EXPECT_EQ(again.wait_exit(), std::optional<int>(0)) << slurp(dir.file("log2"));

  // The key file lost: gctld refuses to start, and leaves no new (wrong) key behind, so the
  // next start with the restored key works (probe round 21).
  const std::string key = db + ".key";
  const std::string saved = slurp(key);
  ASSERT_EQ(::unlink(key.c_str()), 0);
  Gctld keyless({"--listen", "127.0.0.1:0", "--db", db}, dir.file("log3"));
  EXPECT_EQ(keyless.wait_exit(), std::optional<int>(1)) << slurp(dir.file("log3"));
  EXPECT_NE(slurp(dir.file("log3")).find("does not open the secrets"), std::string::npos);
  struct stat st {};
  EXPECT_NE(::stat(key.c_str(), &st), 0) << "no stray key file";
}

TEST(GctldTest, UsageErrorsExitTwo) {
  storage::TestTempDir dir;
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"--listen", "no-port-here"},
        std::vector<std::string>{"--listen", "127.0.0.1:70000"},
        std::vector<std::string>{"--log-level", "loud"},
        std::vector<std::string>{"--no-such-flag"}}) {
    Gctld gctld(args, dir.file("log"));
    EXPECT_EQ(gctld.wait_exit(), std::optional<int>(2)) << args[0];
  }
  Gctld help({"--help"}, dir.file("help"));
  EXPECT_EQ(help.wait_exit(), std::optional<int>(0));
  EXPECT_NE(slurp(dir.file("help")).find("--port-file"), std::string::npos);
}

TEST(GctldTest, StartupFailuresExitOne) {
  storage::TestTempDir dir;
  Gctld first({"--listen", "127.0.0.1:0", "--db", dir.file("a.db").string(), "--port-file",
               dir.file("port").string()},
              dir.file("log-a"));
  const int port = wait_port_file(dir.file("port"));
  ASSERT_GT(port, 0);
  Gctld second({"--listen", "127.0.0.1:" + std::to_string(port), "--db", dir.file("b.db").string()},
               dir.file("log-b"));
  EXPECT_EQ(second.wait_exit(), std::optional<int>(1)) << "port already in use";
  EXPECT_NE(slurp(dir.file("log-b")).find("cannot listen"), std::string::npos)
      << slurp(dir.file("log-b"));

  Gctld no_db({"--listen", "127.0.0.1:0", "--db", dir.file("missing/dir/g.db").string()},
              dir.file("log-c"));
  EXPECT_EQ(no_db.wait_exit(), std::optional<int>(1));
  EXPECT_NE(slurp(dir.file("log-c")).find("cannot open database"), std::string::npos);
  first.signal(SIGTERM);
  EXPECT_EQ(first.wait_exit(), std::optional<int>(0));
}

void write_file(const std::filesystem::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
}

TEST(GctldTest, PlaintextBeyondLoopbackNeedsInsecure) {
  storage::TestTempDir dir;
  const auto db = dir.file("g.db").string();
  for (const char* listen : {"0.0.0.0:0", "[::]:0", "192.0.2.1:7070", "gctld.example.net:7070"}) {
    Gctld refused({"--listen", listen, "--db", db}, dir.file("refused"));
    EXPECT_EQ(refused.wait_exit(), std::optional<int>(2)) << listen;
    const std::string log = slurp(dir.file("refused"));
    EXPECT_NE(
        log.find(std::string("gctld: error: refusing to listen on ") + listen + " without TLS"),
        std::string::npos)
        << log;
    EXPECT_NE(log.find("--insecure"), std::string::npos) << log;
    EXPECT_FALSE(std::filesystem::exists(db)) << "refused before touching the database";
  }

  Gctld insecure(
      {"--listen", "0.0.0.0:0", "--insecure", "--db", db, "--port-file", dir.file("port").string()},
      dir.file("insecure"));
  const int port = wait_port_file(dir.file("port"));
  ASSERT_GT(port, 0) << slurp(dir.file("insecure"));
  EXPECT_EQ(register_node(channel_to(port)), 0u);
  insecure.signal(SIGTERM);
  EXPECT_EQ(insecure.wait_exit(), std::optional<int>(0));
  EXPECT_NE(slurp(dir.file("insecure")).find("--insecure: plaintext gRPC"), std::string::npos);
}

TEST(GctldTest, TlsFlagCombinationsAreUsageErrors) {
  storage::TestTempDir dir;
  const testing::TestCert server = testing::make_cert(testing::CertSpec{});
  write_file(dir.file("server.pem"), server.cert_pem);
  write_file(dir.file("server.key"), server.key_pem);
  const std::string cert = dir.file("server.pem").string();
  const std::string key = dir.file("server.key").string();
  struct Case {
    std::vector<std::string> args;
    std::string message;
  };
  for (const Case& c :
       {Case{{"--tls-cert", cert}, "--tls-cert and --tls-key go together"},
        Case{{"--tls-key", key}, "--tls-cert and --tls-key go together"},
        Case{{"--tls-ca", cert}, "--tls-ca needs --tls-cert and --tls-key"},
        Case{{"--tls-cert", cert, "--tls-key", key, "--insecure"}, "excludes"},
        Case{{"--tls-cert", dir.file("missing.pem").string(), "--tls-key", key}, "missing.pem"}}) {
    std::vector<std::string> args = {"--listen", "127.0.0.1:0", "--db", dir.file("g.db").string()};
    args.insert(args.end(), c.args.begin(), c.args.end());
    Gctld gctld(args, dir.file("log"));
    EXPECT_EQ(gctld.wait_exit(), std::optional<int>(2)) << c.message;
    EXPECT_NE(slurp(dir.file("log")).find(c.message), std::string::npos) << slurp(dir.file("log"));
    std::filesystem::remove(dir.file("log"));
  }

  // Files that exist but do not fit together: a start-up failure naming the file, exit 1,
  // and never the key itself in the log.
  const testing::TestCert other = testing::make_cert(testing::CertSpec{});
  write_file(dir.file("other.key"), other.key_pem);
  Gctld mismatch({"--listen", "127.0.0.1:0", "--db", dir.file("g.db").string(), "--tls-cert", cert,
                  "--tls-key", dir.file("other.key").string()},
                 dir.file("mismatch"));
  EXPECT_EQ(mismatch.wait_exit(), std::optional<int>(1));
  const std::string log = slurp(dir.file("mismatch"));
  EXPECT_NE(log.find("other.key: the private key does not match"), std::string::npos) << log;
  EXPECT_EQ(log.find(testing::secret_part(other.key_pem)), std::string::npos);
}

TEST(GctldTest, TlsWithClientCaRefusesClientsWithoutAValidCertificate) {
  storage::TestTempDir dir;
  const testing::TestCert ca = testing::make_ca("gctld CA");
  const testing::TestCert server = testing::make_cert(testing::CertSpec{}, &ca);
  const testing::TestCert node =
      testing::make_cert(testing::CertSpec{"relay-1", {}, false, -60, 3600, "EC", "", ""}, &ca);
  const testing::TestCert rogue_ca = testing::make_ca("rogue CA");
  const testing::TestCert rogue =
      testing::make_cert(testing::CertSpec{"relay-1", {}, false, -60, 3600, "EC", "", ""}, &rogue_ca);
  write_file(dir.file("ca.pem"), ca.cert_pem);
  write_file(dir.file("server.pem"), server.cert_pem);
  write_file(dir.file("server.key"), server.key_pem);

  // TLS makes a wildcard address acceptable without --insecure.
  Gctld gctld(
      {"--listen", "0.0.0.0:0", "--db", dir.file("g.db").string(), "--port-file",
       dir.file("port").string(), "--tls-cert", dir.file("server.pem").string(), "--tls-key",
       dir.file("server.key").string(), "--tls-ca", dir.file("ca.pem").string()},
      dir.file("log"));
  const int port = wait_port_file(dir.file("port"));
  ASSERT_GT(port, 0) << slurp(dir.file("log"));

  auto call = [port](std::shared_ptr<grpc::ChannelCredentials> credentials) {
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    auto stub = v1::NodeService::NewStub(grpc::CreateCustomChannel(
        "127.0.0.1:" + std::to_string(port), std::move(credentials), args));
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    v1::RegisterNodeRequest request;
    request.set_node_id("relay-1");
    request.set_instance("default");
    v1::RegisterNodeResponse response;
    return stub->Register(&ctx, request, &response);
  };
  // As grelayd builds its channel (dataplane/node_agent.cc): SslCredentials with the CA and
  // an optional client certificate; the server is checked against SAN IP:127.0.0.1.
  auto with = [&ca](const testing::TestCert* identity) {
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = ca.cert_pem;
    if (identity != nullptr) {
      ssl.pem_cert_chain = identity->cert_pem;
      ssl.pem_private_key = identity->key_pem;
    }
    return grpc::SslCredentials(ssl);
  };
  EXPECT_TRUE(call(with(&node)).ok()) << slurp(dir.file("log"));
  EXPECT_EQ(call(with(nullptr)).error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(call(with(&rogue)).error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(call(grpc::InsecureChannelCredentials()).error_code(), grpc::StatusCode::UNAVAILABLE);

  gctld.signal(SIGTERM);
  EXPECT_EQ(gctld.wait_exit(), std::optional<int>(0));
  const std::string log = slurp(dir.file("log"));
  EXPECT_NE(log.find("gRPC over TLS, client certificates required"), std::string::npos) << log;
  EXPECT_EQ(log.find(testing::secret_part(server.key_pem)), std::string::npos);
}

}  // namespace
}  // namespace gw::controlplane

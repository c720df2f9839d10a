// In-process gRPC tests: a real ControlPlane on 127.0.0.1:0 and real stubs. Admin errors,
// secrets, certificates, the watch stream (initial snapshot, push on change, cascade, many
// and slow watchers, cancellation, shutdown), registration, decisions, and the gRPC port
// over TLS with required client certificates.
#include <google/protobuf/util/field_mask_util.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <set>
#include <thread>
#include <vector>

#include "controlplane/decision_stream_reactor.h"
#include "controlplane/control_plane.h"
#include "controlplane/test_pki.h"
#include "gateway/v1/admin.grpc.pb.h"
#include "gateway/v1/decision.grpc.pb.h"
#include "gateway/v1/node.grpc.pb.h"
#include "gateway/v1/policy.grpc.pb.h"
#include "storage/test_temp_dir.h"

namespace gw::controlplane {
namespace {

namespace v1 = gateway::v1;
using std::chrono::milliseconds;
using std::chrono::steady_clock;

// Sanitizers slow everything down several times; the budgets scale with them.
#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
constexpr int kSlowdown = 10;
#else
constexpr int kSlowdown = 1;
#endif
constexpr auto kCallTimeout = std::chrono::seconds(10) * kSlowdown;
constexpr auto kStreamTimeout = std::chrono::seconds(30) * kSlowdown;
constexpr auto kPushBudget = milliseconds(500) * kSlowdown;  // "well under one second"

struct WatchStream {
  grpc::ClientContext ctx;
  std::unique_ptr<grpc::ClientReader<v1::ConfigSnapshot>> reader;
  bool ended = false;
  grpc::Status status;

  // The next snapshot. When the stream has ended this records a test failure and returns
  // an empty snapshot (callers check `ended` before relying on the content).
  v1::ConfigSnapshot next() {
    v1::ConfigSnapshot snapshot;
    if (ended) {
      ADD_FAILURE() << "stream already ended: " << status.error_message();
    } else if (!reader->Read(&snapshot)) {
      ended = true;
      status = reader->Finish();  // exactly once per stream
      ADD_FAILURE() << "stream ended: " << status.error_message();
    }
    return snapshot;
  }
};

class ControlPlaneGrpcTest : public ::testing::Test {
 protected:
  void SetUp() override {
    plane_ = std::make_unique<ControlPlane>(ControlPlaneOptions{"127.0.0.1:0", dir_.file("gw.db")});
    ASSERT_GT(plane_->port(), 0);
    channel_ = new_channel();
    admin_ = v1::AdminService::NewStub(channel_);
    node_ = v1::NodeService::NewStub(channel_);
    decision_ = v1::DecisionService::NewStub(channel_);
  }

  // A channel with its own TCP connection, as a separate relay node would have.
  std::shared_ptr<grpc::Channel> new_channel() {
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    return grpc::CreateCustomChannel("127.0.0.1:" + std::to_string(plane_->port()),
                                     grpc::InsecureChannelCredentials(), args);
  }

  // A HELO decision request of node relay-1 for `service`.
  static v1::DecisionRequest helo_request(const std::string& service) {
    v1::DecisionRequest request;
    request.set_node_id("relay-1");
    request.set_service(service);
    request.set_command(v1::SMTP_COMMAND_HELO);
    (*request.mutable_attributes())["smtp.helo.domain"] = "client.example.org";
    return request;
  }

  /// A HELO request gctld answers (continue) and one it refuses (no command).
  static std::pair<v1::DecisionRequest, v1::DecisionRequest> good_and_bad(
      const std::string& service) {
    v1::DecisionRequest good = helo_request(service);
    v1::DecisionRequest bad = good;
    bad.set_command(v1::SMTP_COMMAND_UNSPECIFIED);
    return {good, bad};
  }

  /// Checks one DecideStream/DecideBatches result against `sent` (call id -> whether its
  /// request was valid) and takes the call off it: each call is answered exactly once.
  static void take_result(const v1::DecisionResult& result, std::map<std::uint64_t, bool>& sent,
                          std::set<std::string>& decision_ids) {
    auto it = sent.find(result.call_id());
    ASSERT_NE(it, sent.end()) << "unknown or repeated call id " << result.call_id();
    if (it->second) {
      EXPECT_EQ(result.status_code(), 0);
      EXPECT_EQ(result.response().verdict(), v1::VERDICT_CONTINUE);
      decision_ids.insert(result.response().decision_id());
    } else {
      EXPECT_EQ(result.status_code(), static_cast<int>(grpc::StatusCode::INVALID_ARGUMENT));
      EXPECT_FALSE(result.status_message().empty());
      EXPECT_TRUE(result.response().decision_id().empty());
    }
    sent.erase(it);
  }

  static void set_deadline(grpc::ClientContext& ctx) {
    ctx.set_deadline(std::chrono::system_clock::now() + kCallTimeout);
  }

  grpc::Status create_service(const v1::Service& service, v1::Service* out = nullptr) {
    grpc::ClientContext ctx;
    set_deadline(ctx);
    v1::CreateServiceRequest request;
    *request.mutable_service() = service;
    v1::Service response;
    auto status = admin_->CreateService(&ctx, request, &response);
    if (out != nullptr) *out = response;
    return status;
  }

  grpc::Status create_interface(const std::string& service, std::uint32_t port,
                                const std::string& bind = "", v1::Interface* out = nullptr) {
    grpc::ClientContext ctx;
    set_deadline(ctx);
    v1::CreateInterfaceRequest request;
    request.mutable_interface()->set_service(service);
    request.mutable_interface()->set_port(port);
    request.mutable_interface()->set_bind_address(bind);
    v1::Interface response;
    auto status = admin_->CreateInterface(&ctx, request, &response);
    if (out != nullptr) *out = response;
    return status;
  }

  grpc::Status update_service(const v1::Service& patch, std::initializer_list<const char*> paths,
                              v1::Service* out = nullptr) {
    grpc::ClientContext ctx;
    set_deadline(ctx);
    v1::UpdateServiceRequest request;
    *request.mutable_service() = patch;
    for (const char* p : paths) request.mutable_update_mask()->add_paths(p);
    v1::Service response;
    auto status = admin_->UpdateService(&ctx, request, &response);
    if (out != nullptr) *out = response;
    return status;
  }

  grpc::Status create_certificate(const std::string& name, const testing::TestCert& pki,
                                  bool with_key, v1::Certificate* out = nullptr) {
    grpc::ClientContext ctx;
    set_deadline(ctx);
    v1::CreateCertificateRequest request;
    request.mutable_certificate()->set_name(name);
    request.mutable_certificate()->set_cert_pem(pki.cert_pem);
    if (with_key) request.mutable_certificate()->set_key_pem(pki.key_pem);
    v1::Certificate response;
    auto status = admin_->CreateCertificate(&ctx, request, &response);
    if (out != nullptr) *out = response;
    return status;
  }

  grpc::Status delete_certificate(const std::string& name) {
    grpc::ClientContext ctx;
    set_deadline(ctx);
    v1::DeleteCertificateRequest request;
    request.set_name(name);
    v1::DeleteCertificateResponse response;
    return admin_->DeleteCertificate(&ctx, request, &response);
  }

  grpc::Status delete_service(const std::string& name) {
    grpc::ClientContext ctx;
    set_deadline(ctx);
    v1::DeleteServiceRequest request;
    request.set_name(name);
    v1::DeleteServiceResponse response;
    return admin_->DeleteService(&ctx, request, &response);
  }

  std::vector<v1::Node> list_nodes() {
    grpc::ClientContext ctx;
    set_deadline(ctx);
    v1::ListNodesResponse response;
    EXPECT_TRUE(admin_->ListNodes(&ctx, v1::ListNodesRequest(), &response).ok());
    return {response.nodes().begin(), response.nodes().end()};
  }

  std::unique_ptr<WatchStream> watch(const std::string& node_id, const std::string& instance,
                                     v1::NodeService::Stub* stub = nullptr) {
    auto stream = std::make_unique<WatchStream>();
    stream->ctx.set_deadline(std::chrono::system_clock::now() + kStreamTimeout);
    v1::WatchConfigRequest request;
    request.set_node_id(node_id);
    request.set_instance(instance);
    stream->reader = (stub != nullptr ? stub : node_.get())->Watch(&stream->ctx, request);
    return stream;
  }

  // Polls `predicate` for up to 5 s.
  template <class Predicate>
  static bool eventually(Predicate predicate) {
    const auto until = steady_clock::now() + std::chrono::seconds(5) * kSlowdown;
    while (steady_clock::now() < until) {
      if (predicate()) return true;
      std::this_thread::sleep_for(milliseconds(10));
    }
    return predicate();
  }

  static v1::Service service(const std::string& name, const std::string& instance = "") {
    v1::Service s;
    s.set_name(name);
    s.set_host("smtp.example.net");
    s.set_instance(instance);
    return s;
  }

  storage::TestTempDir dir_;
  std::unique_ptr<ControlPlane> plane_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::AdminService::Stub> admin_;
  std::unique_ptr<v1::NodeService::Stub> node_;
  std::unique_ptr<v1::DecisionService::Stub> decision_;
};

TEST_F(ControlPlaneGrpcTest, AdminErrorsMapToStatusCodes) {
  auto bad = create_service(service("no spaces"));
  EXPECT_EQ(bad.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(bad.error_message().find("service name \"no spaces\" is invalid"), std::string::npos);
  v1::Service no_host = service("corp");
  no_host.clear_host();
  EXPECT_EQ(create_service(no_host).error_message(), "host is required");

  ASSERT_TRUE(create_service(service("corp")).ok());
  auto dup = create_service(service("corp"));
  EXPECT_EQ(dup.error_code(), grpc::StatusCode::ALREADY_EXISTS);
  EXPECT_EQ(dup.error_message(), "service \"corp\" already exists");

  grpc::ClientContext get_ctx;
  set_deadline(get_ctx);
  v1::GetServiceRequest get;
  get.set_name("ghost");
  v1::Service got;
  EXPECT_EQ(admin_->GetService(&get_ctx, get, &got).error_code(), grpc::StatusCode::NOT_FOUND);

  EXPECT_EQ(create_interface("ghost", 2525).error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(create_interface("corp", 0).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(create_interface("corp", 2525, "not-an-ip").error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  ASSERT_TRUE(create_interface("corp", 2525).ok());
  auto taken = create_interface("corp", 2525, "127.0.0.1");
  EXPECT_EQ(taken.error_code(), grpc::StatusCode::ALREADY_EXISTS);
  EXPECT_NE(taken.error_message().find("127.0.0.1:2525"), std::string::npos);
  EXPECT_EQ(create_interface("corp", 2525, "0.0.0.0").error_code(),
            grpc::StatusCode::ALREADY_EXISTS);

  grpc::ClientContext del_ctx;
  set_deadline(del_ctx);
  v1::DeleteInterfaceRequest del;
  del.set_id(999);
  v1::DeleteInterfaceResponse del_response;
  EXPECT_EQ(admin_->DeleteInterface(&del_ctx, del, &del_response).error_code(),
            grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(delete_service("ghost").error_code(), grpc::StatusCode::NOT_FOUND);

  EXPECT_EQ(update_service(service("corp"), {}).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(update_service(service("corp"), {"name"}).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(update_service(service("corp"), {"bogus"}).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(update_service(service("ghost"), {"port"}).error_code(), grpc::StatusCode::NOT_FOUND);

  grpc::ClientContext list_ctx;
  set_deadline(list_ctx);
  v1::ListInterfacesRequest list;
  list.set_service("ghost");
  v1::ListInterfacesResponse listed;
  EXPECT_EQ(admin_->ListInterfaces(&list_ctx, list, &listed).error_code(),
            grpc::StatusCode::NOT_FOUND);
}

TEST_F(ControlPlaneGrpcTest, AdminNeverReturnsThePassword) {
  v1::Service in = service("corp");
  in.set_username("relay");
  in.set_password("hunter2");
  v1::Service created;
  ASSERT_TRUE(create_service(in, &created).ok());
  EXPECT_TRUE(created.has_password());
  EXPECT_EQ(created.password(), "");
  EXPECT_EQ(created.port(), 25u) << "defaults filled";

  grpc::ClientContext ctx;
  set_deadline(ctx);
  v1::ListServicesResponse listed;
  ASSERT_TRUE(admin_->ListServices(&ctx, v1::ListServicesRequest(), &listed).ok());
  ASSERT_EQ(listed.services_size(), 1);
  EXPECT_EQ(listed.services(0).password(), "");
  EXPECT_TRUE(listed.services(0).has_password());
  EXPECT_EQ(listed.DebugString().find("hunter2"), std::string::npos);

  v1::Service patch = service("corp");
  patch.set_port(2526);
  v1::Service updated;
  ASSERT_TRUE(update_service(patch, {"port"}, &updated).ok());
  EXPECT_EQ(updated.port(), 2526u);
  EXPECT_EQ(updated.password(), "");
  EXPECT_TRUE(updated.has_password());
}

TEST_F(ControlPlaneGrpcTest, WatchSendsInitialSnapshotThenEveryChangeOfItsInstance) {
  v1::Service corp = service("corp");
  corp.set_username("relay");
  corp.set_password("pw");
  ASSERT_TRUE(create_service(corp).ok());
  v1::Interface first;
  ASSERT_TRUE(create_interface("corp", 2525, "", &first).ok());

  auto stream = watch("relay-1", "default");
  v1::ConfigSnapshot initial = stream->next();
  EXPECT_EQ(initial.instance(), "default");
  ASSERT_EQ(initial.services_size(), 1);
  EXPECT_EQ(initial.services(0).password(), "pw") << "the node stream carries the secret";
  ASSERT_EQ(initial.services(0).interfaces_size(), 1);
  EXPECT_EQ(initial.services(0).interfaces(0).id(), first.id());

  // A change reaches the watcher at once (pushed, not polled).
  auto started = steady_clock::now();
  ASSERT_TRUE(create_interface("corp", 2526).ok());
  v1::ConfigSnapshot second = stream->next();
  EXPECT_LT(steady_clock::now() - started, kPushBudget);
  EXPECT_GT(second.version(), initial.version());
  ASSERT_EQ(second.services_size(), 1);
  EXPECT_EQ(second.services(0).interfaces_size(), 2);

  // A change of another instance is not sent; the next snapshot is this instance's.
  ASSERT_TRUE(create_service(service("elsewhere", "edge")).ok());
  v1::Service patch = service("corp");
  patch.mutable_limits()->set_max_recipients(7);
  started = steady_clock::now();
  ASSERT_TRUE(update_service(patch, {"limits.max_recipients"}).ok());
  v1::ConfigSnapshot third = stream->next();
  EXPECT_LT(steady_clock::now() - started, kPushBudget);
  EXPECT_EQ(third.version(), second.version() + 2);
  ASSERT_EQ(third.services_size(), 1);
  EXPECT_EQ(third.services(0).limits().max_recipients(), 7u);

  // Deleting the service takes its interfaces with it.
  ASSERT_TRUE(delete_service("corp").ok());
  v1::ConfigSnapshot fourth = stream->next();
  EXPECT_GT(fourth.version(), third.version());
  EXPECT_EQ(fourth.services_size(), 0);
  grpc::ClientContext ctx;
  set_deadline(ctx);
  v1::ListInterfacesResponse interfaces;
  ASSERT_TRUE(admin_->ListInterfaces(&ctx, v1::ListInterfacesRequest(), &interfaces).ok());
  EXPECT_EQ(interfaces.interfaces_size(), 0);

  stream->ctx.TryCancel();
}

TEST_F(ControlPlaneGrpcTest, ManyWatchersOnManyConnectionsAllReceiveTheChange) {
  ASSERT_TRUE(create_service(service("corp")).ok());
  std::vector<std::unique_ptr<v1::NodeService::Stub>> stubs;
  std::vector<std::unique_ptr<WatchStream>> streams;
  for (int c = 0; c < 10; ++c) {
    stubs.push_back(v1::NodeService::NewStub(new_channel()));
    for (int s = 0; s < 5; ++s) {
      streams.push_back(watch("relay-" + std::to_string(c * 5 + s), "default", stubs.back().get()));
    }
  }
  std::uint64_t initial_version = 0;
  for (auto& stream : streams) initial_version = stream->next().version();
  ASSERT_FALSE(::testing::Test::HasFailure());
  EXPECT_TRUE(eventually([&] { return plane_->hub().watcher_count() == streams.size(); }));

  const auto started = steady_clock::now();
  ASSERT_TRUE(create_interface("corp", 2525).ok());
  for (auto& stream : streams) {
    v1::ConfigSnapshot next = stream->next();
    EXPECT_EQ(next.version(), initial_version + 1);
    ASSERT_EQ(next.services_size(), 1);
    EXPECT_EQ(next.services(0).interfaces_size(), 1);
  }
  EXPECT_LT(steady_clock::now() - started, milliseconds(1000) * kSlowdown);
  for (auto& stream : streams) stream->ctx.TryCancel();
  EXPECT_TRUE(eventually([&] { return plane_->hub().watcher_count() == 0; }));
}

TEST_F(ControlPlaneGrpcTest, SlowWatcherDoesNotHoldUpOthersAndCatchesUpToTheLatest) {
  // Big snapshots, so that the stalled stream's flow-control window fills up.
  // About 250 KB per snapshot: 50 services with 60 trusted CA names of 60 characters, and
  // those 60 certificates.
  const testing::TestCert anchor = testing::make_ca();
  for (int n = 0; n < 60; ++n) {
    ASSERT_TRUE(
        create_certificate(std::string(56, 'c') + "-" + std::to_string(1000 + n), anchor, false)
            .ok());
  }
  for (int i = 0; i < 50; ++i) {
    v1::Service s = service("svc-" + std::to_string(i));
    for (int ca = 0; ca < 60; ++ca) {
      s.add_trusted_cas(std::string(56, 'c') + "-" + std::to_string(1000 + ca));
    }
    ASSERT_TRUE(create_service(s).ok());
  }
  auto slow_stub = v1::NodeService::NewStub(new_channel());
  auto slow = watch("slow", "default", slow_stub.get());
  slow->next();  // then it stops reading
  auto fast = watch("fast", "default");
  std::uint64_t last = fast->next().version();

  constexpr int kChanges = 100;
  for (int i = 0; i < kChanges; ++i) {
    v1::Service patch = service("svc-0");
    patch.set_port(static_cast<std::uint32_t>(1000 + i));
    const auto started = steady_clock::now();
    ASSERT_TRUE(update_service(patch, {"port"}).ok());
    v1::ConfigSnapshot snapshot = fast->next();
    ASSERT_FALSE(fast->ended);
    EXPECT_LT(steady_clock::now() - started, kPushBudget) << "change " << i;
    EXPECT_EQ(snapshot.version(), last + 1);
    last = snapshot.version();
  }

  // The slow reader gets strictly growing versions and ends at the latest one (intermediate
  // versions may have been coalesced while it was not reading).
  std::uint64_t seen = 0;
  int received = 0;
  while (seen < last) {
    v1::ConfigSnapshot snapshot = slow->next();
    if (slow->ended) break;
    EXPECT_GT(snapshot.version(), seen);
    seen = snapshot.version();
    ++received;
  }
  EXPECT_EQ(seen, last);
  // ~20 MB of changes cannot all sit in the stalled stream's flow-control windows, so
  // some snapshots must have been replaced while waiting rather than queued.
  EXPECT_LT(received, kChanges);
  slow->ctx.TryCancel();
  fast->ctx.TryCancel();
}

TEST_F(ControlPlaneGrpcTest, NodeListShowsLiveStreamsAndCancellationCleansUp) {
  ASSERT_TRUE(create_service(service("corp")).ok());
  grpc::ClientContext reg_ctx;
  set_deadline(reg_ctx);
  v1::RegisterNodeRequest reg;
  reg.set_node_id("relay-1");
  reg.set_instance("default");
  reg.set_hostname("relay.example.net");
  reg.set_version("0.1.0");
  v1::RegisterNodeResponse registered;
  ASSERT_TRUE(node_->Register(&reg_ctx, reg, &registered).ok());
  EXPECT_EQ(registered.config_version(), plane_->hub().current()->instance_version("default"));

  auto nodes = list_nodes();
  ASSERT_EQ(nodes.size(), 1u);
  EXPECT_FALSE(nodes[0].connected());
  EXPECT_EQ(nodes[0].hostname(), "relay.example.net");
  EXPECT_EQ(nodes[0].version(), "0.1.0");
  EXPECT_GT(nodes[0].registered_at_ms(), 0);

  auto stream = watch("relay-1", "default");
  const std::uint64_t version = stream->next().version();
  EXPECT_TRUE(eventually([&] {
    auto n = list_nodes();
    return n.size() == 1 && n[0].connected() && n[0].config_version() == version;
  }));
  nodes = list_nodes();
  EXPECT_EQ(nodes[0].peer().rfind("ipv4:127.0.0.1:", 0), 0u) << nodes[0].peer();
  EXPECT_GE(nodes[0].last_seen_ms(), nodes[0].registered_at_ms());

  stream->ctx.TryCancel();
  EXPECT_TRUE(eventually([&] { return plane_->hub().watcher_count() == 0; }));
  EXPECT_TRUE(eventually([&] { return !list_nodes().at(0).connected(); }));

  // A node that watches without registering is listed too.
  auto unregistered = watch("relay-2", "edge");
  EXPECT_EQ(unregistered->next().instance(), "edge");
  EXPECT_TRUE(eventually([&] { return list_nodes().size() == 2; }));
  unregistered->ctx.TryCancel();
}

TEST_F(ControlPlaneGrpcTest, MalformedNodeRequestsAreInvalidArgument) {
  grpc::ClientContext reg_ctx;
  set_deadline(reg_ctx);
  v1::RegisterNodeRequest reg;
  reg.set_instance("default");
  v1::RegisterNodeResponse registered;
  auto status = node_->Register(&reg_ctx, reg, &registered);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(status.error_message().find("node id"), std::string::npos);

  auto stream = watch("relay-1", "");
  v1::ConfigSnapshot snapshot;
  EXPECT_FALSE(stream->reader->Read(&snapshot));
  EXPECT_EQ(stream->reader->Finish().error_code(), grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(ControlPlaneGrpcTest, DecideValidatesAndContinues) {
  ASSERT_TRUE(create_service(service("corp")).ok());
  const v1::DecisionRequest request = helo_request("corp");
  std::string previous;
  for (int i = 0; i < 3; ++i) {
    grpc::ClientContext ctx;
    set_deadline(ctx);
    v1::DecisionResponse response;
    ASSERT_TRUE(decision_->Decide(&ctx, request, &response).ok());
    EXPECT_EQ(response.verdict(), v1::VERDICT_CONTINUE);
    EXPECT_EQ(response.decision_id().size(), 36u);
    EXPECT_NE(response.decision_id(), previous);
    previous = response.decision_id();
  }
  for (auto mutate : {+[](v1::DecisionRequest& r) { r.set_service(""); },
                      +[](v1::DecisionRequest& r) { r.set_command(v1::SMTP_COMMAND_UNSPECIFIED); }}) {
    v1::DecisionRequest bad = request;
    mutate(bad);
    grpc::ClientContext ctx;
    set_deadline(ctx);
    v1::DecisionResponse response;
    EXPECT_EQ(decision_->Decide(&ctx, bad, &response).error_code(),
              grpc::StatusCode::INVALID_ARGUMENT);
  }
}

// gctld answers at most 10,000 audit records per query; a larger limit is refused, not cut
// short without a word (the operator would take the first 10,000 for all there is).
TEST_F(ControlPlaneGrpcTest, QueryAuditRefusesALimitAboveItsCap) {
  auto policy_admin = v1::PolicyAdminService::NewStub(channel_);
  for (const std::uint32_t limit : {0u, 1u, 10000u, 10001u, 4294967295u}) {
    grpc::ClientContext ctx;
    set_deadline(ctx);
    v1::AuditQuery query;
    query.set_limit(limit);
    v1::AuditQueryResponse response;
    const grpc::Status status = policy_admin->QueryAudit(&ctx, query, &response);
    if (limit <= 10000u) {
      EXPECT_TRUE(status.ok()) << limit << ": " << status.error_message();
    } else {
      EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << limit;
      EXPECT_NE(status.error_message().find("10000"), std::string::npos) << status.error_message();
    }
  }
}

TEST_F(ControlPlaneGrpcTest, DecideStreamAnswersEveryCallByItsId) {
  ASSERT_TRUE(create_service(service("corp")).ok());
  const auto [good, bad] = good_and_bad("corp");

  grpc::ClientContext ctx;
  set_deadline(ctx);
  auto stream = decision_->DecideStream(&ctx);
  // Ids need not be dense nor ordered: the node picks them.
  std::map<std::uint64_t, bool> sent;  // call id -> valid request
  for (std::uint64_t i = 0; i < 40; ++i) {
    const std::uint64_t id = 1000 - i * 7;
    const bool valid = i % 5 != 3;
    v1::DecisionCall call;
    call.set_call_id(id);
    *call.mutable_request() = valid ? good : bad;
    ASSERT_TRUE(stream->Write(call));
    sent[id] = valid;
  }
  ASSERT_TRUE(stream->WritesDone());
  std::set<std::string> decision_ids;
  v1::DecisionResult result;
  std::size_t answered = 0;
  while (stream->Read(&result)) {
    ++answered;
    take_result(result, sent, decision_ids);
  }
  EXPECT_EQ(answered, 40u);
  EXPECT_TRUE(sent.empty());
  EXPECT_EQ(decision_ids.size(), 32u);  // a fresh decision id for every valid call
  EXPECT_TRUE(stream->Finish().ok());  // the half-close ends the stream once all is answered
}

TEST_F(ControlPlaneGrpcTest, DecideBatchesAnswersEveryCallOfEveryBatchByItsId) {
  ASSERT_TRUE(create_service(service("corp")).ok());
  const auto [good, bad] = good_and_bad("corp");

  grpc::ClientContext ctx;
  set_deadline(ctx);
  auto stream = decision_->DecideBatches(&ctx);
  // Batches of 0 (ignored), 1, 7 and 64 calls; ids chosen by the node, in any order.
  std::map<std::uint64_t, bool> sent;  // call id -> valid request
  std::uint64_t id = 5000;
  for (int size : {0, 1, 7, kMaxDecisionBatch, 3}) {
    v1::DecisionCallBatch batch;
    for (int i = 0; i < size; ++i) {
      id -= 3;
      const bool valid = id % 5 != 1;
      v1::DecisionCall* call = batch.add_calls();
      call->set_call_id(id);
      *call->mutable_request() = valid ? good : bad;
      sent[id] = valid;
    }
    ASSERT_TRUE(stream->Write(batch));
  }
  const std::size_t calls = sent.size();
  std::size_t valid_calls = 0;
  for (const auto& [_, valid] : sent) valid_calls += valid ? 1 : 0;
  ASSERT_TRUE(stream->WritesDone());
  std::set<std::string> decision_ids;
  v1::DecisionResultBatch batch;
  std::size_t answered = 0;
  while (stream->Read(&batch)) {
    EXPECT_GT(batch.results_size(), 0) << "no empty result batches";
    EXPECT_LE(batch.results_size(), kMaxDecisionBatch);
    for (const v1::DecisionResult& result : batch.results()) {
      ++answered;
      take_result(result, sent, decision_ids);
    }
  }
  EXPECT_EQ(answered, calls);
  EXPECT_TRUE(sent.empty());
  EXPECT_EQ(decision_ids.size(), valid_calls);
  EXPECT_TRUE(stream->Finish().ok());
}

TEST_F(ControlPlaneGrpcTest, RegisterSaysDecideBatchesIsServed) {
  grpc::ClientContext ctx;
  set_deadline(ctx);
  v1::RegisterNodeRequest request;
  request.set_node_id("n-batches");
  request.set_instance("default");
  v1::RegisterNodeResponse response;
  ASSERT_TRUE(node_->Register(&ctx, request, &response).ok());
  EXPECT_TRUE(response.decide_batches());
}

TEST_F(ControlPlaneGrpcTest, CertificatesOverTheAdminApiAndTheNodeStream) {
  const testing::TestCert ca = testing::make_ca();
  const testing::TestCert gw = testing::make_cert(testing::CertSpec{}, &ca);
  const std::string secret = testing::secret_part(gw.key_pem);

  v1::Certificate created;
  ASSERT_TRUE(create_certificate("gw-cert", gw, true, &created).ok());
  EXPECT_TRUE(created.has_key());
  EXPECT_EQ(created.key_pem(), "");
  EXPECT_EQ(created.subject(), "CN=localhost,O=gw test");
  ASSERT_TRUE(create_certificate("corp-ca", ca, false).ok());

  auto dup = create_certificate("gw-cert", gw, true);
  EXPECT_EQ(dup.error_code(), grpc::StatusCode::ALREADY_EXISTS);
  auto reserved = create_certificate("system", ca, false);
  EXPECT_EQ(reserved.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(reserved.error_message().find("reserved"), std::string::npos);
  testing::TestCert wrong_key = gw;
  wrong_key.key_pem = ca.key_pem;
  auto mismatch = create_certificate("bad", wrong_key, true);
  EXPECT_EQ(mismatch.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(mismatch.error_message().find(testing::secret_part(ca.key_pem)), std::string::npos);

  grpc::ClientContext get_ctx;
  set_deadline(get_ctx);
  v1::GetCertificateRequest get;
  get.set_name("gw-cert");
  v1::Certificate got;
  ASSERT_TRUE(admin_->GetCertificate(&get_ctx, get, &got).ok());
  EXPECT_EQ(got.fingerprint_sha256(), created.fingerprint_sha256());
  EXPECT_EQ(got.DebugString().find(secret), std::string::npos);
  grpc::ClientContext list_ctx;
  set_deadline(list_ctx);
  v1::ListCertificatesResponse listed;
  ASSERT_TRUE(admin_->ListCertificates(&list_ctx, v1::ListCertificatesRequest(), &listed).ok());
  ASSERT_EQ(listed.certificates_size(), 2);
  EXPECT_EQ(listed.certificates(0).name(), "corp-ca");
  EXPECT_EQ(listed.DebugString().find(secret), std::string::npos);
  grpc::ClientContext missing_ctx;
  set_deadline(missing_ctx);
  get.set_name("ghost");
  EXPECT_EQ(admin_->GetCertificate(&missing_ctx, get, &got).error_code(),
            grpc::StatusCode::NOT_FOUND);

  v1::Service corp = service("corp");
  corp.set_security(v1::SECURITY_STARTTLS);
  auto no_ca = create_service(corp);
  EXPECT_EQ(no_ca.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(no_ca.error_message().find("needs at least one trusted CA"), std::string::npos);
  corp.add_trusted_cas("corp-ca");
  ASSERT_TRUE(create_service(corp).ok());
  grpc::ClientContext iface_ctx;
  set_deadline(iface_ctx);
  v1::CreateInterfaceRequest add;
  add.mutable_interface()->set_service("corp");
  add.mutable_interface()->set_type(v1::INTERFACE_TYPE_STARTTLS);
  add.mutable_interface()->set_port(2587);
  add.mutable_interface()->set_cert("gw-cert");
  v1::Interface iface;
  ASSERT_TRUE(admin_->CreateInterface(&iface_ctx, add, &iface).ok());

  // Only the node stream carries the key, and only of certificates used with their key.
  auto stream = watch("relay-1", "default");
  v1::ConfigSnapshot snapshot = stream->next();
  ASSERT_EQ(snapshot.certificates_size(), 2);
  EXPECT_EQ(snapshot.certificates(0).name(), "corp-ca");
  EXPECT_EQ(snapshot.certificates(0).key_pem(), "");
  EXPECT_EQ(snapshot.certificates(1).name(), "gw-cert");
  EXPECT_NE(snapshot.certificates(1).key_pem().find(secret), std::string::npos);

  auto in_use = delete_certificate("gw-cert");
  EXPECT_EQ(in_use.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(in_use.error_message(), "certificate \"gw-cert\" is still used by interface " +
                                        std::to_string(iface.id()) +
                                        " of service \"corp\" (cert): change or delete those "
                                        "first");
  ASSERT_TRUE(delete_service("corp").ok());
  v1::ConfigSnapshot after = stream->next();
  EXPECT_EQ(after.certificates_size(), 0) << "nothing names them any more";
  ASSERT_TRUE(delete_certificate("gw-cert").ok());
  EXPECT_EQ(delete_certificate("gw-cert").error_code(), grpc::StatusCode::NOT_FOUND);
  stream->ctx.TryCancel();
}

TEST(ControlPlaneTlsTest, ClientCertificateIsRequiredAndVerified) {
  storage::TestTempDir dir;
  const testing::TestCert ca = testing::make_ca("Control Plane CA");
  const testing::TestCert server = testing::make_cert(testing::CertSpec{}, &ca);
  const testing::TestCert client =
      testing::make_cert(testing::CertSpec{"relay-1", {}, false, -60, 3600, "EC", "", ""}, &ca);
  const testing::TestCert other_ca = testing::make_ca("Someone Else");
  const testing::TestCert stranger =
      testing::make_cert(testing::CertSpec{"relay-x", {}, false, -60, 3600, "EC", "", ""}, &other_ca);

  ControlPlaneOptions options{"127.0.0.1:0", dir.file("gw.db"), std::nullopt};
  options.tls = ServerTls{server.cert_pem, server.key_pem, ca.cert_pem};
  ControlPlane plane(options);
  const std::string target = "127.0.0.1:" + std::to_string(plane.port());

  // Credentials as grelayd (dataplane/node_agent.cc) and gctl build them.
  auto call = [&](std::shared_ptr<grpc::ChannelCredentials> credentials) {
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    auto stub = v1::NodeService::NewStub(grpc::CreateCustomChannel(target, credentials, args));
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5) * kSlowdown);
    v1::RegisterNodeRequest request;
    request.set_node_id("relay-1");
    request.set_instance("default");
    v1::RegisterNodeResponse response;
    return stub->Register(&ctx, request, &response);
  };
  auto tls = [&](const testing::TestCert* identity, const std::string& roots) {
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = roots;
    if (identity != nullptr) {
      ssl.pem_cert_chain = identity->cert_pem;
      ssl.pem_private_key = identity->key_pem;
    }
    return grpc::SslCredentials(ssl);
  };

  EXPECT_TRUE(call(tls(&client, ca.cert_pem)).ok()) << "valid client certificate";
  EXPECT_EQ(call(tls(nullptr, ca.cert_pem)).error_code(), grpc::StatusCode::UNAVAILABLE)
      << "no client certificate";
  EXPECT_EQ(call(tls(&stranger, ca.cert_pem)).error_code(), grpc::StatusCode::UNAVAILABLE)
      << "client certificate from another CA";
  EXPECT_EQ(call(grpc::InsecureChannelCredentials()).error_code(), grpc::StatusCode::UNAVAILABLE)
      << "plaintext";
  EXPECT_EQ(call(tls(&client, other_ca.cert_pem)).error_code(), grpc::StatusCode::UNAVAILABLE)
      << "the client does not trust the server";
}

TEST_F(ControlPlaneGrpcTest, ShutdownEndsWatchStreamsPromptly) {
  auto stream = watch("relay-1", "default");
  stream->next();
  const auto started = steady_clock::now();
  plane_->shutdown();
  EXPECT_LT(steady_clock::now() - started, milliseconds(2000) * kSlowdown);
  v1::ConfigSnapshot snapshot;
  EXPECT_FALSE(stream->reader->Read(&snapshot));
  EXPECT_EQ(stream->reader->Finish().error_code(), grpc::StatusCode::UNAVAILABLE);
}

TEST_F(ControlPlaneGrpcTest, ShutdownEndsOpenDecisionStreamsAndCallsStillArriving) {
  // Decision streams are never half-closed by a running node: shutdown must cancel them,
  // let their call objects end and only then shut the completion queue down (an operation
  // started on a queue that is shutting down aborts the process).
  ASSERT_TRUE(create_service(service("corp")).ok());
  auto other = new_channel();
  auto other_decision = v1::DecisionService::NewStub(other);
  grpc::ClientContext ctx;
  set_deadline(ctx);
  auto stream = decision_->DecideStream(&ctx);
  v1::DecisionCall call;
  call.set_call_id(1);
  *call.mutable_request() = helo_request("corp");
  ASSERT_TRUE(stream->Write(call));
  v1::DecisionResult result;
  ASSERT_TRUE(stream->Read(&result));
  EXPECT_EQ(result.call_id(), 1u);
  // A second node keeps sending while the control plane stops.
  std::atomic<bool> stop{false};
  std::thread sender([&] {
    while (!stop) {
      grpc::ClientContext c;
      c.set_deadline(std::chrono::system_clock::now() + milliseconds(500));
      v1::DecisionResponse r;
      (void)other_decision->Decide(&c, helo_request("corp"), &r);
    }
  });
  std::this_thread::sleep_for(milliseconds(100));
  const auto started = steady_clock::now();
  plane_->shutdown();
  EXPECT_LT(steady_clock::now() - started, milliseconds(3000) * kSlowdown);
  stop = true;
  sender.join();
  EXPECT_FALSE(stream->Read(&result));
  EXPECT_FALSE(stream->Finish().ok());
}

TEST(ControlPlaneThreadsTest, TwoCompletionThreadsAnswerManyStreamsAtOnce) {
  storage::TestTempDir dir;
  ControlPlaneOptions options{"127.0.0.1:0", dir.file("gw.db")};
  options.grpc_threads = 2;
  ControlPlane plane(options);
  auto channel = grpc::CreateChannel("127.0.0.1:" + std::to_string(plane.port()),
                                     grpc::InsecureChannelCredentials());
  {
    grpc::ClientContext c;
    c.set_deadline(std::chrono::system_clock::now() + kCallTimeout);
    v1::CreateServiceRequest request;
    request.mutable_service()->set_name("corp");
    request.mutable_service()->set_host("127.0.0.1");
    request.mutable_service()->set_port(25);
    v1::Service created;
    ASSERT_TRUE(v1::AdminService::NewStub(channel)->CreateService(&c, request, &created).ok());
  }
  auto stub = v1::DecisionService::NewStub(channel);
  std::atomic<int> answered{0};
  std::vector<std::thread> nodes;
  for (int n = 0; n < 8; ++n) {
    nodes.emplace_back([&, n] {
      grpc::ClientContext ctx;
      ctx.set_deadline(std::chrono::system_clock::now() + kStreamTimeout);
      auto stream = stub->DecideStream(&ctx);
      for (std::uint64_t i = 0; i < 200; ++i) {
        v1::DecisionCall call;
        call.set_call_id(i);
        v1::DecisionRequest& r = *call.mutable_request();
        r.set_node_id("relay-" + std::to_string(n));
        r.set_session_id("s1");
        r.set_service("corp");
        r.set_command(v1::SMTP_COMMAND_HELO);
        (*r.mutable_attributes())["smtp.helo.domain"] = "client.example";
        if (!stream->Write(call)) return;
      }
      stream->WritesDone();
      v1::DecisionResult result;
      while (stream->Read(&result)) {
        if (result.status_code() == 0) ++answered;
      }
      EXPECT_TRUE(stream->Finish().ok());
    });
  }
  for (auto& t : nodes) t.join();
  EXPECT_EQ(answered.load(), 8 * 200);
}

}  // namespace
}  // namespace gw::controlplane

// What every gctl command needs: the parsed global options, the output printer, the lazily
// opened AdminService and PolicyAdminService stubs (one channel), stdin for
// --password-stdin, and the mapping of failures to one error line and an exit code.
#pragma once

#include <functional>
#include <istream>
#include <memory>
#include <ostream>
#include <stdexcept>
#include <string>
#include <utility>

#include <google/protobuf/message.h>
#include <grpcpp/client_context.h>
#include <grpcpp/support/status.h>
#include <grpcpp/support/sync_stream.h>

#include "cli/admin_channel.h"
#include "cli/printers.h"
#include "gateway/v1/admin.grpc.pb.h"
#include "gateway/v1/policy.grpc.pb.h"

namespace gw::cli {

/// gctl's exit codes (the context's command-line contract).
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;  // request refused by the server, or server unreachable
inline constexpr int kExitUsage = 2;    // bad command line or flag value

/// Opens the stubs for a server address and its TLS settings; returns empty stubs if the
/// server cannot be reached. Production: connect_control_plane. Tests: a function returning
/// fakes.
using ControlPlaneConnector = std::function<ControlPlaneStubs(const ChannelOptions&)>;

/// A command line the user got wrong in a way CLI11's validators cannot see (e.g. `service
/// update NAME` without any flag). Exit code 2, like CLI11's own parse errors.
class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// A call that did not succeed; carries the gRPC status (UNAVAILABLE when the connection
/// could not be opened).
class RpcError : public std::runtime_error {
 public:
  explicit RpcError(grpc::Status status)
      : std::runtime_error(status.error_message()), status_(std::move(status)) {}
  const grpc::Status& status() const { return status_; }

 private:
  grpc::Status status_;
};

/// Throws UsageError (exit 2) naming the first string field of `request` (recursively:
/// nested, repeated and map fields) whose value is not UTF-8: proto3 string fields must
/// hold UTF-8, and gRPC would otherwise fail the call as INTERNAL after protobuf logged a
/// line of its own (probe round 20: `gctl user add $'j\xfcrgen'`). Bytes fields are not
/// checked.
void require_utf8_strings(const google::protobuf::Message& request);

/// Exit code for the outcome of a call: 0 for OK, 1 for anything else (refused or
/// unreachable alike; usage errors never reach the server).
int exit_code_for(const grpc::Status& status);

/// Prefix of an UNAVAILABLE status message that gctl made itself when its channel never
/// opened: the rest is the cause found (e.g. a TLS certificate not trusted) and is printed.
inline constexpr const char* kUnreachableBecause = "gctl-unreachable: ";
/// An UNAVAILABLE status message gctl makes for a stream that broke after gctld had
/// answered (`audit --follow`): printed as "lost the connection to control plane at SERVER".
inline constexpr const char* kConnectionLost = "gctl-connection-lost";

/// The text after "gctl: error: " for a failed call, on one line: "cannot reach control
/// plane at SERVER" for UNAVAILABLE (followed by ": CAUSE" when the message starts with
/// kUnreachableBecause; "lost the connection to control plane at SERVER" for
/// kConnectionLost), "no answer from control plane ..." for DEADLINE_EXCEEDED, otherwise
/// the server's message (line breaks turned into spaces), or the status code's name when
/// the message is empty.
std::string error_text_for(const grpc::Status& status, const std::string& server);

/// Refuses TLS options that do not fit together: --tls-cert without --tls-key (or the other
/// way round), a client certificate without --tls-ca. Throws UsageError.
void check_channel_options(const ChannelOptions& options);

/// The global options (`--server`, `-o`, `--tls-ca`, `--tls-cert`, `--tls-key`), filled in by
/// the parser before any command runs.
struct GlobalOptions {
  ChannelOptions channel;
  std::string output = "table";  // table|json|yaml, checked by the parser
};

/// A server stream of audit records (FollowAudit), open until the server ends it or the
/// process is interrupted. No deadline.
class AuditStream {
 public:
  AuditStream(std::unique_ptr<grpc::ClientContext> context,
              std::unique_ptr<grpc::ClientReaderInterface<gateway::v1::AuditRecord>> reader)
      : context_(std::move(context)), reader_(std::move(reader)) {}

  /// Blocks until the next record; false once the stream has ended.
  bool next(gateway::v1::AuditRecord& record) { return reader_->Read(&record); }

  /// After next() returned false: throws RpcError unless the stream ended with OK.
  void finish();

 private:
  std::unique_ptr<grpc::ClientContext> context_;  // must outlive reader_
  std::unique_ptr<grpc::ClientReaderInterface<gateway::v1::AuditRecord>> reader_;
};

/// State shared by the commands of one gctl run. The stubs are opened on first use, after
/// the command line has been parsed, so usage errors never touch the network.
class CommandContext {
 public:
  /// `options`, `in`, `out` and `err` must outlive the context.
  CommandContext(ControlPlaneConnector connect, const GlobalOptions& options, std::istream& in,
                 std::ostream& out, std::ostream& err)
      : connect_(std::move(connect)), options_(options), in_(in), out_(out), err_(err) {}

  /// Printer for the chosen `-o` format (validated by the parser before any command runs).
  Printer printer() const;
  /// The chosen `-o` format.
  OutputFormat format() const;
  /// Where results go (the printer's stream), for commands that print text of their own.
  std::ostream& out() const { return out_; }
  /// Where warnings go ("gctl: warning: ..." lines; stderr), never results.
  std::ostream& err() const { return err_; }
  /// gctl's standard input (--password-stdin).
  std::istream& in() const { return in_; }

  /// Calls one AdminService method with a deadline of kCallTimeout; returns the response or
  /// throws RpcError (UsageError when the TLS options do not fit together, before any
  /// connection is made). `method` is a pointer to the stub's synchronous method, e.g.
  /// `&AdminService::StubInterface::ListNodes`.
  template <typename Request, typename Response>
  Response call(grpc::Status (gateway::v1::AdminService::StubInterface::*method)(
                    grpc::ClientContext*, const Request&, Response*),
                const Request& request) {
    require_utf8_strings(request);  // a usage error: before connecting
    return invoke(*stubs().admin, method, request);
  }

  /// The same for a PolicyAdminService method, e.g.
  /// `&PolicyAdminService::StubInterface::ListPolicies`.
  /// `timeout` replaces kCallTimeout (Apply: kApplyTimeout).
  template <typename Request, typename Response>
  Response call(grpc::Status (gateway::v1::PolicyAdminService::StubInterface::*method)(
                    grpc::ClientContext*, const Request&, Response*),
                const Request& request, std::chrono::milliseconds timeout = kCallTimeout) {
    require_utf8_strings(request);
    return invoke(*stubs().policy, method, request, timeout);
  }

  /// Opens FollowAudit(query), without a deadline (it runs until interrupted).
  AuditStream follow_audit(const gateway::v1::AuditQuery& query);

 private:
  template <typename Stub, typename Request, typename Response>
  Response invoke(Stub& stub,
                  grpc::Status (Stub::*method)(grpc::ClientContext*, const Request&, Response*),
                  const Request& request, std::chrono::milliseconds timeout = kCallTimeout) {
    grpc::ClientContext context;
    set_call_deadline(context, timeout);
    add_admin_token(context, token_);
    Response response;
    grpc::Status status = (stub.*method)(&context, request, &response);
    if (!status.ok()) throw RpcError(std::move(status));
    return response;
  }

  const ControlPlaneStubs& stubs();

  ControlPlaneConnector connect_;
  const GlobalOptions& options_;
  std::istream& in_;
  std::ostream& out_;
  std::ostream& err_;
  ControlPlaneStubs stubs_;
  std::string token_;  // read with the stubs (--token-file)
};

}  // namespace gw::cli

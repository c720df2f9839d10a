// What every gctl command needs: the parsed global options, the output printer, a lazily
// opened AdminService stub, and the mapping of failures to one error line and an exit code.
#pragma once

#include <functional>
#include <memory>
#include <ostream>
#include <stdexcept>
#include <string>
#include <utility>

#include <grpcpp/client_context.h>
#include <grpcpp/support/status.h>

#include "cli/admin_channel.h"
#include "cli/printers.h"
#include "gateway/v1/admin.grpc.pb.h"

namespace gw::cli {

/// gctl's exit codes (the context's command-line contract).
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;  // request refused by the server, or server unreachable
inline constexpr int kExitUsage = 2;    // bad command line or flag value

/// Opens a stub for a server address and its TLS settings; returns nullptr if the server
/// cannot be reached. Production: connect_admin. Tests: a function returning a fake.
using AdminConnector =
    std::function<std::shared_ptr<gateway::v1::AdminService::StubInterface>(const ChannelOptions&)>;

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

/// Exit code for the outcome of a call: 0 for OK, 1 for anything else (refused or
/// unreachable alike; usage errors never reach the server).
int exit_code_for(const grpc::Status& status);

/// The text after "gctl: error: " for a failed call, on one line: "cannot reach control
/// plane at SERVER" for UNAVAILABLE and DEADLINE_EXCEEDED, otherwise the server's message
/// (line breaks turned into spaces), or the status code's name when the message is empty.
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

/// State shared by the commands of one gctl run. The stub is opened on first use, after the
/// command line has been parsed, so usage errors never touch the network.
class CommandContext {
 public:
  /// `options` and `out` must outlive the context.
  CommandContext(AdminConnector connect, const GlobalOptions& options, std::ostream& out)
      : connect_(std::move(connect)), options_(options), out_(out) {}

  /// Printer for the chosen `-o` format (validated by the parser before any command runs).
  Printer printer() const;

  /// Calls one AdminService method with a deadline of kCallTimeout; returns the response or
  /// throws RpcError (UsageError when the TLS options do not fit together, before any
  /// connection is made). `method` is a pointer to the stub's synchronous method, e.g.
  /// `&AdminService::StubInterface::ListNodes`.
  template <typename Request, typename Response>
  Response call(grpc::Status (gateway::v1::AdminService::StubInterface::*method)(
                    grpc::ClientContext*, const Request&, Response*),
                const Request& request) {
    grpc::ClientContext context;
    set_call_deadline(context);
    Response response;
    grpc::Status status = (stub().*method)(&context, request, &response);
    if (!status.ok()) throw RpcError(std::move(status));
    return response;
  }

 private:
  gateway::v1::AdminService::StubInterface& stub();

  AdminConnector connect_;
  const GlobalOptions& options_;
  std::ostream& out_;
  std::shared_ptr<gateway::v1::AdminService::StubInterface> stub_;
};

}  // namespace gw::cli

// Shared command state, the lazily opened stubs, and failure → error line / exit code.
#include "cli/command_context.h"

namespace gw::cli {
namespace {

const char* code_name(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::OK:
      return "OK";
    case grpc::StatusCode::CANCELLED:
      return "CANCELLED";
    case grpc::StatusCode::UNKNOWN:
      return "UNKNOWN";
    case grpc::StatusCode::INVALID_ARGUMENT:
      return "INVALID_ARGUMENT";
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return "DEADLINE_EXCEEDED";
    case grpc::StatusCode::NOT_FOUND:
      return "NOT_FOUND";
    case grpc::StatusCode::ALREADY_EXISTS:
      return "ALREADY_EXISTS";
    case grpc::StatusCode::PERMISSION_DENIED:
      return "PERMISSION_DENIED";
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
      return "RESOURCE_EXHAUSTED";
    case grpc::StatusCode::FAILED_PRECONDITION:
      return "FAILED_PRECONDITION";
    case grpc::StatusCode::ABORTED:
      return "ABORTED";
    case grpc::StatusCode::OUT_OF_RANGE:
      return "OUT_OF_RANGE";
    case grpc::StatusCode::UNIMPLEMENTED:
      return "UNIMPLEMENTED";
    case grpc::StatusCode::INTERNAL:
      return "INTERNAL";
    case grpc::StatusCode::UNAVAILABLE:
      return "UNAVAILABLE";
    case grpc::StatusCode::DATA_LOSS:
      return "DATA_LOSS";
    case grpc::StatusCode::UNAUTHENTICATED:
      return "UNAUTHENTICATED";
    default:
      return "UNKNOWN";
  }
}

}  // namespace

int exit_code_for(const grpc::Status& status) { return status.ok() ? kExitOk : kExitFailure; }

std::string error_text_for(const grpc::Status& status, const std::string& server) {
  const auto code = status.error_code();
  if (code == grpc::StatusCode::UNAVAILABLE || code == grpc::StatusCode::DEADLINE_EXCEEDED) {
    return "cannot reach control plane at " + server;
  }
  std::string text = status.error_message();
  for (char& c : text) {
    if (c == '\r' || c == '\n') c = ' ';
  }
  while (!text.empty() && text.back() == ' ') text.pop_back();
  return text.empty() ? code_name(code) : text;
}

Printer CommandContext::printer() const { return Printer(out_, format()); }

void check_channel_options(const ChannelOptions& options) {
  if (options.tls_cert_file.empty() != options.tls_key_file.empty()) {
    throw UsageError("--tls-cert and --tls-key go together ($GCTL_TLS_CERT, $GCTL_TLS_KEY)");
  }
  if (!options.tls_cert_file.empty() && options.tls_ca_file.empty()) {
    throw UsageError("--tls-cert needs --tls-ca, the CA that issued gctld's certificate");
  }
}

OutputFormat CommandContext::format() const {
  return parse_output_format(options_.output).value_or(OutputFormat::kTable);
}

const ControlPlaneStubs& CommandContext::stubs() {
  if (!stubs_) {
    check_channel_options(options_.channel);
    stubs_ = connect_(options_.channel);
    if (!stubs_) throw RpcError(grpc::Status(grpc::StatusCode::UNAVAILABLE, "not connected"));
  }
  return stubs_;
}

AuditStream CommandContext::follow_audit(const gateway::v1::AuditQuery& query) {
  auto context = std::make_unique<grpc::ClientContext>();
  auto reader = stubs().policy->FollowAudit(context.get(), query);
  return AuditStream(std::move(context), std::move(reader));
}

void AuditStream::finish() {
  grpc::Status status = reader_->Finish();
  if (!status.ok()) throw RpcError(std::move(status));
}

}  // namespace gw::cli

// Shared command state, the lazily opened stubs, and failure → error line / exit code.
#include "cli/command_context.h"

#include <string>
#include <string_view>
#include <vector>

#include "common/printable_line.h"

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
  if (code == grpc::StatusCode::UNAVAILABLE) {
    if (status.error_message() == kConnectionLost) {
      return "lost the connection to control plane at " + server;
    }
    std::string text = "cannot reach control plane at " + server;
    const std::string& message = status.error_message();
    if (message.rfind(kUnreachableBecause, 0) == 0) {
      text += ": " + message.substr(std::string_view(kUnreachableBecause).size());
    }
    return text;
  }
  if (code == grpc::StatusCode::DEADLINE_EXCEEDED) {
    // Connected, but no answer in time: the control plane may be busy (a large apply holds
    // the configuration database) and may still carry the request out (probe round 34:
    // reported as "cannot reach", the apply was committed after all).
    return "no answer from control plane at " + server +
           " in time; a change it was making may still take effect (check before retrying)";
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
    if (!options_.channel.token_file.empty()) {
      token_ = read_admin_token(options_.channel.token_file);
    }
    stubs_ = connect_(options_.channel);
    if (!stubs_) {
      throw RpcError(grpc::Status(grpc::StatusCode::UNAVAILABLE,
                                  stubs_.unreachable_reason.empty()
                                      ? std::string("not connected")
                                      : kUnreachableBecause + stubs_.unreachable_reason));
    }
  }
  return stubs_;
}

namespace {

// The dotted path of the first non-UTF-8 string under `message`, or "" when there is none.
std::string first_non_utf8_field(const google::protobuf::Message& message) {
  using google::protobuf::FieldDescriptor;
  const auto* reflection = message.GetReflection();
  std::vector<const FieldDescriptor*> fields;
  reflection->ListFields(message, &fields);
  for (const FieldDescriptor* field : fields) {
    if (field->type() == FieldDescriptor::TYPE_STRING) {
      const int n = field->is_repeated() ? reflection->FieldSize(message, field) : 1;
      for (int i = 0; i < n; ++i) {
        const std::string value = field->is_repeated()
                                      ? reflection->GetRepeatedString(message, field, i)
                                      : reflection->GetString(message, field);
        if (!common::is_valid_utf8(value)) return field->name();
      }
    } else if (field->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
      const int n = field->is_repeated() ? reflection->FieldSize(message, field) : 1;
      for (int i = 0; i < n; ++i) {
        const auto& child = field->is_repeated()
                                ? reflection->GetRepeatedMessage(message, field, i)
                                : reflection->GetMessage(message, field);
        if (std::string below = first_non_utf8_field(child); !below.empty()) {
          // Map entries are messages of key and value: name the map, not the entry.
          return field->is_map() ? field->name() : field->name() + "." + below;
        }
      }
    }
  }
  return "";
}

}  // namespace

void require_utf8_strings(const google::protobuf::Message& request) {
  if (std::string field = first_non_utf8_field(request); !field.empty()) {
    throw UsageError(field + ": the value is not UTF-8 text");
  }
}

AuditStream CommandContext::follow_audit(const gateway::v1::AuditQuery& query) {
  require_utf8_strings(query);
  auto context = std::make_unique<grpc::ClientContext>();
  const auto& stubs = this->stubs();  // reads the token
  add_admin_token(*context, token_);
  auto reader = stubs.policy->FollowAudit(context.get(), query);
  return AuditStream(std::move(context), std::move(reader));
}

void AuditStream::finish() {
  grpc::Status status = reader_->Finish();
  if (!status.ok()) throw RpcError(std::move(status));
}

}  // namespace gw::cli

// gw-decision-load: options, request template and report shared by both clients.
#include <sys/resource.h>

#include <cmath>
#include <map>

#include "tests/bench/decision_load.h"

namespace gw::bench {

std::string code_name(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::OK: return "OK";
    case grpc::StatusCode::CANCELLED: return "CANCELLED";
    case grpc::StatusCode::UNKNOWN: return "UNKNOWN";
    case grpc::StatusCode::INVALID_ARGUMENT: return "INVALID_ARGUMENT";
    case grpc::StatusCode::DEADLINE_EXCEEDED: return "DEADLINE_EXCEEDED";
    case grpc::StatusCode::NOT_FOUND: return "NOT_FOUND";
    case grpc::StatusCode::ALREADY_EXISTS: return "ALREADY_EXISTS";
    case grpc::StatusCode::PERMISSION_DENIED: return "PERMISSION_DENIED";
    case grpc::StatusCode::RESOURCE_EXHAUSTED: return "RESOURCE_EXHAUSTED";
    case grpc::StatusCode::FAILED_PRECONDITION: return "FAILED_PRECONDITION";
    case grpc::StatusCode::ABORTED: return "ABORTED";
    case grpc::StatusCode::OUT_OF_RANGE: return "OUT_OF_RANGE";
    case grpc::StatusCode::UNIMPLEMENTED: return "UNIMPLEMENTED";
    case grpc::StatusCode::INTERNAL: return "INTERNAL";
    case grpc::StatusCode::UNAVAILABLE: return "UNAVAILABLE";
    case grpc::StatusCode::DATA_LOSS: return "DATA_LOSS";
    case grpc::StatusCode::UNAUTHENTICATED: return "UNAUTHENTICATED";
    default: return "CODE_" + std::to_string(static_cast<int>(code));
  }
}

gateway::v1::DecisionRequest request_template(const LoadOptions& o) {
  static const std::map<std::string, gateway::v1::SmtpCommand> kCommands = {
      {"helo", gateway::v1::SMTP_COMMAND_HELO}, {"auth", gateway::v1::SMTP_COMMAND_AUTH},
      {"mail", gateway::v1::SMTP_COMMAND_MAIL}, {"rcpt", gateway::v1::SMTP_COMMAND_RCPT},
      {"data", gateway::v1::SMTP_COMMAND_DATA}};
  gateway::v1::DecisionRequest r;
  r.set_node_id(o.node_id);
  r.set_service(o.service);
  r.set_interface_id(o.interface_id);
  r.set_command(kCommands.at(o.command));
  r.set_client_address(o.client_address);
  r.set_handler_id(o.handler_id);
  r.set_config_version(0);
  auto& attrs = *r.mutable_attributes();
  attrs["message.protocol.type"] = "smtp";
  attrs["smtp.helo.domain"] = o.helo_domain;
  if (o.command == "auth") attrs["authentication.subject.id"] = "bench";
  if (o.command == "mail" || o.command == "rcpt" || o.command == "data") {
    attrs["smtp.mail.from"] = o.mail_from;
  }
  if (o.command == "rcpt" || o.command == "data") {
    attrs["smtp.rcpt.to"] = o.rcpt_to;
    r.add_recipients(o.rcpt_to);
  }
  if (o.command == "data") {
    r.set_message("From: <" + o.mail_from + ">\r\nTo: <" + o.rcpt_to +
                  ">\r\nSubject: bench\r\n\r\nbench\r\n");
  }
  for (const auto& kv : o.attributes) {
    const auto eq = kv.find('=');
    attrs[kv.substr(0, eq)] = eq == std::string::npos ? "" : kv.substr(eq + 1);
  }
  return r;
}

nlohmann::json report(const LoadOptions& o, RunCounts counts) {
  auto& totals = counts.totals;
  const auto latency = summarize(totals.latency_us);
  const auto service = summarize(totals.service_us);
  std::uint64_t errors = 0;
  for (const auto& [_, n] : totals.errors) errors += n;
  nlohmann::json out = {
      {"mode", o.rate > 0 ? "open" : "closed"},
      {"client", o.client},
      {"target", o.target},
      {"service", o.service},
      {"command", o.command},
      {"handler_id", o.handler_id},
      {"callers", o.callers},
      {"channels", o.channels},
      {"rate_target", o.rate},
      {"duration_s", o.duration_s},
      {"warmup_s", o.warmup_s},
      {"sent", latency.count + errors},
      {"ok", latency.count},
      {"decisions_per_s", std::round(static_cast<double>(latency.count) / o.duration_s * 10) / 10},
      {"latency_us", to_json(latency)},
      {"answered_total", counts.answered_total},
      {"failed_total", counts.failed_total},
      {"verdicts", totals.verdicts},
      {"errors", totals.errors},
  };
  if (o.rate > 0) {
    out["service_latency_us"] = to_json(service);
    out["skipped"] = counts.skipped;
  }
  rusage usage{};
  if (getrusage(RUSAGE_SELF, &usage) == 0) {
    const auto seconds = [](const timeval& t) { return static_cast<double>(t.tv_sec) + t.tv_usec / 1e6; };
    out["client_cpu_s"] = std::round((seconds(usage.ru_utime) + seconds(usage.ru_stime)) * 1000) / 1000;
  }
  return out;
}

}  // namespace gw::bench

// gctl output for the policy layer: policies, handlers, users, audit records, apply results.
#include <yaml-cpp/yaml.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "cli/enum_names.h"
#include "cli/printers.h"
#include "cli/yaml_text.h"

namespace gw::cli {
namespace {

namespace v1 = gateway::v1;

// The attribute that must never be shown, even if a server sent it (DESIGN.md §7 "Secrets").
constexpr const char* kPasswordAttribute = "authentication.subject.password";

std::string or_dash(const std::string& value) { return value.empty() ? "-" : value; }

// Server-supplied text on one terminal line: control characters shown as '?'.
std::string printable(std::string text) {
  for (char& c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) c = '?';
  }
  return text;
}

// The stored filter list, or an undefined node if it is not YAML (shown as text then).
YAML::Node parse_filters(const std::string& filters_yaml) {
  try {
    return YAML::Load(filters_yaml);
  } catch (const YAML::Exception&) {
    return YAML::Node(YAML::NodeType::Undefined);
  }
}

std::size_t filter_count(const v1::Policy& policy) {
  const YAML::Node filters = parse_filters(policy.filters_yaml());
  return filters.IsSequence() ? filters.size() : 0;
}

// A policy as JSON with its filters as structure in place of the filters_yaml text.
nlohmann::ordered_json policy_json(const v1::Policy& policy) {
  auto value = nlohmann::ordered_json::parse(to_json(policy));
  nlohmann::ordered_json out = nlohmann::ordered_json::object();
  for (auto& [key, item] : value.items()) {
    if (key == "filters_yaml") {
      const YAML::Node filters = parse_filters(policy.filters_yaml());
      if (filters.IsDefined()) {
        out["filters"] = filters.IsNull() ? nlohmann::ordered_json::array() : yaml_to_json(filters);
      } else {
        out["filters_yaml"] = item;
      }
    } else {
      out[key] = item;
    }
  }
  return out;
}

std::string reply_text(const v1::SmtpReply& reply) {
  if (reply.code() == 0) return "-";
  std::string text = std::to_string(reply.code());
  if (!reply.enhanced_code().empty()) text += " " + reply.enhanced_code();
  if (!reply.text().empty()) text += " " + reply.text();
  return text;
}

v1::AuditRecord without_password(const v1::AuditRecord& record) {
  v1::AuditRecord copy = record;
  copy.mutable_attributes()->erase(kPasswordAttribute);
  return copy;
}

const std::vector<std::string> kAuditHeaders = {
    "TIME", "DECISION", "NODE", "SERVICE", "COMMAND", "VERDICT", "REPLY", "POLICY", "LATENCY_US"};

std::vector<std::string> audit_cells(const v1::AuditRecord& r) {
  return {format_time_ms_precise(r.time_ms()),
          or_dash(r.decision_id()),
          or_dash(r.node_id()),
          or_dash(r.service()),
          command_name(r.command()),
          verdict_name(r.verdict()),
          reply_text(r.reply()),
          or_dash(r.policy()),
          std::to_string(r.latency_us())};
}

Table handlers_table() {
  return Table({"ID", "SERVICE", "COMMAND", "ADDRESS", "GREETING", "POLICY"});
}

void add_handler_row(Table& table, const v1::Handler& h) {
  table.add_row({std::to_string(h.id()), h.service(), command_name(h.command()),
                 or_dash(h.address()), or_dash(h.greeting()), h.policy()});
}

Table users_table() { return Table({"NAME", "CREATED", "UPDATED"}); }

void add_user_row(Table& table, const v1::User& u) {
  table.add_row({u.name(), format_time_ms(u.created_at_ms()), format_time_ms(u.updated_at_ms())});
}

std::string compact_json(const google::protobuf::Message& message) {
  return nlohmann::ordered_json::parse(to_json(message))
      .dump(-1, ' ', /*ensure_ascii=*/false, nlohmann::ordered_json::error_handler_t::replace);
}

}  // namespace

void Printer::policies(const v1::ListPoliciesResponse& response) {
  if (structured(response)) return;
  Table table({"NAME", "FILTERS", "REPLY", "UPDATED"});
  for (const auto& p : response.policies()) {
    table.add_row({p.name(), std::to_string(filter_count(p)), or_dash(p.reply()),
                   format_time_ms(p.updated_at_ms())});
  }
  table.write(out_);
}

void Printer::policy_detail(const v1::Policy& policy) {
  if (format_ != OutputFormat::kTable) {
    const std::string json =
        policy_json(policy).dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
    out_ << (format_ == OutputFormat::kJson ? json + "\n" : json_to_yaml(json));
    return;
  }
  write_key_values(
      out_, {
                {"name", policy.name()},
                {"reply", policy.reply().empty() ? "- (the command's default)" : policy.reply()},
                {"created", format_time_ms(policy.created_at_ms())},
                {"updated", format_time_ms(policy.updated_at_ms())},
            });
  const YAML::Node filters = parse_filters(policy.filters_yaml());
  out_ << "filters:";
  if (!filters.IsDefined()) {
    out_ << '\n' << policy.filters_yaml();  // not YAML: as the server has it
    if (!policy.filters_yaml().empty() && policy.filters_yaml().back() != '\n') out_ << '\n';
    return;
  }
  if (filters.IsNull() || (filters.IsSequence() && filters.size() == 0)) {
    out_ << " []\n";
    return;
  }
  out_ << '\n';
  // The list indented by two spaces under "filters:".
  const std::string text = yaml_node_text(filters);
  std::size_t start = 0;
  while (start < text.size()) {
    const std::size_t end = text.find('\n', start);
    const std::string line = text.substr(start, end - start);
    out_ << "  " << line << '\n';
    if (end == std::string::npos) break;
    start = end + 1;
  }
}

void Printer::handlers(const v1::ListHandlersResponse& response) {
  if (structured(response)) return;
  Table table = handlers_table();
  for (const auto& h : response.handlers()) add_handler_row(table, h);
  table.write(out_);
}

void Printer::handler_row(const v1::Handler& handler) {
  if (structured(handler)) return;
  Table table = handlers_table();
  add_handler_row(table, handler);
  table.write(out_);
}

void Printer::users(const v1::ListUsersResponse& response) {
  if (structured(response)) return;
  Table table = users_table();
  for (const auto& u : response.users()) add_user_row(table, u);
  table.write(out_);
}

void Printer::user_row(const v1::User& user) {
  if (structured(user)) return;
  Table table = users_table();
  add_user_row(table, user);
  table.write(out_);
}

void Printer::audit(const v1::AuditQueryResponse& response) {
  v1::AuditQueryResponse copy = response;
  for (auto& record : *copy.mutable_records()) record = without_password(record);
  if (structured(copy)) return;
  Table table(kAuditHeaders);
  for (const auto& r : copy.records()) table.add_row(audit_cells(r));
  table.write(out_);
}

void Printer::stats(const v1::StatsResponse& response) {
  if (structured(response)) return;
  if (response.decisions().empty()) {
    out_ << "no decisions since " << format_time_ms_precise(response.since_ms()) << '\n';
    return;
  }
  Table table({"SERVICE", "COMMAND", "VERDICT", "DECISIONS", "AVG_US", "MAX_US"});
  std::uint64_t total = 0;
  long double latency_sum = 0;
  std::int64_t latency_max = 0;
  for (const auto& d : response.decisions()) {
    table.add_row({d.service(), command_name(d.command()), verdict_name(d.verdict()),
                   std::to_string(d.decisions()), std::to_string(d.latency_avg_us()),
                   std::to_string(d.latency_max_us())});
    total += d.decisions();
    latency_sum += static_cast<long double>(d.latency_avg_us()) * d.decisions();
    latency_max = std::max(latency_max, d.latency_max_us());
  }
  const auto mean = static_cast<std::int64_t>(latency_sum / total + 0.5L);
  table.add_row({"TOTAL", "-", "-", std::to_string(total), std::to_string(mean),
                 std::to_string(latency_max)});
  table.write(out_);
}

void Printer::audit_stream_header() {
  if (format_ != OutputFormat::kTable) return;
  Table(kAuditHeaders).write(out_);
  out_.flush();
}

void Printer::audit_record_line(const v1::AuditRecord& record) {
  const v1::AuditRecord r = without_password(record);
  switch (format_) {
    case OutputFormat::kJson:
      out_ << compact_json(r) << '\n';
      break;
    case OutputFormat::kYaml:
      out_ << "---\n" << json_to_yaml(to_json(r));
      break;
    case OutputFormat::kTable: {
      // Columns cannot be aligned with rows still to come: cells separated by three spaces.
      std::string line;
      for (const std::string& cell : audit_cells(r)) {
        line += (line.empty() ? "" : "   ") + printable(cell);
      }
      out_ << line << '\n';
      break;
    }
  }
  out_.flush();
}

void Printer::applied(const v1::ApplyResponse& response, bool dry_run) {
  if (structured(response)) return;
  for (const auto& change : response.changes()) out_ << printable(change) << '\n';
  if (dry_run) {
    out_ << "dry run: nothing was changed\n";
  } else {
    out_ << "applied: configuration version " << response.config_version() << '\n';
  }
}

}  // namespace gw::cli

// `gctl audit`: flags → AuditQuery; QueryAudit, then FollowAudit for --follow.
#include "cli/audit_commands.h"

#include <algorithm>
#include <charconv>
#include <memory>
#include <set>
#include <string>
#include <system_error>

#include "cli/enum_names.h"
#include "cli/flags.h"

namespace gw::cli {
namespace {

namespace v1 = gateway::v1;
using Stub = v1::PolicyAdminService::StubInterface;

constexpr std::int64_t kMaxDurationMs = 36500LL * 24 * 3600 * 1000;  // 100 years
constexpr std::uint32_t kMaxAuditLimit = 10000;  // gctld's cap (AuditQuery.limit)

struct AuditFlags {
  std::string since;
  std::string service;
  std::string node;
  std::string command;
  std::string verdict;
  std::uint32_t limit = 0;
  bool follow = false;
};

v1::AuditQuery query_from(const AuditFlags& flags) {
  v1::AuditQuery query;
  if (!flags.since.empty()) query.set_since_ms(since_ms(flags.since));
  query.set_service(flags.service);
  query.set_node_id(flags.node);
  if (!flags.command.empty()) {
    query.set_command(parse_command(flags.command).value_or(v1::SMTP_COMMAND_UNSPECIFIED));
  }
  if (!flags.verdict.empty()) {
    query.set_verdict(parse_verdict(flags.verdict).value_or(v1::VERDICT_UNSPECIFIED));
  }
  query.set_limit(flags.limit);
  return query;
}

void follow(CommandContext& context, const v1::AuditQuery& query) {
  // The stream first, then the query: a record written in between is in both, and printed
  // once; none is lost.
  AuditStream stream = context.follow_audit(query);
  const v1::AuditQueryResponse first = context.call(&Stub::QueryAudit, query);
  Printer printer = context.printer();
  printer.audit_stream_header();
  std::set<std::string> printed;
  for (auto it = first.records().rbegin(); it != first.records().rend(); ++it) {
    printer.audit_record_line(*it);
    if (!it->decision_id().empty()) printed.insert(it->decision_id());
  }
  v1::AuditRecord record;
  while (stream.next(record)) {
    if (!record.decision_id().empty() && printed.erase(record.decision_id()) > 0)
      continue;  // already shown by the query
    printer.audit_record_line(record);
  }
  try {
    stream.finish();
  } catch (const RpcError& e) {
    // The query answered, so gctld was reached: UNAVAILABLE now means it went away
    // (stopped, restarted), not "cannot reach" (probe round 41).
    if (e.status().error_code() != grpc::StatusCode::UNAVAILABLE) throw;
    throw RpcError(grpc::Status(grpc::StatusCode::UNAVAILABLE, kConnectionLost));
  }
}

}  // namespace

std::optional<std::int64_t> parse_duration_ms(std::string_view text) {
  if (text.size() < 2) return std::nullopt;
  std::int64_t unit_ms = 0;
  switch (text.back()) {
    case 's':
      unit_ms = 1000;
      break;
    case 'm':
      unit_ms = 60 * 1000;
      break;
    case 'h':
      unit_ms = 3600 * 1000;
      break;
    case 'd':
      unit_ms = 24 * 3600 * 1000;
      break;
    default:
      return std::nullopt;
  }
  const std::string_view digits = text.substr(0, text.size() - 1);
  if (digits.front() < '0' || digits.front() > '9') return std::nullopt;  // no sign
  std::int64_t count = 0;
  const auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), count);
  if (ec != std::errc() || ptr != digits.data() + digits.size()) return std::nullopt;
  if (count > kMaxDurationMs / unit_ms) return std::nullopt;
  return count * unit_ms;
}

std::int64_t since_ms(std::string_view duration) {
  const std::int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                  std::chrono::system_clock::now().time_since_epoch())
                                  .count();
  return now_ms - parse_duration_ms(duration).value_or(0);
}

CLI::Option* add_since_option(CLI::App& verb, std::string& target, const std::string& help) {
  return verb.add_option("--since", target, help)
      ->type_name("DUR")
      ->check(CLI::Validator(
          [](std::string& text) -> std::string {
            if (parse_duration_ms(text)) return {};
            // Digits and a unit, but too many of them: say so (probe round 41).
            const bool well_formed =
                text.size() >= 2 && std::string_view("smhd").find(text.back()) != std::string::npos &&
                std::all_of(text.begin(), text.end() - 1, [](char c) { return c >= '0' && c <= '9'; });
            if (well_formed) return "duration " + text + " is longer than 36500d";
            return "duration " + text + " is not a number followed by s, m, h or d (e.g. 1h)";
          },
          "", "duration"));
}

void add_audit_commands(CLI::App& app, CommandContext& context) {
  auto* verb = app.add_subcommand("audit", "Decisions of the policy layer, newest first");
  auto flags = std::make_shared<AuditFlags>();
  add_since_option(*verb, flags->since, "only decisions of the last DUR (90s, 30m, 1h, 2d)");
  verb->add_option("--service", flags->service, "only this service")->type_name("S");
  verb->add_option("--node", flags->node, "only this relay node (--node-id)")->type_name("N");
  verb->add_option("--command", flags->command, "only this SMTP command")
      ->type_name(kCommandNames)
      ->check(CLI::IsMember({"helo", "auth", "mail", "rcpt", "data"}).description(""));
  verb->add_option("--verdict", flags->verdict, "only this verdict")
      ->type_name(kVerdictNames)
      ->check(CLI::IsMember({"continue", "reject", "tempfail"}).description(""));
  // gctld answers at most 10,000 records per query (AuditQuery.limit, policy.proto).
  verb->add_option("--limit", flags->limit, "at most N records [100; 1 to 10000]")
      ->type_name("N")
      ->check(unsigned_in(1, kMaxAuditLimit));
  verb->add_flag("--follow", flags->follow,
                 "then print new decisions as they are written, until interrupted");
  verb->callback([flags, &context] {
    const v1::AuditQuery query = query_from(*flags);
    if (flags->follow) {
      follow(context, query);
    } else {
      context.printer().audit(context.call(&Stub::QueryAudit, query));
    }
  });
}

}  // namespace gw::cli

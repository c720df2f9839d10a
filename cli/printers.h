// gctl output: aligned tables for people, protobuf JSON and YAML for scripts (DESIGN.md §8).
// Every printer clears secrets (passwords, password hashes, private keys) before anything
// reaches the stream.
#pragma once

#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "gateway/v1/admin.pb.h"
#include "gateway/v1/config.pb.h"
#include "gateway/v1/policy.pb.h"

namespace gw::cli {

/// The `-o` choices. `kTable` is the default.
enum class OutputFormat { kTable, kJson, kYaml };

/// "table" | "json" | "yaml" → the format; anything else → nullopt.
std::optional<OutputFormat> parse_output_format(std::string_view name);

/// Terminal columns `text` takes: UTF-8 characters by their Unicode width (libunistring's
/// u8_width: "ü" 1, CJK 2), octets when `text` is not UTF-8.
std::size_t display_width(std::string_view text);

/// A text table with one header row. Columns are left-aligned, padded to their widest cell
/// (display_width; probe round 34: widths in octets shifted columns after "bücher") and
/// separated by three spaces; the last column carries no trailing blanks. Control characters
/// in cells (a server-supplied string could hold ESC or LF) are shown as '?', so one row is
/// always one terminal line.
class Table {
 public:
  explicit Table(std::vector<std::string> headers);

  /// Adds one row; it must have as many cells as there are headers (checked, aborts if not).
  void add_row(std::vector<std::string> cells);

  /// Writes the header and all rows, each ending in '\n'.
  void write(std::ostream& out) const;

 private:
  std::vector<std::vector<std::string>> rows_;  // rows_[0] is the header
};

/// Clears every secret field (string fields named "password", "password_hash" or "key_pem", at
/// any depth, in repeated and nested messages too) of `message`. The admin API never returns
/// passwords, but the CLI must not print one even if a server did (DESIGN.md §7 "Secrets").
void clear_secrets(google::protobuf::Message& message);

/// Protobuf JSON of `message` (MessageToJsonString): proto field names ("max_recipients"),
/// fields with default values included, enums by name, int64/uint64 as strings (the
/// protobuf JSON mapping); indented by two spaces, ending in '\n'. Secret fields are
/// cleared and their keys left out, and so are the input-only keys of applied documents
/// (source_line, declares_interfaces, declares_handlers).
std::string to_json(const google::protobuf::Message& message);

/// The same data as YAML (block style, ending in '\n'). Key order is kept; strings that YAML
/// would read as something else ("123", "true", "", "null") are double-quoted.
/// Throws std::invalid_argument if `json` is not valid JSON.
std::string json_to_yaml(std::string_view json);

/// "1970-01-01T00:00:00Z"-style UTC time of a millisecond Unix timestamp; 0 (never) → "-".
std::string format_time_ms(std::int64_t unix_ms);

/// The same with milliseconds, "1970-01-01T00:00:00.123Z" (ISO 8601, UTC); 0 → "-".
std::string format_time_ms_precise(std::int64_t unix_ms);

/// Writes "key:   value" lines, values aligned one column after the longest key; control
/// characters in values are shown as '?'.
void write_key_values(std::ostream& out,
                      const std::vector<std::pair<std::string, std::string>>& lines);

/// Writes results in one output format. Table layouts:
///   services     NAME HOST PORT SECURITY INSTANCE INTERFACES
///   service      key/value lines (all fields but the password, limits as "limits.NAME",
///                TLS settings, one line per interface)
///   interfaces   ID SERVICE TYPE BIND PORT CERT SNI_CERTS CLIENT_CA TLS_MIN CIPHERS
///                (the TLS columns of a tcp interface are "-")
///   nodes        NODE INSTANCE CONNECTED CONFIG_VERSION LAST_SEEN
///   certificates NAME SUBJECT NOT_AFTER HAS_KEY
///   certificate  key/value lines: subject, issuer, SANs, validity, fingerprint, has_key
///   policies     NAME FILTERS REPLY UPDATED (FILTERS: how many)
///   policy       key/value lines, then "filters:" and the filter list as YAML
///   handlers     ID SERVICE COMMAND ADDRESS GREETING POLICY
///   users        NAME CREATED UPDATED (never a hash)
///   audit        TIME DECISION NODE SERVICE COMMAND VERDICT REPLY POLICY LATENCY_US
/// JSON and YAML print the message passed in, whole, without secrets (password,
/// password_hash, key_pem); `policy show` gives the filters as structure ("filters") in
/// place of the filters_yaml text (a list keeps the text: one "name" per policy).
class Printer {
 public:
  Printer(std::ostream& out, OutputFormat format) : out_(out), format_(format) {}

  void services(const gateway::v1::ListServicesResponse& response);
  /// One service after add/update: a one-row services table (JSON/YAML: the Service).
  void service_row(const gateway::v1::Service& service);
  /// One service in full (`service show`).
  void service_detail(const gateway::v1::Service& service);
  void interfaces(const gateway::v1::ListInterfacesResponse& response);
  /// A created interface: a table with just its ID (JSON/YAML: the Interface).
  void interface_id(const gateway::v1::Interface& interface);
  void nodes(const gateway::v1::ListNodesResponse& response);
  void certificates(const gateway::v1::ListCertificatesResponse& response);
  /// One certificate after add: a one-row certificates table (JSON/YAML: the Certificate).
  void certificate_row(const gateway::v1::Certificate& certificate);
  /// One certificate in full (`cert show`); never the PEM or the key in table output.
  void certificate_detail(const gateway::v1::Certificate& certificate);
  /// After a delete: "deleted <what>" (JSON/YAML: the empty response, "{}").
  void deleted(std::string_view what, const google::protobuf::Message& response);

  // The policy layer (policy.proto); in policy_printers.cc.
  void policies(const gateway::v1::ListPoliciesResponse& response);
  /// One policy in full (`policy show`).
  void policy_detail(const gateway::v1::Policy& policy);
  void handlers(const gateway::v1::ListHandlersResponse& response);
  /// A created handler: a one-row handlers table (JSON/YAML: the Handler, with its "id").
  void handler_row(const gateway::v1::Handler& handler);
  void users(const gateway::v1::ListUsersResponse& response);
  /// A created user or a changed password: a one-row users table (JSON/YAML: the User).
  void user_row(const gateway::v1::User& user);
  /// `gctl audit`, newest first as the server sends them (JSON: {"records": [...]}).
  void audit(const gateway::v1::AuditQueryResponse& response);
  /// `gctl stats`: a row per service, command and verdict, then TOTAL (decisions summed, the
  /// mean weighted by decisions, the largest max); one line when there are none.
  void stats(const gateway::v1::StatsResponse& response);
  /// `gctl audit --follow`: the table header (table output only; nothing otherwise).
  void audit_stream_header();
  /// One record as it arrives: a table row (not aligned with the others), one compact JSON
  /// line, or one YAML document ("---"). Flushed, so a pipe sees it at once.
  void audit_record_line(const gateway::v1::AuditRecord& record);
  /// `gctl apply`: each change on its own line, then "applied: configuration version N" or,
  /// for a dry run, "dry run: nothing was changed" (JSON/YAML: the ApplyResponse).
  void applied(const gateway::v1::ApplyResponse& response, bool dry_run);

 private:
  /// Prints `message` as JSON or YAML; returns false for table output.
  bool structured(const google::protobuf::Message& message);

  std::ostream& out_;
  OutputFormat format_;
};

}  // namespace gw::cli

// gctl output: aligned tables for people, protobuf JSON and YAML for scripts (DESIGN.md §8).
// Every printer clears secrets (the upstream password) before anything reaches the stream.
#pragma once

#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "gateway/v1/admin.pb.h"
#include "gateway/v1/config.pb.h"

namespace gw::cli {

/// The `-o` choices. `kTable` is the default.
enum class OutputFormat { kTable, kJson, kYaml };

/// "table" | "json" | "yaml" → the format; anything else → nullopt.
std::optional<OutputFormat> parse_output_format(std::string_view name);

/// A text table with one header row. Columns are left-aligned, padded to their widest cell and
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

/// Clears every secret field (string fields named "password" or "key_pem", at any depth, in
/// repeated and nested messages too) of `message`. The admin API never returns passwords, but the
/// CLI must not print one even if a server did (DESIGN.md §7 "Secrets").
void clear_secrets(google::protobuf::Message& message);

/// Protobuf JSON of `message` (MessageToJsonString): proto field names ("max_recipients"),
/// fields with default values included, enums by name, int64/uint64 as strings (the
/// protobuf JSON mapping); indented by two spaces, ending in '\n'. Secret fields are
/// cleared and their keys left out.
std::string to_json(const google::protobuf::Message& message);

/// The same data as YAML (block style, ending in '\n'). Key order is kept; strings that YAML
/// would read as something else ("123", "true", "", "null") are double-quoted.
/// Throws std::invalid_argument if `json` is not valid JSON.
std::string json_to_yaml(std::string_view json);

/// "1970-01-01T00:00:00Z"-style UTC time of a millisecond Unix timestamp; 0 (never) → "-".
std::string format_time_ms(std::int64_t unix_ms);

/// Writes results in one output format. Table layouts:
///   services     NAME HOST PORT SECURITY INSTANCE INTERFACES
///   service      key/value lines (all fields but the password, limits as "limits.NAME",
///                TLS settings, one line per interface)
///   interfaces   ID SERVICE TYPE BIND PORT CERT SNI_CERTS CLIENT_CA TLS_MIN CIPHERS
///                (the TLS columns of a tcp interface are "-")
///   nodes        NODE INSTANCE CONNECTED CONFIG_VERSION LAST_SEEN
///   certificates NAME SUBJECT NOT_AFTER HAS_KEY
///   certificate  key/value lines: subject, issuer, SANs, validity, fingerprint, has_key
/// JSON and YAML print the message passed in, whole, without secrets (password, key_pem).
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

 private:
  /// Prints `message` as JSON or YAML; returns false for table output.
  bool structured(const google::protobuf::Message& message);

  std::ostream& out_;
  OutputFormat format_;
};

}  // namespace gw::cli

// Configuration file → ConfigurationDocument: strict key checks, typed values, named files
// read relative to the file, policies compiled locally; errors as "FILE:LINE: reason".
#include "cli/config_document.h"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/message.h>
#include <yaml-cpp/depthguard.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdint>
#include <cstdio>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <system_error>
#include <vector>

#include "cli/enum_names.h"
#include "cli/flags.h"
#include "common/message_limits.h"
#include "common/pem_text.h"
#include "cli/yaml_text.h"
#include "common/printable_line.h"
#include "controlplane/policy/compiled_policy.h"

namespace gw::cli {
namespace {

namespace v1 = gateway::v1;
namespace fs = std::filesystem;
using google::protobuf::FieldDescriptor;

/// Largest file a configuration file may name (certificates, keys, password files); gctld
/// refuses larger PEMs anyway.
constexpr std::size_t kMaxNamedFileSize = 1 << 20;
/// Largest configuration file: what gctl's channel carries (common/message_limits.h).
constexpr std::size_t kMaxConfigFileSize = common::kMaxConfigurationBytes;

int line_of(const YAML::Node& node) {
  const YAML::Mark mark = node.Mark();
  return mark.is_null() ? 0 : mark.line + 1;
}

// Names and values quoted in messages: one line, no terminal control characters.
std::string in_quotes(std::string_view text) {
  std::string out = "\"";
  for (char c : text.substr(0, 200)) {
    const auto u = static_cast<unsigned char>(c);
    out += (u < 0x20 || u == 0x7f) ? '?' : c;
  }
  return out + (text.size() > 200 ? "...\"" : "\"");
}

// Reads a whole file of at most `max_size` octets; on failure returns nullopt and the reason
// (the system's error text, or "larger than N octets").
std::optional<std::string> read_whole_file(const fs::path& path, std::size_t max_size,
                                           std::string& why) {
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> file(std::fopen(path.c_str(), "rb"),
                                                       &std::fclose);
  if (!file) {
    why = std::generic_category().message(errno);
    return std::nullopt;
  }
  std::string text;
  char buffer[8192];
  while (true) {
    errno = 0;
    const std::size_t n = std::fread(buffer, 1, sizeof buffer, file.get());
    text.append(buffer, n);
    if (text.size() > max_size) {
      why = "larger than " + std::to_string(max_size) + " octets";
      return std::nullopt;
    }
    if (n < sizeof buffer) break;
  }
  if (std::ferror(file.get()) != 0) {
    why = std::generic_category().message(errno != 0 ? errno : EIO);  // EISDIR for a directory
    return std::nullopt;
  }
  return text;
}

class Parser;

// One map of the file (a certificate, a policy, an interface, ...): its keys checked
// against the allowed ones, its values read with their types. Errors name the object
// ("policy \"broken\"") and the line of the offending key or value.
class Fields {
 public:
  /// `what` names the object in messages; when `named`, its "name" value is added to it.
  Fields(const Parser& parser, const YAML::Node& map, std::string what,
         const std::vector<std::string_view>& allowed, bool named);

  const std::string& what() const { return what_; }
  int line() const { return line_of(map_); }
  bool has(std::string_view key) const { return values_.count(key) != 0; }

  /// The value node of `key`; an undefined node when the key is absent.
  YAML::Node node(std::string_view key) const {
    const auto it = values_.find(key);
    return it == values_.end() ? YAML::Node(YAML::NodeType::Undefined) : it->second;
  }
  /// The line of `key` itself (0 when absent).
  int key_line(std::string_view key) const {
    const auto it = keys_.find(key);
    return it == keys_.end() ? 0 : line_of(it->second);
  }

  std::optional<std::string> text(std::string_view key) const;
  std::string required_text(std::string_view key) const;
  std::optional<std::uint64_t> number(std::string_view key, std::uint64_t min,
                                      std::uint64_t max) const;
  std::optional<bool> flag(std::string_view key) const;
  std::vector<std::string> text_list(std::string_view key) const;

  [[noreturn]] void fail(const std::string& reason) const;
  [[noreturn]] void fail_at(const YAML::Node& at, const std::string& reason) const;
  [[noreturn]] void fail_at_line(int line, const std::string& reason) const;

 private:
  const Parser& parser_;
  YAML::Node map_;
  std::string what_;
  std::map<std::string, YAML::Node, std::less<>> values_;
  std::map<std::string, YAML::Node, std::less<>> keys_;
};

class Parser {
 public:
  Parser(std::string file_name, fs::path base_dir)
      : file_name_(std::move(file_name)), base_dir_(std::move(base_dir)) {}

  v1::ConfigurationDocument parse(std::string_view text) const;

  /// "FILE:LINE: what: reason" (parts that are empty or 0 left out).
  [[noreturn]] void fail(int line, const std::string& what, const std::string& reason) const {
    std::string message = file_name_;
    if (line > 0) message += ":" + std::to_string(line);
    message += ": ";
    if (!what.empty()) message += what + ": ";
    throw ConfigFileError(message + reason);
  }

  /// The content of the file named by `key` of `fields` (relative to the configuration
  /// file's directory).
  std::string named_file(const Fields& fields, std::string_view key) const;
  /// Its first line without CR/LF; never empty, UTF-8 (a password: proto strings are UTF-8).
  std::string named_first_line(const Fields& fields, std::string_view key) const;
  /// The PEM blocks of the file named by `key` (pem_blocks: the text around them left out).
  std::string named_pem(const Fields& fields, std::string_view key) const;


 private:
  template <typename Each>
  void each_entry(const YAML::Node& section, std::string_view name, Each each) const;

  v1::Certificate certificate(const YAML::Node& map) const;
  v1::User user(const YAML::Node& map) const;
  v1::Policy policy(const YAML::Node& map) const;
  v1::Service service(const YAML::Node& map) const;
  void limits(const Fields& service, v1::Limits& limits) const;
  v1::Interface interface(const YAML::Node& map, const std::string& what,
                          const std::string& service) const;
  void sni_certs(const Fields& fields, v1::Interface& interface) const;
  v1::Handler handler(const YAML::Node& map, const std::string& what,
                      const std::string& service) const;

  std::string file_name_;
  fs::path base_dir_;
};

Fields::Fields(const Parser& parser, const YAML::Node& map, std::string what,
               const std::vector<std::string_view>& allowed, bool named)
    : parser_(parser), map_(map), what_(std::move(what)) {
  // Collected first, so that the messages below can name the object.
  std::optional<YAML::Node> duplicate;
  for (const auto& item : map) {
    if (!item.first.IsScalar()) fail_at(item.first, "keys must be plain names");
    const std::string& key = item.first.Scalar();
    if (values_.count(key) != 0) {
      if (!duplicate) duplicate = item.first;
      continue;
    }
    values_.emplace(key, item.second);
    keys_.emplace(key, item.first);
  }
  if (named) {
    const YAML::Node name = node("name");
    if (name.IsScalar() && !name.Scalar().empty()) what_ += " " + in_quotes(name.Scalar());
  }
  if (duplicate) fail_at(*duplicate, "duplicate key " + in_quotes(duplicate->Scalar()));
  for (const auto& item : map) {  // in file order: the first unknown key is reported
    const std::string& key = item.first.Scalar();
    const YAML::Node& key_node = item.first;
    bool known = false;
    for (std::string_view candidate : allowed) known = known || candidate == key;
    if (known) continue;
    std::string expected;
    for (std::string_view candidate : allowed) {
      expected += (expected.empty() ? "" : ", ") + std::string(candidate);
    }
    fail_at(key_node, "unknown key " + in_quotes(key) + " (expected one of: " + expected + ")");
  }
}

std::optional<std::string> Fields::text(std::string_view key) const {
  if (!has(key)) return std::nullopt;
  const YAML::Node value = node(key);
  if (value.IsNull()) return std::string();
  if (!value.IsScalar())
    fail_at(value, in_quotes(key) + " must be a text value, not a list or map");
  return value.Scalar();
}

std::string Fields::required_text(std::string_view key) const {
  std::optional<std::string> value = text(key);
  if (!value) fail("missing " + in_quotes(key));
  if (value->empty()) fail_at_line(key_line(key), in_quotes(key) + " is empty");
  return *value;
}

std::optional<std::uint64_t> Fields::number(std::string_view key, std::uint64_t min,
                                            std::uint64_t max) const {
  if (!has(key)) return std::nullopt;
  const YAML::Node value = node(key);
  const std::string range = std::to_string(min) + " to " + std::to_string(max);
  if (!value.IsScalar()) fail_at(value, in_quotes(key) + " must be a whole number from " + range);
  const std::string& text = value.Scalar();
  std::uint64_t number = 0;
  const char* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, number);
  if (text.empty() || ec != std::errc() || ptr != end || number < min || number > max) {
    fail_at(value,
            in_quotes(key) + " must be a whole number from " + range + ", not " + in_quotes(text));
  }
  return number;
}

std::optional<bool> Fields::flag(std::string_view key) const {
  if (!has(key)) return std::nullopt;
  const YAML::Node value = node(key);
  bool result = false;
  if (!value.IsScalar() || !YAML::convert<bool>::decode(value, result)) {
    fail_at(value, in_quotes(key) + " must be true or false" +
                       (value.IsScalar() ? ", not " + in_quotes(value.Scalar()) : ""));
  }
  return result;
}

std::vector<std::string> Fields::text_list(std::string_view key) const {
  std::vector<std::string> items;
  const YAML::Node value = node(key);
  if (!value.IsDefined() || value.IsNull()) return items;
  if (!value.IsSequence()) {
    fail_at(value, in_quotes(key) + " must be a list, e.g. " + std::string(key) + ": [a, b]");
  }
  for (const auto& item : value) {
    if (!item.IsScalar()) fail_at(item, "the items of " + in_quotes(key) + " must be names");
    items.push_back(item.Scalar());
  }
  return items;
}

void Fields::fail(const std::string& reason) const { parser_.fail(line(), what_, reason); }

void Fields::fail_at(const YAML::Node& at, const std::string& reason) const {
  const int at_line = line_of(at);
  parser_.fail(at_line > 0 ? at_line : line(), what_, reason);
}

void Fields::fail_at_line(int at_line, const std::string& reason) const {
  parser_.fail(at_line > 0 ? at_line : line(), what_, reason);
}

std::string Parser::named_file(const Fields& fields, std::string_view key) const {
  const std::string name = fields.required_text(key);
  fs::path path(name);
  if (path.is_relative()) path = base_dir_ / path;
  std::string why;
  std::optional<std::string> content = read_whole_file(path, kMaxNamedFileSize, why);
  const int line = line_of(fields.node(key));
  if (!content) fields.fail_at_line(line, "cannot read " + name + ": " + why);
  if (content->empty()) fields.fail_at_line(line, name + " is empty");
  return *std::move(content);
}

std::string Parser::named_pem(const Fields& fields, std::string_view key) const {
  std::string why;
  auto blocks = common::pem_blocks(named_file(fields, key), why);
  if (!blocks) {
    fields.fail_at_line(line_of(fields.node(key)), fields.node(key).Scalar() + ": " + why);
  }
  return *std::move(blocks);
}

std::string Parser::named_first_line(const Fields& fields, std::string_view key) const {
  std::string text = first_line_of(named_file(fields, key));  // BOM, CRLF (flags.h)
  if (text.empty()) {
    fields.fail_at_line(line_of(fields.node(key)),
                        fields.node(key).Scalar() + ": the first line is empty");
  }
  if (!common::is_valid_utf8(text)) {
    fields.fail_at_line(line_of(fields.node(key)),
                        fields.node(key).Scalar() + ": the first line is not UTF-8 text");
  }
  return text;
}

template <typename Each>
void Parser::each_entry(const YAML::Node& section, std::string_view name, Each each) const {
  if (section.IsNull()) return;
  if (!section.IsSequence()) {
    fail(line_of(section), "", in_quotes(name) + " must be a list (\"- name: ...\" entries)");
  }
  // Two entries of one kind with one name contradict each other (the later one would
  // silently win, or the two would be merged): the file is refused, as duplicate keys are.
  std::map<std::string, int> first_line;  // name -> line of its first entry
  for (const auto& item : section) {
    if (!item.IsMap())
      fail(line_of(item), "", "each entry of " + in_quotes(name) + " must be a map");
    if (const YAML::Node entry_name = item["name"]; entry_name && entry_name.IsScalar()) {
      auto [first, inserted] = first_line.emplace(entry_name.Scalar(), line_of(item));
      if (!inserted) {
        fail(line_of(entry_name), "",
             in_quotes(entry_name.Scalar()) + " is declared twice in " + in_quotes(name) +
                 " (first at line " + std::to_string(first->second) + ")");
      }
    }
    each(item);
  }
}

v1::ConfigurationDocument Parser::parse(std::string_view text) const {
  // YAML is UTF-8 here (YAML 1.2 §5.2 allows UTF-16/32 too, but every value ends up in a
  // protobuf string, which must be UTF-8): a stray Latin-1 byte is refused with its line,
  // not sent to gctld to fail there as an internal error (probe round 15).
  int line = 1;
  for (std::size_t i = 0; i < text.size();) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c == '\n') ++line;
    if (c < 0x80) {
      ++i;
      continue;
    }
    const std::size_t n = common::utf8_sequence_length(text, i);
    if (n == 0) fail(line, "", "the file is not UTF-8 text");
    i += n;
  }
  YAML::Node root;
  try {
    // Every document, so that a second one ("---") is refused rather than silently left
    // out: apply is all or nothing for the whole file (probe round 15).
    std::vector<YAML::Node> documents = YAML::LoadAll(std::string(text));
    for (std::size_t d = 1; d < documents.size(); ++d) {
      if (documents[d].IsDefined() && !documents[d].IsNull()) {
        fail(line_of(documents[d]), "",
             "a second YAML document (after ---): put the whole configuration in one");
      }
    }
    if (!documents.empty()) root = documents.front();
    // A node takes at least one octet of text, so only aliases can make more nodes than
    // the file has octets (with a floor for short files that use aliases as meant).
    const std::size_t max_nodes = std::max<std::size_t>(text.size(), 100'000);
    if (yaml_expands_beyond(root, max_nodes)) {
      fail(1, "", "the file stands for more than " + std::to_string(max_nodes) +
                      " YAML nodes once its aliases (*name) are expanded; write the "
                      "configuration out or use fewer nested aliases");
    }
    repair_yaml_escapes(root);
  } catch (const YAML::DeepRecursion& e) {
    // yaml-cpp's message is "bad file" (probe round 34).
    fail(e.mark.is_null() ? 0 : e.mark.line + 1, "",
         "nested more than 2,000 levels deep (sequences and maps)");
  } catch (const YAML::Exception& e) {
    fail(e.mark.is_null() ? 0 : e.mark.line + 1, "", e.msg);
  }
  v1::ConfigurationDocument document;
  document.set_file_name(file_name_);
  if (!root.IsDefined() || root.IsNull()) return document;
  if (!root.IsMap()) {
    fail(line_of(root), "",
         "the file must be a map with the keys certificates, users, policies, services");
  }
  // In file order, so that the first error reported is the first in the file.
  Fields top(*this, root, "", {"certificates", "users", "policies", "services"},
             /*named=*/false);
  for (const auto& item : root) {
    const std::string& key = item.first.Scalar();
    if (key == "certificates") {
      each_entry(item.second, key,
                 [&](const YAML::Node& map) { *document.add_certificates() = certificate(map); });
    } else if (key == "users") {
      each_entry(item.second, key,
                 [&](const YAML::Node& map) { *document.add_users() = user(map); });
    } else if (key == "policies") {
      each_entry(item.second, key,
                 [&](const YAML::Node& map) { *document.add_policies() = policy(map); });
    } else {
      each_entry(item.second, key,
                 [&](const YAML::Node& map) { *document.add_services() = service(map); });
    }
  }
  return document;
}

v1::Certificate Parser::certificate(const YAML::Node& map) const {
  const Fields f(*this, map, "certificate",
                 {"name", "cert_file", "key_file", "cert_pem", "key_pem"},
                 /*named=*/true);
  v1::Certificate certificate;
  certificate.set_source_line(f.line());
  certificate.set_name(f.required_text("name"));
  if (f.has("cert_file") && f.has("cert_pem")) {
    f.fail_at_line(f.key_line("cert_pem"), "give \"cert_file\" or \"cert_pem\", not both");
  }
  if (f.has("cert_file")) {
    certificate.set_cert_pem(named_pem(f, "cert_file"));
  } else if (f.has("cert_pem")) {
    certificate.set_cert_pem(f.required_text("cert_pem"));
  } else {
    f.fail("missing \"cert_file\" (or \"cert_pem\")");
  }
  if (f.has("key_file") && f.has("key_pem")) {
    f.fail_at_line(f.key_line("key_pem"), "give \"key_file\" or \"key_pem\", not both");
  }
  if (f.has("key_file")) certificate.set_key_pem(named_pem(f, "key_file"));
  if (f.has("key_pem")) certificate.set_key_pem(f.required_text("key_pem"));
  return certificate;
}

v1::User Parser::user(const YAML::Node& map) const {
  const Fields f(*this, map, "user", {"name", "password_hash", "password_file"}, /*named=*/true);
  v1::User user;
  user.set_source_line(f.line());
  user.set_name(f.required_text("name"));
  if (f.has("password_hash") == f.has("password_file")) {
    f.fail("give exactly one of \"password_hash\" or \"password_file\"");
  }
  if (f.has("password_hash")) {
    user.set_password_hash(f.required_text("password_hash"));
  } else {
    user.set_password(named_first_line(f, "password_file"));
  }
  return user;
}

v1::Policy Parser::policy(const YAML::Node& map) const {
  const Fields f(*this, map, "policy", {"name", "reply", "filters"}, /*named=*/true);
  v1::Policy policy;
  policy.set_source_line(f.line());
  policy.set_name(f.required_text("name"));
  policy.set_reply(f.text("reply").value_or(""));
  const YAML::Node filters = f.node("filters");
  // The control plane's own compiler, here too: the errors then carry this file's lines.
  const auto compiled =
      controlplane::policy::compile_policy_node(policy.name(), policy.reply(), filters);
  if (!compiled) {
    const auto& error = compiled.error();
    std::string reason = error.reason;
    if (error.filter > 0) reason = "filter " + std::to_string(error.filter) + ": " + reason;
    int line = error.line;
    if (line <= 0 && error.filter == 0 && !policy.reply().empty()) line = f.key_line("reply");
    f.fail_at_line(line, reason);
  }
  policy.set_filters_yaml(yaml_node_text(filters));
  return policy;
}

v1::Service Parser::service(const YAML::Node& map) const {
  const Fields f(*this, map, "service",
                 {"name",
                  "host",
                  "port",
                  "security",
                  "trusted_cas",
                  "client_cert",
                  "ciphers",
                  "username",
                  "password_file",
                  "monitoring",
                  "protocol_trace",
                  "instance",
                  "fail_open",
                  "allow_plaintext_auth",
                  "require_tls",
                  "hostname",
                  "tls_min_version",
                  "verify_hostname",
                  "tls_server_name",
                  "limits",
                  "interfaces",
                  "handlers"},
                 /*named=*/true);
  v1::Service service;
  service.set_source_line(f.line());
  service.set_name(f.required_text("name"));
  service.set_host(f.required_text("host"));
  if (auto port = f.number("port", 1, 65535)) service.set_port(static_cast<std::uint32_t>(*port));
  if (auto security = f.text("security")) {
    const auto value = parse_security(*security);
    if (!value) {
      f.fail_at(f.node("security"),
                "unknown security " + in_quotes(*security) + " (" + kSecurityNames + ")");
    }
    service.set_security(*value);
  }
  for (std::string& name : f.text_list("trusted_cas")) service.add_trusted_cas(std::move(name));
  service.set_client_cert(f.text("client_cert").value_or(""));
  service.set_ciphers(f.text("ciphers").value_or(""));
  service.set_username(f.text("username").value_or(""));
  if (f.has("password_file")) service.set_password(named_first_line(f, "password_file"));
  service.set_monitoring(f.flag("monitoring").value_or(false));
  service.set_protocol_trace(f.flag("protocol_trace").value_or(false));
  service.set_instance(f.text("instance").value_or(""));
  service.set_fail_open(f.flag("fail_open").value_or(false));
  service.set_allow_plaintext_auth(f.flag("allow_plaintext_auth").value_or(false));
  service.set_require_tls(f.flag("require_tls").value_or(false));
  service.set_hostname(f.text("hostname").value_or(""));
  service.set_tls_min_version(f.text("tls_min_version").value_or(""));
  service.set_no_verify_hostname(!f.flag("verify_hostname").value_or(true));
  service.set_tls_server_name(f.text("tls_server_name").value_or(""));
  limits(f, *service.mutable_limits());
  if (f.has("interfaces")) {
    service.set_declares_interfaces(true);
    int index = 0;
    each_entry(f.node("interfaces"), "interfaces", [&](const YAML::Node& item) {
      const std::string what = f.what() + ": interface " + std::to_string(++index);
      *service.add_interfaces() = interface(item, what, service.name());
    });
  }
  if (f.has("handlers")) {
    service.set_declares_handlers(true);
    int index = 0;
    each_entry(f.node("handlers"), "handlers", [&](const YAML::Node& item) {
      const std::string what = f.what() + ": handler " + std::to_string(++index);
      *service.add_handlers() = handler(item, what, service.name());
    });
  }
  return service;
}

void Parser::limits(const Fields& service, v1::Limits& limits) const {
  const YAML::Node node = service.node("limits");
  if (!node.IsDefined() || node.IsNull()) return;
  if (!node.IsMap()) service.fail_at(node, "\"limits\" must be a map, e.g. max_recipients: 50");
  const auto* descriptor = v1::Limits::descriptor();
  const auto* reflection = v1::Limits::GetReflection();
  std::vector<std::string_view> names;
  for (int i = 0; i < descriptor->field_count(); ++i) names.push_back(descriptor->field(i)->name());
  const Fields f(*this, node, service.what() + ": limits", names, /*named=*/false);
  for (int i = 0; i < descriptor->field_count(); ++i) {
    const FieldDescriptor* field = descriptor->field(i);
    if (field->cpp_type() == FieldDescriptor::CPPTYPE_UINT32) {
      // 0 is no limit a service can have (it stands for "the default" on the wire): refused,
      // as the CLI's flags do; omit the key for the default (probe round 17).
      if (auto value = f.number(field->name(), 1, UINT32_MAX)) {
        reflection->SetUInt32(&limits, field, static_cast<std::uint32_t>(*value));
      }
    } else if (field->cpp_type() == FieldDescriptor::CPPTYPE_UINT64) {
      if (auto value = f.number(field->name(), 1, UINT64_MAX)) {
        reflection->SetUInt64(&limits, field, *value);
      }
    }
  }
}

v1::Interface Parser::interface(const YAML::Node& map, const std::string& what,
                                const std::string& service) const {
  const Fields f(
      *this, map, what,
      {"type", "bind", "port", "cert", "sni_certs", "client_ca", "ciphers", "tls_min_version"},
      /*named=*/false);
  v1::Interface interface;
  interface.set_source_line(f.line());
  interface.set_service(service);
  interface.set_type(v1::INTERFACE_TYPE_TCP);
  if (auto type = f.text("type")) {
    const auto value = parse_interface_type(*type);
    if (!value) {
      f.fail_at(f.node("type"),
                "unknown interface type " + in_quotes(*type) + " (" + kInterfaceTypeNames + ")");
    }
    interface.set_type(*value);
  }
  interface.set_bind_address(f.text("bind").value_or(""));
  const auto port = f.number("port", 1, 65535);
  if (!port) f.fail("missing \"port\"");
  interface.set_port(static_cast<std::uint32_t>(*port));
  interface.set_cert(f.text("cert").value_or(""));
  sni_certs(f, interface);
  interface.set_client_ca(f.text("client_ca").value_or(""));
  interface.set_ciphers(f.text("ciphers").value_or(""));
  interface.set_tls_min_version(f.text("tls_min_version").value_or(""));
  return interface;
}

void Parser::sni_certs(const Fields& f, v1::Interface& interface) const {
  const YAML::Node node = f.node("sni_certs");
  if (!node.IsDefined() || node.IsNull()) return;
  const std::string usage =
      "\"sni_certs\" must map host names to certificate names, e.g. "
      "{mx.example.org: mx-cert}, or list {server_name: HOST, cert: NAME} maps";
  auto add = [&](const YAML::Node& at, const std::string& host, const std::string& cert) {
    if (host.empty() || cert.empty()) f.fail_at(at, usage);
    v1::SniCertificate* sni = interface.add_sni_certs();
    sni->set_server_name(host);
    sni->set_cert(cert);
  };
  if (node.IsMap()) {
    std::set<std::string> hosts;
    for (const auto& item : node) {
      if (!item.first.IsScalar() || !item.second.IsScalar()) f.fail_at(item.first, usage);
      if (!hosts.insert(item.first.Scalar()).second) {
        f.fail_at(item.first,
                  "duplicate key " + in_quotes(item.first.Scalar()) + " in \"sni_certs\"");
      }
      add(item.first, item.first.Scalar(), item.second.Scalar());
    }
  } else if (node.IsSequence()) {
    for (const auto& item : node) {
      if (!item.IsMap()) f.fail_at(item, usage);
      const Fields entry(*this, item, f.what() + ": sni_certs", {"server_name", "cert"},
                         /*named=*/false);
      add(item, entry.text("server_name").value_or(""), entry.text("cert").value_or(""));
    }
  } else {
    f.fail_at(node, usage);
  }
}

v1::Handler Parser::handler(const YAML::Node& map, const std::string& what,
                            const std::string& service) const {
  const Fields f(*this, map, what, {"command", "policy", "greeting", "address"},
                 /*named=*/false);
  v1::Handler handler;
  handler.set_source_line(f.line());
  handler.set_service(service);
  const std::string command = f.required_text("command");
  const auto value = parse_command(command);
  if (!value) {
    f.fail_at(f.node("command"),
              "unknown command " + in_quotes(command) + " (" + kCommandNames + ")");
  }
  handler.set_command(*value);
  handler.set_policy(f.required_text("policy"));
  if (f.has("greeting")) {
    if (*value != v1::SMTP_COMMAND_HELO) {
      f.fail_at_line(f.key_line("greeting"), "\"greeting\" is only for helo handlers");
    }
    handler.set_greeting(f.text("greeting").value_or(""));
  }
  if (f.has("address")) {
    if (*value != v1::SMTP_COMMAND_MAIL && *value != v1::SMTP_COMMAND_RCPT) {
      f.fail_at_line(f.key_line("address"), "\"address\" is only for mail and rcpt handlers");
    }
    std::string address = f.text("address").value_or("");
    if (address.empty()) {
      // "" would store the default "*" and catch every sender (probe round 17).
      f.fail_at_line(f.key_line("address"),
                     "\"address\" is empty: write \"<>\" for the null sender, or leave the "
                     "key out for \"*\" (every address)");
    }
    handler.set_address(address);
  }
  return handler;
}

}  // namespace

v1::ConfigurationDocument parse_configuration(std::string_view text, const std::string& file_name,
                                              const fs::path& base_dir) {
  return Parser(file_name, base_dir).parse(text);
}

v1::ConfigurationDocument load_configuration_file(const std::string& path) {
  std::string why;
  std::optional<std::string> text = read_whole_file(path, kMaxConfigFileSize, why);
  if (!text) throw ConfigFileError("cannot read " + path + ": " + why);
  const fs::path parent = fs::path(path).parent_path();
  return parse_configuration(*text, path, parent.empty() ? fs::path(".") : parent);
}

}  // namespace gw::cli

// ConfigStore: policies, handlers and the authentication repository (issue 4; DESIGN.md §2
// "handler", "authentication repository", §5, §6).
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <map>
#include <string>

#include "common/logging.h"
#include "common/printable_line.h"
#include "controlplane/config_store.h"
#include "controlplane/decision_engine.h"
#include "controlplane/policy/attribute_template.h"
#include "controlplane/policy/attributes.h"
#include "controlplane/policy/compiled_policy.h"
#include "controlplane/policy/password_hash.h"
#include "controlplane/policy/saslprep.h"
#include "controlplane/policy/smtp_reply.h"
#include "controlplane/handler_pattern.h"
#include "dataplane/smtp/address.h"
#include "storage/smtp_command_name.h"

namespace gw::controlplane {
namespace {

namespace v1 = gateway::v1;

std::string show_quoted(std::string_view text) { return "\"" + common::log_escape(text, 80) + "\""; }

// Two patterns are one slot when handler selection cannot tell them apart: it folds case
// beyond ASCII (dataplane/handler_selector.cc), so JÜRGEN@x and jürgen@x are one pattern
// (probe round 20: the second was stored and never ran); straße@x and strasse@x are two.
bool same_pattern(std::string_view a, std::string_view b) {
  return smtp::casefold(a) == smtp::casefold(b);
}

// Fills the defaults of DESIGN.md §5 / the reference and checks the fields that depend on
// the command. Does not look anything up.
Result<void> normalize_handler(v1::Handler& h) {
  h.clear_id();
  h.clear_created_at_ms();
  h.clear_source_line();
  if (!v1::SmtpCommand_IsValid(h.command()) || h.command() == v1::SMTP_COMMAND_UNSPECIFIED) {
    return fail(Code::kInvalidArgument, "command must be one of helo, auth, mail, rcpt, data");
  }
  if (h.service().empty()) return fail(Code::kInvalidArgument, "service is required");
  if (h.policy().empty()) return fail(Code::kInvalidArgument, "policy is required");
  const bool address_command =
      h.command() == v1::SMTP_COMMAND_MAIL || h.command() == v1::SMTP_COMMAND_RCPT;
  if (h.command() == v1::SMTP_COMMAND_HELO) {
    if (h.greeting().empty()) h.set_greeting(std::string(policy::kDefaultGreeting));
  } else if (!h.greeting().empty()) {
    return fail(Code::kInvalidArgument, "a greeting belongs to a helo handler only");
  }
  if (address_command) {
    if (h.address().empty()) h.set_address("*");
    if (auto pattern = comparable_pattern(h.command(), h.address()); !pattern) {
      return pattern.as_failure();
    } else {
      h.set_address(std::move(pattern).value());
    }
  } else if (!h.address().empty()) {
    return fail(Code::kInvalidArgument, "an address pattern belongs to mail and rcpt handlers only");
  }
  if (h.greeting().size() > 512 || policy::has_control_character(h.greeting())) {
    return fail(Code::kInvalidArgument,
                "greeting must be at most 512 octets without control characters");
  }
  // As in every other template (policy/README.md): the password never leaves the engine,
  // and a greeting that names it is refused rather than silently left empty (probe 17).
  const auto greeting = policy::AttributeTemplate::parse(h.greeting());
  if (greeting.references(policy::attr::kSubjectPassword)) {
    return fail(Code::kInvalidArgument,
                "greeting must not name ${authentication.subject.password}: the password "
                "never leaves the policy engine");
  }
  if (auto miscased = policy::miscased_reference(greeting)) {
    return fail(Code::kInvalidArgument, "greeting: " + *miscased);
  }
  // A space only in the local part ("odd user"@example.com is a mailbox the relay accepts
  // and compares as odd user@example.com, the spelling stored; probe round 34 found no way
  // to name it); none in the domain.
  const std::size_t at = h.address().rfind('@');
  if (h.address().size() > 512 || policy::has_control_character(h.address()) ||
      (at != std::string::npos && h.address().find(' ', at) != std::string::npos) ||
      (at == std::string::npos && h.address().find(' ') != std::string::npos)) {
    return fail(Code::kInvalidArgument,
                "address pattern must be at most 512 octets without control characters, and "
                "without spaces outside the local part");
  }
  return ok();
}

// A policy's own reply must be a refusal of the command its handler binds it to
// (policy::reply_code_misfit). An empty reply is the command's default, which always fits.
Result<void> check_reply_fits(std::string_view policy_name, std::string_view reply,
                              v1::SmtpCommand command) {
  if (reply.empty()) return ok();
  auto parsed = policy::parse_reply(reply);
  if (!parsed) return ok();  // compile_policy refuses it with its own reason
  if (auto misfit = policy::reply_code_misfit(to_policy_command(command), parsed.value().code)) {
    const std::string name(storage::smtp_command_name(command));
    const bool vowel = name == "auth";
    return fail(Code::kInvalidArgument, "policy " + show_quoted(policy_name) + " replies " +
                                            *misfit + ": bound to " + (vowel ? "an " : "a ") +
                                            name + " handler");
  }
  return ok();
}

// Password rules of the repository: what a SASL PLAIN/LOGIN client can send (RFC 4616 §2:
// no NUL), one line of gctl input (no CR/LF), bounded.
Result<void> check_password(std::string_view password) {
  if (password.empty()) return fail(Code::kInvalidArgument, "the password is empty");
  if (password.size() > 1024) {
    return fail(Code::kInvalidArgument, "the password is longer than 1024 octets");
  }
  if (password.find_first_of(std::string_view("\0\r\n", 3)) != std::string_view::npos) {
    return fail(Code::kInvalidArgument, "the password contains NUL, CR or LF");
  }
  return ok();
}

// The hash is of the SASLprep form (RFC 4013, RFC 4616 §2), which attribute_authentication
// compares: "pässword" typed in NFD and in NFC is one password. ASCII text is unchanged.
Result<std::string> hash_of(std::string_view password) {
  if (auto valid = check_password(password); !valid) return valid.as_failure();
  const auto prepared = policy::saslprep(password, policy::SaslprepUse::kStored);
  if (!prepared) {
    return fail(Code::kInvalidArgument,
                "the password holds characters SASLprep (RFC 4013) prohibits: control "
                "characters such as TAB, private-use or unassigned code points, or "
                "right-to-left text mixed with left-to-right");
  }
  auto hash = policy::hash_password(*prepared);
  if (!hash) return fail(Code::kInternal, "cannot hash the password: " + hash.error().message);
  return std::move(hash).value();
}

// A name no AUTH could ever present is refused here rather than stored unusable: the
// node's SASL parser (smtp::is_printable_identity) and attribute_authentication refuse an
// identity with any character common::printable_line replaces — C0, DEL, the C1 controls
// (NEL), U+2028/U+2029, bidirectional controls — or ill-formed UTF-8 (probe round 35).
Result<void> check_user_name(std::string_view name) {
  if (name.empty() || name.size() > 256 || policy::has_control_character(name) ||
      common::printable_line(name, name.size()) != name) {
    return fail(Code::kInvalidArgument,
                "a user name has 1..256 octets of UTF-8 and no control characters (C0, DEL, "
                "C1, U+2028/U+2029, bidirectional controls: AUTH refuses them)");
  }
  // One spelling per name (SASLprep, RFC 4013; RFC 4616 §2): AUTH looks the prepared form
  // up, so "ju\u0308rgen" and "jürgen" are one user, not two look-alikes (probe round 45).
  const auto prepared = policy::saslprep(name, policy::SaslprepUse::kStored);
  if (!prepared) {
    return fail(Code::kInvalidArgument,
                "the user name holds characters SASLprep (RFC 4013) prohibits (private-use, "
                "unassigned or mixed-direction text)");
  }
  if (*prepared != name) {
    return fail(Code::kInvalidArgument,
                "the user name is not in SASLprep form (RFC 4013: NFKC, non-ASCII spaces as "
                "spaces, soft hyphens and the like removed); give it as \"" +
                    common::printable_line(*prepared, 256) + "\"");
  }
  return ok();
}

}  // namespace

Result<std::shared_ptr<const policy::PolicySet>> ConfigStore::load_policy_set() {
  auto stored = policies_.list();
  if (!stored) return from_storage(stored.error());
  std::vector<policy::PolicySource> sources;
  sources.reserve(stored.value().size());
  for (const v1::Policy& p : stored.value()) {
    sources.push_back({p.name(), p.reply(), p.filters_yaml()});
  }
  auto built = policy::build_policy_set(sources);
  for (const policy::CompileError& e : built.errors) {
    spdlog::error("stored policy does not compile, its handlers will tempfail: {}",
                  e.to_string());
  }
  return std::make_shared<const policy::PolicySet>(std::move(built.policies));
}

Result<std::shared_ptr<const policy::UserDirectory>> ConfigStore::load_user_directory() {
  auto users = users_.list(storage::Secrets::kInclude);
  if (!users) return from_storage(users.error());
  std::map<std::string, std::string, std::less<>> hashes;
  for (v1::User& u : users.value()) hashes.emplace(u.name(), std::move(*u.mutable_password_hash()));
  return std::make_shared<const policy::MapUserDirectory>(std::move(hashes));
}

Result<std::string> ConfigStore::instance_of(std::string_view service) {
  auto found = services_.get(service, storage::Secrets::kOmit);
  if (!found) return from_storage(found.error());
  return found.value().instance();
}

// --- policies

Result<storage::UpsertOutcome> ConfigStore::upsert_policy(const v1::Policy& request) {
  if (!is_valid_name(request.name())) {
    return fail(Code::kInvalidArgument,
                "policy name " + show_quoted(request.name()) + " is not 1..64 of [A-Za-z0-9._-]");
  }
  auto compiled = policy::compile_policy(request.name(), request.reply(), request.filters_yaml());
  if (!compiled) return fail(Code::kInvalidArgument, compiled.error().to_string());

  auto tx = storage::Transaction::begin(db_);
  if (!tx) return from_storage(tx.error());
  // A new reply must still fit every command the policy's handlers bind it to. Inside
  // apply() the handlers may still change: apply checks them all at its end
  // (check_handler_replies; probe round 46: a file moving a policy to another command with
  // a reply for it was refused).
  if (!batch_) {
    auto commands = policies_.commands_using(request.name());
    if (!commands) return from_storage(commands.error());
    for (v1::SmtpCommand command : commands.value()) {
      if (auto fits = check_reply_fits(request.name(), request.reply(), command); !fits) {
        return fits.as_failure();
      }
    }
  }
  auto existing = policies_.get(request.name());
  if (!existing && existing.error().code != storage::Errc::kNotFound) {
    return from_storage(existing.error());
  }
  const std::uint64_t own =
      existing ? existing.value().reply().size() + existing.value().filters_yaml().size() : 0;
  // Every policy together stays within what `gctl export` reads back and `gctl apply` sends
  // (probe round 34: two files of 35 MB each were taken, then export and policy list
  // failed with "Received message larger than max").
  std::uint64_t others = 0;
  if (batch_ && batch_->policy_text) {
    others = *batch_->policy_text - own;
  } else {
    auto counted = policies_.text_octets_except(request.name());
    if (!counted) return from_storage(counted.error());
    others = counted.value();
    if (batch_) batch_->policy_text = others + own;
  }
  const std::uint64_t total =
      others + request.reply().size() + request.filters_yaml().size();
  if (total > max_policy_text_) {
    return fail(Code::kInvalidArgument,
                "the policies would hold " + std::to_string(total) +
                    " octets of text, more than the " + std::to_string(max_policy_text_) +
                    " a configuration may (gctl export must be able to read them back)");
  }
  // The same policy written otherwise (quotes, flow style: an export in JSON applied
  // again) is no change: the stored text stays, no snapshot is rebuilt.
  if (existing && existing.value().reply() == request.reply() &&
      policy::same_filters(existing.value().filters_yaml(), request.filters_yaml())) {
    return storage::UpsertOutcome::kUnchanged;
  }
  v1::Policy stored;
  stored.set_name(request.name());
  stored.set_reply(request.reply());
  stored.set_filters_yaml(request.filters_yaml());
  auto outcome = policies_.upsert(stored, unix_now_ms());
  if (!outcome) return from_storage(outcome.error());
  if (batch_ && batch_->policy_text) batch_->policy_text = total;
  if (outcome.value() == storage::UpsertOutcome::kUnchanged) return outcome.value();
  if (auto done = commit_change(tx.value(), {}, Rebuild{.policies = true, .users = false}); !done) {
    return done.as_failure();
  }
  spdlog::info("policy {} {}", show_quoted(request.name()),
               outcome.value() == storage::UpsertOutcome::kCreated ? "created" : "updated");
  return outcome.value();
}

Result<v1::Policy> ConfigStore::get_policy(std::string_view name) {
  auto found = policies_.get(name);
  if (!found) return from_storage(found.error());
  return std::move(found).value();
}

Result<std::vector<v1::Policy>> ConfigStore::list_policies() {
  auto all = policies_.list();
  if (!all) return from_storage(all.error());
  return std::move(all).value();
}

Result<void> ConfigStore::delete_policy(std::string_view name) {
  if (name.empty()) return fail(Code::kInvalidArgument, "policy name is required");
  auto tx = storage::Transaction::begin(db_);
  if (!tx) return from_storage(tx.error());
  auto removed = policies_.remove(name);
  if (!removed) {
    if (removed.error().in_use()) {
      return fail(Code::kFailedPrecondition, removed.error().error.message);
    }
    return from_storage(removed.error().error);
  }
  if (auto done = commit_change(tx.value(), {}, Rebuild{.policies = true, .users = false}); !done) return done;
  spdlog::info("policy {} deleted", show_quoted(name));
  return ok();
}

// --- handlers

Result<void> ConfigStore::check_handler_replies(std::string* failing_policy) {
  auto handlers = handlers_.list("");
  if (!handlers) return from_storage(handlers.error());
  std::map<std::string, std::string> replies;  // policy -> reply, read once each
  for (const v1::Handler& h : handlers.value()) {
    auto known = replies.find(h.policy());
    if (known == replies.end()) {
      auto stored = policies_.get(h.policy());
      if (!stored) return from_storage(stored.error());
      known = replies.emplace(h.policy(), stored.value().reply()).first;
    }
    if (auto fits = check_reply_fits(h.policy(), known->second, h.command()); !fits) {
      if (failing_policy != nullptr) *failing_policy = h.policy();
      return fits;
    }
  }
  return ok();
}

Result<v1::Handler> ConfigStore::create_handler(v1::Handler request) {
  if (auto valid = normalize_handler(request); !valid) return valid.as_failure();
  auto tx = storage::Transaction::begin(db_);
  if (!tx) return from_storage(tx.error());
  auto instance = instance_of(request.service());
  if (!instance) return instance.as_failure();
  auto policy = policies_.get(request.policy());
  if (!policy) {
    if (policy.error().code == storage::Errc::kNotFound) {
      return fail(Code::kNotFound, "policy " + show_quoted(request.policy()) + " does not exist");
    }
    return from_storage(policy.error());
  }
  if (auto fits = check_reply_fits(request.policy(), policy.value().reply(), request.command());
      !fits) {
    return fits.as_failure();
  }
  auto existing = handlers_.list(request.service());
  if (!existing) return from_storage(existing.error());
  for (const v1::Handler& h : existing.value()) {
    if (h.command() != request.command()) continue;
    const bool address_command = request.command() == v1::SMTP_COMMAND_MAIL ||
                                 request.command() == v1::SMTP_COMMAND_RCPT;
    if (!address_command || same_pattern(h.address(), request.address())) {
      return fail(Code::kAlreadyExists,
                  "service " + show_quoted(request.service()) + " already has " +
                      std::string(storage::smtp_command_name(request.command())) + " handler " +
                      std::to_string(h.id()) +
                      (address_command ? " for " + show_quoted(h.address()) : std::string()) +
                      ": delete it first");
    }
  }
  auto created = handlers_.create(request, unix_now_ms());
  if (!created) return from_storage(created.error());
  if (auto done = commit_change(tx.value(), {instance.value()}); !done) return done.as_failure();
  spdlog::info("handler {} created: service {} {} policy {}", created.value().id(),
               show_quoted(request.service()), storage::smtp_command_name(request.command()),
               show_quoted(request.policy()));
  return std::move(created).value();
}

Result<std::vector<v1::Handler>> ConfigStore::list_handlers(std::string_view service) {
  if (!service.empty()) {
    if (auto owner = instance_of(service); !owner) return owner.as_failure();
  }
  auto all = handlers_.list(service);
  if (!all) return from_storage(all.error());
  return std::move(all).value();
}

Result<void> ConfigStore::delete_handler(std::int64_t id) {
  auto tx = storage::Transaction::begin(db_);
  if (!tx) return from_storage(tx.error());
  auto handler = handlers_.get(id);
  if (!handler) return from_storage(handler.error());
  auto instance = instance_of(handler.value().service());
  if (!instance) return instance.as_failure();
  if (auto removed = handlers_.remove(id); !removed) return from_storage(removed.error());
  if (auto done = commit_change(tx.value(), {instance.value()}); !done) return done;
  spdlog::info("handler {} of service {} deleted", id, show_quoted(handler.value().service()));
  return ok();
}

// --- users

Result<v1::User> ConfigStore::create_user(const v1::User& request) {
  if (auto name = check_user_name(request.name()); !name) return name.as_failure();
  std::string hash;
  if (!request.password_hash().empty()) {
    if (!request.password().empty()) {
      return fail(Code::kInvalidArgument, "give a password or a password hash, not both");
    }
    if (auto costed = check_hash_cost(request.password_hash(), min_hash_cost_); !costed) {
      return costed.as_failure();
    }
    hash = request.password_hash();
  } else {
    auto hashed = hash_of(request.password());
    if (!hashed) return hashed.as_failure();
    hash = std::move(hashed).value();
  }
  auto tx = storage::Transaction::begin(db_);
  if (!tx) return from_storage(tx.error());
  auto created = users_.create(request.name(), hash, unix_now_ms());
  if (!created) return from_storage(created.error());
  if (auto done = commit_change(tx.value(), {}, Rebuild{.policies = false, .users = true}); !done) {
    return done.as_failure();
  }
  spdlog::info("user {} created", show_quoted(request.name()));
  return std::move(created).value();
}

Result<v1::User> ConfigStore::set_user_password(std::string_view name, std::string_view password) {
  if (auto valid = check_user_name(name); !valid) return valid.as_failure();
  if (auto exists = users_.get(name, storage::Secrets::kOmit); !exists) {
    return from_storage(exists.error());
  }
  auto hashed = hash_of(password);
  if (!hashed) return hashed.as_failure();
  auto tx = storage::Transaction::begin(db_);
  if (!tx) return from_storage(tx.error());
  auto updated = users_.set_hash(name, hashed.value(), unix_now_ms());
  if (!updated) return from_storage(updated.error());
  if (auto done = commit_change(tx.value(), {}, Rebuild{.policies = false, .users = true}); !done) {
    return done.as_failure();
  }
  spdlog::info("password of user {} changed", show_quoted(name));
  return std::move(updated).value();
}

Result<std::vector<v1::User>> ConfigStore::list_users() {
  auto all = users_.list(storage::Secrets::kOmit);
  if (!all) return from_storage(all.error());
  return std::move(all).value();
}

Result<void> ConfigStore::delete_user(std::string_view name) {
  if (name.empty()) return fail(Code::kInvalidArgument, "user name is required");
  auto tx = storage::Transaction::begin(db_);
  if (!tx) return from_storage(tx.error());
  if (auto removed = users_.remove(name); !removed) return from_storage(removed.error());
  if (auto done = commit_change(tx.value(), {}, Rebuild{.policies = false, .users = true}); !done) return done;
  spdlog::info("user {} deleted", show_quoted(name));
  return ok();
}

}  // namespace gw::controlplane

// ConfigStore::apply and export_document: the declarative configuration of `gctl apply -f`
// and `gctl export` (issue 4; DESIGN.md §6 "The configuration file format").
//
// Rules of apply, decided here:
// - Objects are matched by name and created or updated; objects the document does not
//   mention are left alone (deleting is `gctl ... delete`). A name given twice in one list
//   is refused (the entries contradict each other; neither silently wins).
// - Order: certificates, users, policies, services; within a service: the service, its
//   interfaces, its handlers. The whole document is one SQLite transaction, published to
//   the nodes once at the end; the first error rolls everything back.
// - A certificate whose name is stored with another chain is refused: apply does not
//   replace certificates (rotate under a new name, then point the users at it).
// - A user given with a password (password_file) whose stored hash already verifies it is
//   unchanged; otherwise it gets a fresh hash. A user given with password_hash gets exactly
//   that hash.
// - A service in the document is its whole definition (absent fields take their defaults),
//   except the upstream password: absent means "keep the stored one".
// - `interfaces:` / `handlers:` present on a service (declares_interfaces/_handlers) make
//   its stored interfaces / handlers exactly that list. Interfaces equal to a stored one
//   (same type, address, port and TLS settings) keep their id; handlers are kept when the
//   whole list is equal in order, else replaced in file order (their creation order is the
//   last best-match tie-break, DESIGN.md §5). Absent keys leave them alone.
#include <google/protobuf/util/message_differencer.h>
#include <spdlog/spdlog.h>

#include <map>
#include <optional>
#include <set>
#include <string>
#include <tuple>

#include "common/logging.h"
#include "common/pem_text.h"
#include "controlplane/config_store.h"
#include "controlplane/handler_pattern.h"
#include "controlplane/policy/password_hash.h"
#include "controlplane/service_defaults.h"
#include "storage/smtp_command_name.h"

namespace gw::controlplane {
namespace {

namespace v1 = gateway::v1;
using google::protobuf::util::MessageDifferencer;

std::string show_quoted(std::string_view text) { return "\"" + common::log_escape(text, 80) + "\""; }

std::string trimmed(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' ')) {
    text.pop_back();
  }
  return text;
}

// A chain as apply compares it: its PEM blocks only (the explanatory text around them may
// differ: older gctl versions sent certificate files whole), else the trimmed text.
std::string comparable_pem(const std::string& pem) {
  std::string why;
  auto blocks = common::pem_blocks(pem, why);
  return blocks ? *std::move(blocks) : trimmed(pem);
}

std::string_view outcome_word(storage::UpsertOutcome outcome) {
  switch (outcome) {
    case storage::UpsertOutcome::kCreated:
      return "created";
    case storage::UpsertOutcome::kUpdated:
      return "updated";
    case storage::UpsertOutcome::kUnchanged:
      break;
  }
  return "unchanged";
}

// An interface as apply compares it: what the operator declares, nothing assigned.
v1::Interface comparable(v1::Interface iface) {
  iface.clear_id();
  iface.clear_source_line();
  return iface;
}

// A handler as apply compares it.
struct HandlerKey {
  v1::SmtpCommand command;
  std::string policy, greeting, address;
  bool operator==(const HandlerKey&) const = default;
};

HandlerKey key_of(const v1::Handler& h) {
  std::string greeting = h.greeting();
  std::string address = h.address();
  // The defaults create_handler fills in, so "absent" and "default" compare equal.
  if (h.command() == v1::SMTP_COMMAND_HELO && greeting.empty()) {
    greeting = std::string(policy::kDefaultGreeting);
  }
  if (h.command() == v1::SMTP_COMMAND_MAIL || h.command() == v1::SMTP_COMMAND_RCPT) {
    if (address.empty()) address = "*";
    // As stored (create_handler), so a pattern spelled another way is not a change; one
    // comparable_pattern refuses is left as written, for create_handler to refuse.
    if (auto pattern = comparable_pattern(h.command(), address)) address = std::move(pattern).value();
  }
  return {h.command(), h.policy(), greeting, address};
}

// The first entry of `list` whose name an earlier entry has: two entries of one kind with
// one name contradict each other, so the document is refused (gctl already refuses such a
// file; other API clients may send one). Returns (line, name, line of the first).
template <typename List>
std::optional<std::tuple<int, std::string, int>> repeated_name(const List& list) {
  std::map<std::string, int> first_line;
  for (const auto& entry : list) {
    auto [first, inserted] = first_line.emplace(entry.name(), entry.source_line());
    if (!inserted) return std::tuple{entry.source_line(), entry.name(), first->second};
  }
  return std::nullopt;
}

}  // namespace

Result<v1::ApplyResponse> ConfigStore::apply(const v1::ConfigurationDocument& document,
                                             bool dry_run) {
  if (batch_) return fail(Code::kInternal, "apply is already running");
  const std::string file = document.file_name().empty() ? "<document>" : document.file_name();
  auto at = [&file](int line, const std::string& what, const Error& e) {
    return Error{e.code, file + ":" + std::to_string(line > 0 ? line : 1) + ": " + what + ": " +
                             e.message};
  };

  auto refuse_repeated = [&](const auto& list, const std::string& kind) -> std::optional<Error> {
    auto repeated = repeated_name(list);
    if (!repeated) return std::nullopt;
    auto [line, name, first] = *repeated;
    return at(line, kind + " " + show_quoted(name),
              Error{Code::kInvalidArgument, "declared twice in this document (first at line " +
                                                std::to_string(first) + ")"});
  };
  for (auto refusal : {refuse_repeated(document.certificates(), "certificate"),
                       refuse_repeated(document.users(), "user"),
                       refuse_repeated(document.policies(), "policy"),
                       refuse_repeated(document.services(), "service")}) {
    if (refusal) return *refusal;
  }

  auto tx = storage::Transaction::begin(db_);
  if (!tx) return from_storage(tx.error());
  batch_.emplace();
  struct Reset {
    std::optional<Batch>& batch;
    ~Reset() { batch.reset(); }
  } reset{batch_};
  v1::ApplyResponse response;
  auto note = [&response](std::string change) { response.add_changes(std::move(change)); };

  // 1. Certificates.
  for (const v1::Certificate& c : document.certificates()) {
    const std::string what = "certificate " + show_quoted(c.name());
    auto stored = certificates_.get(c.name(), storage::Secrets::kOmit);
    if (stored) {
      if (comparable_pem(stored.value().cert_pem()) != comparable_pem(c.cert_pem())) {
        return at(c.source_line(), what,
                  Error{Code::kFailedPrecondition,
                        "is stored with another chain; apply does not replace certificates "
                        "(add the new one under another name, or delete this one first)"});
      }
      if (!c.key_pem().empty() && !stored.value().has_key()) {
        return at(c.source_line(), what,
                  Error{Code::kFailedPrecondition,
                        "is stored without a private key; delete it and apply again to add one"});
      }
      continue;  // unchanged
    }
    if (stored.error().code != storage::Errc::kNotFound) {
      return at(c.source_line(), what, from_storage(stored.error()));
    }
    auto created = create_certificate(c);
    if (!created) return at(c.source_line(), what, created.error());
    note("created " + what);
  }

  // 2. Users.
  for (const v1::User& u : document.users()) {
    const std::string what = "user " + show_quoted(u.name());
    auto stored = users_.get_hash(u.name());
    if (!stored && stored.error().code != storage::Errc::kNotFound) {
      return at(u.source_line(), what, from_storage(stored.error()));
    }
    if (!stored) {
      auto created = create_user(u);
      if (!created) return at(u.source_line(), what, created.error());
      note("created " + what);
      continue;
    }
    if (!u.password_hash().empty()) {
      if (!u.password().empty()) {
        return at(u.source_line(), what,
                  Error{Code::kInvalidArgument, "give a password or a password hash, not both"});
      }
      if (stored.value() == u.password_hash()) continue;
      if (auto costed = check_hash_cost(u.password_hash(), min_hash_cost_); !costed) {
        return at(u.source_line(), what, costed.error());
      }
      auto updated = users_.set_hash(u.name(), u.password_hash(), unix_now_ms());
      if (!updated) return at(u.source_line(), what, from_storage(updated.error()));
      batch_->rebuild.users = true;
      note("updated " + what);
      continue;
    }
    if (!u.password().empty() && policy::verify_password(stored.value(), u.password())) continue;
    auto updated = set_user_password(u.name(), u.password());
    if (!updated) return at(u.source_line(), what, updated.error());
    note("updated " + what);
  }

  // 3. Policies.
  for (const v1::Policy& p : document.policies()) {
    const std::string what = "policy " + show_quoted(p.name());
    auto outcome = upsert_policy(p);
    if (!outcome) return at(p.source_line(), what, outcome.error());
    if (outcome.value() != storage::UpsertOutcome::kUnchanged) {
      note(std::string(outcome_word(outcome.value())) + " " + what);
    }
  }

  // 4. Services with their interfaces and handlers. Interfaces that go are deleted for every
  // service before any new one is created, so the port checks see the file's end state: an
  // interface may move from one service to another, or two services swap ports, whatever
  // the order of the file (probe round 17: one order applied, the other was refused).
  struct PendingInterfaces {
    std::string what;
    std::vector<v1::Interface> to_create;
  };
  std::vector<PendingInterfaces> pending;
  for (const v1::Service& declared : document.services()) {
    const std::string what = "service " + show_quoted(declared.name());
    v1::Service service = declared;
    service.clear_interfaces();
    service.clear_handlers();
    auto stored = services_.get(declared.name(), storage::Secrets::kInclude);
    if (!stored && stored.error().code != storage::Errc::kNotFound) {
      return at(declared.source_line(), what, from_storage(stored.error()));
    }
    if (!stored) {
      auto created = create_service(service);
      if (!created) return at(declared.source_line(), what, created.error());
      note("created " + what);
    } else {
      // The service as it would be stored, against the stored one.
      service.clear_has_password();
      service.clear_source_line();
      service.clear_declares_interfaces();
      service.clear_declares_handlers();
      service.clear_created_at_ms();
      service.clear_updated_at_ms();
      fill_service_defaults(service);
      v1::Service current = stored.value();
      // An entry without a username has no upstream login: the stored password goes with
      // it, as every setting the entry does not list goes back to its default (probe round
      // 48: a password kept alone was refused, so no file could remove a login).
      const bool login_dropped =
          service.username().empty() && service.password().empty() && current.has_password();
      const bool password_changed =
          login_dropped ||
          (!service.password().empty() && service.password() != current.password());
      current.clear_password();
      current.clear_has_password();
      current.clear_created_at_ms();
      current.clear_updated_at_ms();
      v1::Service candidate = service;
      candidate.clear_password();
      if (password_changed || !MessageDifferencer::Equals(candidate, current)) {
        google::protobuf::FieldMask mask;
        const auto* descriptor = v1::Service::descriptor();
        for (int i = 0; i < descriptor->field_count(); ++i) {
          const std::string& field = descriptor->field(i)->name();
          if (field == "name" || field == "interfaces" || field == "handlers" ||
              field == "has_password" || field == "created_at_ms" || field == "updated_at_ms" ||
              field == "source_line" || field == "declares_interfaces" ||
              field == "declares_handlers") {
            continue;
          }
          if (field == "password" && !password_changed) continue;  // keep the stored one
          mask.add_paths(field);
        }
        auto updated = update_service(service, mask);
        if (!updated) return at(declared.source_line(), what, updated.error());
        note("updated " + what);
      }
    }

    if (declared.declares_interfaces()) {
      auto existing = interfaces_.list(declared.name());
      if (!existing) return at(declared.source_line(), what, from_storage(existing.error()));
      std::vector<bool> keep(existing.value().size(), false);
      std::vector<v1::Interface> to_create;
      for (const v1::Interface& wanted : declared.interfaces()) {
        v1::Interface iface = wanted;
        iface.set_service(declared.name());
        iface.clear_id();
        fill_interface_defaults(iface);
        if (auto valid = validate_interface(iface); !valid) {
          return at(wanted.source_line(), "interface of " + what, valid.error());
        }
        bool found = false;
        for (std::size_t i = 0; i < existing.value().size(); ++i) {
          if (!keep[i] && MessageDifferencer::Equals(comparable(existing.value()[i]),
                                                     comparable(iface))) {
            keep[i] = found = true;
            break;
          }
        }
        if (!found) {
          iface.set_source_line(wanted.source_line());
          to_create.push_back(std::move(iface));
        }
      }
      for (std::size_t i = 0; i < existing.value().size(); ++i) {
        if (keep[i]) continue;
        const v1::Interface& old = existing.value()[i];
        if (auto removed = delete_interface(old.id()); !removed) {
          return at(declared.source_line(), what, removed.error());
        }
        note("deleted interface " + std::to_string(old.id()) + " (" +
             storage::format_endpoint(old.bind_address(), old.port()) + ") of " + what);
      }
      pending.push_back({what, std::move(to_create)});
    }

    if (declared.declares_handlers()) {
      auto existing = handlers_.list(declared.name());
      if (!existing) return at(declared.source_line(), what, from_storage(existing.error()));
      bool same = existing.value().size() == static_cast<std::size_t>(declared.handlers_size());
      for (int i = 0; same && i < declared.handlers_size(); ++i) {
        same = key_of(existing.value()[static_cast<std::size_t>(i)]) ==
               key_of(declared.handlers(i));
      }
      if (!same) {
        for (const v1::Handler& old : existing.value()) {
          if (auto removed = delete_handler(old.id()); !removed) {
            return at(declared.source_line(), what, removed.error());
          }
        }
        int index = 0;
        for (const v1::Handler& wanted : declared.handlers()) {
          ++index;
          v1::Handler handler = wanted;
          handler.set_service(declared.name());
          auto created = create_handler(handler);
          if (!created && created.error().code == Code::kAlreadyExists) {
            // The service's stored handlers are gone by now: the clash is with one this
            // file declared earlier, whose id goes back with the refusal (probe round 41:
            // "already has auth handler 12: delete it first", a handler that never existed).
            const bool address_command = handler.command() == v1::SMTP_COMMAND_MAIL ||
                                         handler.command() == v1::SMTP_COMMAND_RCPT;
            return at(wanted.source_line(), "handler " + std::to_string(index) + " of " + what,
                      Error{Code::kAlreadyExists,
                            "repeats an earlier " +
                                std::string(storage::smtp_command_name(handler.command())) +
                                " handler of this service in the file" +
                                (address_command ? " (same address pattern)" : std::string()) +
                                "; a service has one handler per command" +
                                (address_command ? " and pattern" : std::string())});
          }
          if (!created) {
            return at(wanted.source_line(),
                      "handler " + std::to_string(index) + " of " + what, created.error());
          }
        }
        note("replaced the handlers of " + what + " (" +
             std::to_string(existing.value().size()) + " -> " +
             std::to_string(declared.handlers_size()) + ")");
      }
    }
  }
  // 5. The new interfaces, once every interface that goes has gone.
  std::set<std::int64_t> created_interfaces;  // ids that go back if the apply is refused
  for (const PendingInterfaces& service : pending) {
    for (const v1::Interface& iface : service.to_create) {
      const int line = iface.source_line();
      auto created = create_interface(iface);
      if (!created) return at(line, "interface of " + service.what, created.error());
      created_interfaces.insert(created.value().id());
      note("created interface " +
           storage::format_endpoint(created.value().bind_address(), created.value().port()) +
           " of " + service.what);
    }
  }

  // 6. Every declared service that requires TLS offers it on each of its interfaces.
  for (const v1::Service& declared : document.services()) {
    auto stored = services_.get(declared.name(), storage::Secrets::kOmit);
    if (!stored) return at(declared.source_line(), "service " + show_quoted(declared.name()),
                           from_storage(stored.error()));
    if (auto offered = check_tls_offered(stored.value(), created_interfaces); !offered) {
      return at(declared.source_line(), "service " + show_quoted(declared.name()),
                offered.error());
    }
  }

  // 7. Every handler's policy reply fits its command, as the file leaves them (a policy
  //    may move to another command in the same file).
  std::string failing_policy;
  if (auto fits = check_handler_replies(&failing_policy); !fits) {
    int line = 0;
    for (const v1::Policy& p : document.policies()) {
      if (p.name() == failing_policy) line = p.source_line();
    }
    return at(line, "policy " + show_quoted(failing_policy), fits.error());
  }

  Batch batch = std::move(*batch_);
  batch_.reset();
  if (dry_run || response.changes().empty()) {
    // tx goes out of scope uncommitted: rolled back.
    response.set_config_version(hub_.current()->version);
    spdlog::info("apply {}: {} change(s){}", show_quoted(file), response.changes_size(),
                 dry_run ? " (dry run, nothing kept)" : "");
    return response;
  }
  if (auto done = commit_change(tx.value(), std::move(batch.instances), batch.rebuild); !done) {
    return done.as_failure();
  }
  response.set_config_version(hub_.current()->version);
  spdlog::info("apply {}: {} change(s), configuration version {}", show_quoted(file),
               response.changes_size(), response.config_version());
  return response;
}

Result<v1::ConfigurationDocument> ConfigStore::export_document() {
  v1::ConfigurationDocument document;
  auto certificates = certificates_.list(storage::Secrets::kOmit);
  if (!certificates) return from_storage(certificates.error());
  for (v1::Certificate& c : certificates.value()) {
    v1::Certificate* out = document.add_certificates();
    out->set_name(c.name());
    out->set_cert_pem(c.cert_pem());
    out->set_has_key(c.has_key());
  }
  auto users = users_.list(storage::Secrets::kInclude);
  if (!users) return from_storage(users.error());
  for (v1::User& u : users.value()) {
    v1::User* out = document.add_users();
    out->set_name(u.name());
    out->set_password_hash(u.password_hash());
  }
  auto policies = policies_.list();
  if (!policies) return from_storage(policies.error());
  for (v1::Policy& p : policies.value()) {
    v1::Policy* out = document.add_policies();
    out->set_name(p.name());
    out->set_reply(p.reply());
    out->set_filters_yaml(p.filters_yaml());
  }
  auto services = list_services("");
  if (!services) return services.as_failure();
  for (v1::Service& s : services.value()) {
    s.clear_password();
    s.clear_created_at_ms();
    s.clear_updated_at_ms();
    s.set_declares_interfaces(true);
    s.set_declares_handlers(true);
    for (v1::Interface& i : *s.mutable_interfaces()) i.clear_service();
    for (v1::Handler& h : *s.mutable_handlers()) {
      h.clear_service();
      h.clear_created_at_ms();
    }
    *document.add_services() = std::move(s);
  }
  return document;
}

}  // namespace gw::controlplane

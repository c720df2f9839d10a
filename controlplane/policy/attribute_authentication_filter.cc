// attribute_authentication: the client's AUTH identity and password against the
// authentication repository (reference "Add an AUTH policy handler"; RFC 4616 §2 for the
// authorization identity; DESIGN.md §7 "Secrets").
#include "common/printable_line.h"
#include "controlplane/policy/filters.h"
#include "controlplane/policy/password_hash.h"
#include "controlplane/policy/saslprep.h"

namespace gw::controlplane::policy {
namespace {

std::string_view get(const Attributes& attributes, std::string_view name) {
  const auto it = attributes.find(name);
  return it == attributes.end() ? std::string_view() : std::string_view(it->second);
}

class AttributeAuthenticationFilter final : public Filter {
 public:
  explicit AttributeAuthenticationFilter(bool allow_authorization_id)
      : allow_authorization_id_(allow_authorization_id) {}

  std::string_view type() const override { return "attribute_authentication"; }

  // The checks that need no user record come first: they take the same time for every
  // user name. From the directory lookup on, known and unknown users cost one Argon2id
  // verification each, so timing does not reveal who exists.
  FilterOutcome apply(EvaluationState& state) const override {
    const std::string_view id = get(state.attributes, attr::kSubjectId);
    const std::string_view password = get(state.attributes, attr::kSubjectPassword);
    const std::string_view authzid = get(state.attributes, attr::kAuthorizationId);
    if (id.empty()) return FilterOutcome::fail("empty authentication identity");
    if (password.empty()) return FilterOutcome::fail("empty password");
    // Any control character common::printable_line replaces (C0, DEL, C1 such as NEL,
    // U+2028/U+2029, bidirectional controls), as the node's SASL parser refuses them
    // (smtp::is_printable_identity; probe round 23): never an identity.
    if (common::printable_line(id, id.size()) != id) {
      return FilterOutcome::fail("control character in the authentication identity");
    }
    if (common::printable_line(authzid, authzid.size()) != authzid) {
      return FilterOutcome::fail("control character in the authorization identity");
    }
    // Both sides in SASLprep form (RFC 4616 §2, RFC 4013): the repository stores names
    // and password hashes prepared (config_store_policy.cc), so "ju\u0308rgen" finds
    // "jürgen" and an NFD password matches its NFC twin. A name stored before names were
    // prepared is still found as written; likewise a hash made of the unprepared password.
    const std::optional<std::string> prepared_id = saslprep(id, SaslprepUse::kQuery);
    const std::optional<std::string> prepared_password = saslprep(password, SaslprepUse::kQuery);
    std::optional<std::string> hash;
    if (prepared_id) hash = state.users.lookup(*prepared_id);
    if (!hash && prepared_id != id) hash = state.users.lookup(id);
    bool verified = false;
    if (hash) {
      verified = prepared_password && verify_password(*hash, *prepared_password);
      if (!verified && prepared_password != password) verified = verify_password(*hash, password);
    } else {
      spend_dummy_verification(password);
    }
    if (!hash) return FilterOutcome::fail("unknown user");
    if (!verified) return FilterOutcome::fail("wrong password");
    const bool same_identity =
        authzid == id || (prepared_id && saslprep(authzid, SaslprepUse::kQuery) == prepared_id);
    if (!authzid.empty() && !same_identity && !allow_authorization_id_) {
      return FilterOutcome::fail(
          "authorization identity differs from the authentication identity "
          "(allow_authorization_id is false)");
    }
    return FilterOutcome::pass();
  }

 private:
  bool allow_authorization_id_;
};

}  // namespace

std::unique_ptr<Filter> make_attribute_authentication_filter(FilterSpec& spec) {
  return std::make_unique<AttributeAuthenticationFilter>(
      spec.boolean("allow_authorization_id", false));
}

}  // namespace gw::controlplane::policy

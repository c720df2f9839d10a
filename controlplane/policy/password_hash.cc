// Argon2id hashing and verification through libargon2; salts from OpenSSL.
#include "controlplane/policy/password_hash.h"

#include <argon2.h>
#include <openssl/rand.h>

#include <array>
#include <charconv>
#include <vector>

namespace gw::controlplane::policy {
namespace {

constexpr std::size_t kSaltOctets = 16;
constexpr std::size_t kHashOctets = 32;

// Argon2id of a random password nobody kept, at kDefaultArgon2Cost. Only its cost
// matters: the unknown-user path fails whatever this verification says.
constexpr char kDummyHash[] =
    "$argon2id$v=19$m=65536,t=2,p=1$oE+wEGiwiuaf8sWe2pZPag$"
    "VTJ+c66nkrj0EzblSEazUsa0WOb2SGSnbIRjQ2oPKkk";

bool cost_ok(std::uint64_t m, std::uint64_t t, std::uint64_t p) {
  return p >= 1 && p <= 16 && t >= 1 && t <= 16 && m >= 8 && m <= 1048576 && m >= 8 * p;
}

bool is_b64(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
         c == '/';
}

// Octets encoded by an unpadded base64 field, or 0 if it is not one.
std::size_t b64_octets(std::string_view field) {
  for (char c : field) {
    if (!is_b64(c)) return 0;
  }
  if (field.size() % 4 == 1) return 0;
  return field.size() * 3 / 4;
}

// Reads "<key>=<decimal>" at the start of `s`, advancing it.
bool read_param(std::string_view& s, char key, std::uint64_t* value) {
  if (s.size() < 3 || s[0] != key || s[1] != '=') return false;
  const char* begin = s.data() + 2;
  const char* end = s.data() + s.size();
  auto [next, ec] = std::from_chars(begin, end, *value);
  if (ec != std::errc() || next == begin || (*begin == '0' && next - begin > 1)) return false;
  s.remove_prefix(static_cast<std::size_t>(next - s.data()));
  return true;
}

}  // namespace

std::optional<Argon2Cost> password_hash_cost(std::string_view encoded) {
  if (!is_password_hash(encoded)) return std::nullopt;
  std::string_view s = encoded.substr(std::string_view("$argon2id$v=19$").size());
  std::uint64_t m = 0, t = 0, p = 0;
  read_param(s, 'm', &m);
  s.remove_prefix(1);
  read_param(s, 't', &t);
  s.remove_prefix(1);
  read_param(s, 'p', &p);
  return Argon2Cost{static_cast<std::uint32_t>(m), static_cast<std::uint32_t>(t),
                    static_cast<std::uint32_t>(p)};
}

bool is_password_hash(std::string_view encoded) {
  constexpr std::string_view kPrefix = "$argon2id$v=19$";
  if (encoded.size() > 512 || encoded.substr(0, kPrefix.size()) != kPrefix) return false;
  std::string_view s = encoded.substr(kPrefix.size());
  std::uint64_t m = 0, t = 0, p = 0;
  if (!read_param(s, 'm', &m) || s.empty() || s[0] != ',') return false;
  s.remove_prefix(1);
  if (!read_param(s, 't', &t) || s.empty() || s[0] != ',') return false;
  s.remove_prefix(1);
  if (!read_param(s, 'p', &p) || s.empty() || s[0] != '$') return false;
  s.remove_prefix(1);
  if (!cost_ok(m, t, p)) return false;
  const auto dollar = s.find('$');
  if (dollar == std::string_view::npos) return false;
  const std::size_t salt = b64_octets(s.substr(0, dollar));
  const std::size_t hash = b64_octets(s.substr(dollar + 1));
  return salt >= 8 && hash >= 16 && hash <= 64;
}

Result<std::string, HashError> hash_password(std::string_view plaintext, const Argon2Cost& cost) {
  using boost::outcome_v2::failure;
  if (plaintext.empty()) return failure(HashError{"the password is empty"});
  if (!cost_ok(cost.memory_kib, cost.iterations, cost.parallelism)) {
    return failure(HashError{"Argon2id cost parameters out of range"});
  }
  std::array<unsigned char, kSaltOctets> salt{};
  if (RAND_bytes(salt.data(), static_cast<int>(salt.size())) != 1) {
    return failure(HashError{"the system's random generator failed"});
  }
  const std::size_t length = argon2_encodedlen(cost.iterations, cost.memory_kib, cost.parallelism,
                                               kSaltOctets, kHashOctets, Argon2_id);
  std::vector<char> encoded(length + 1, '\0');
  const int rc = argon2id_hash_encoded(cost.iterations, cost.memory_kib, cost.parallelism,
                                       plaintext.data(), plaintext.size(), salt.data(), salt.size(),
                                       kHashOctets, encoded.data(), encoded.size());
  if (rc != ARGON2_OK) {
    return failure(HashError{std::string("Argon2id hashing failed: ") + argon2_error_message(rc)});
  }
  return std::string(encoded.data());
}

bool verify_password(std::string_view encoded, std::string_view plaintext) {
  if (!is_password_hash(encoded)) {
    spend_dummy_verification(plaintext);
    return false;
  }
  const std::string hash(encoded);  // NUL-terminated for libargon2
  return argon2id_verify(hash.c_str(), plaintext.data(), plaintext.size()) == ARGON2_OK;
}

void spend_dummy_verification(std::string_view plaintext) {
  // The result is ignored on purpose; only the time spent matters.
  static_cast<void>(argon2id_verify(kDummyHash, plaintext.data(), plaintext.size()));
}

}  // namespace gw::controlplane::policy

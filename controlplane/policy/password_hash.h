// Password hashes of the authentication repository: Argon2id (RFC 9106) from Debian's
// libargon2, PHC string format, random salts from OpenSSL (DESIGN.md §7 "Secrets").
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "controlplane/policy/result.h"

namespace gw::controlplane::policy {

/// Argon2id cost parameters.
struct Argon2Cost {
  std::uint32_t memory_kib = 65536;  // m: 64 MiB per hash or verification
  std::uint32_t iterations = 2;      // t: passes over the memory
  std::uint32_t parallelism = 1;     // p: lanes (one thread: libargon2 built without threads)
};

/// The cost new hashes get: m=65536 KiB, t=2, p=1 — RFC 9106 §4's memory-hard profile
/// scaled to one lane, about 0.15 s of one core on the reference machine. Each concurrent
/// verification holds 64 MiB, so callers bound how many run at once.
inline constexpr Argon2Cost kDefaultArgon2Cost{};

/// A cost for tests only: m=1024 KiB, t=1 (milliseconds instead of a tenth of a second).
inline constexpr Argon2Cost kTestArgon2Cost{1024, 1, 1};

/// Why hashing failed (never carries the password).
struct HashError {
  std::string message;
};

/// Hashes `plaintext` with a fresh 16-octet salt from OpenSSL's RAND_bytes into
/// "$argon2id$v=19$m=65536,t=2,p=1$<salt b64>$<32-octet hash b64>" (PHC string format,
/// unpadded base64). Errors: empty password, cost outside what is_password_hash accepts,
/// CSPRNG or libargon2 failure.
Result<std::string, HashError> hash_password(std::string_view plaintext,
                                             const Argon2Cost& cost = kDefaultArgon2Cost);

/// True if `encoded` is an Argon2id hash this build accepts: "$argon2id$v=19$m=M,t=T,p=P$
/// salt$hash" with 8 <= M <= 1048576 KiB (1 GiB) and M >= 8·P, 1 <= T <= 16,
/// 1 <= P <= 16, a salt of at least 8 octets and a hash of 16..64 octets. The bounds keep
/// a stored value from making a verification take unbounded memory or time.
bool is_password_hash(std::string_view encoded);

/// The cost parameters of `encoded` when is_password_hash(encoded), else nullopt.
std::optional<Argon2Cost> password_hash_cost(std::string_view encoded);

/// The most a stored hash may cost per verification (imported with `gctl apply`): 256 MiB,
/// 10 passes, 4 lanes. Every AUTH for that user allocates the memory.
inline constexpr Argon2Cost kMaxStoredArgon2Cost{262144, 10, 4};

/// True if `plaintext` is the password of `encoded`. libargon2 compares the digests in
/// constant time. A malformed `encoded` is a mismatch, after a dummy verification so that
/// it takes as long as a real one. Thread-safe; costs one Argon2id computation.
bool verify_password(std::string_view encoded, std::string_view plaintext);

/// Spends one verification against a fixed dummy hash of the default cost and ignores the
/// result: the unknown-user path of attribute_authentication, so that the reply time does
/// not tell whether a user exists.
void spend_dummy_verification(std::string_view plaintext);

}  // namespace gw::controlplane::policy

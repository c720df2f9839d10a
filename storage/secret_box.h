// Encryption at rest for upstream credentials (DESIGN.md §7 "Secrets"): AES-256-GCM with a
// key kept in a file next to the database.
#pragma once

#include <array>
#include <filesystem>
#include <string>
#include <string_view>

#include "storage/result.h"

namespace gw::storage {

/// Seals and opens small secrets with AES-256-GCM (OpenSSL EVP).
///
/// Sealed format (stored as a BLOB): 1 octet format version (1), 12 octets random nonce,
/// the ciphertext (as long as the plaintext), 16 octets GCM tag. The associated data is the
/// constant "gw.secret.v1", so a sealed value can be moved between rows but not forged or
/// altered without the key. A fresh nonce per seal: sealing the same password twice gives
/// different BLOBs.
///
/// The key file holds the 32-octet key as 64 lower-case hex digits and a newline. It is
/// created on first start with mode 0600 (O_EXCL, so an existing file is never replaced).
/// Back it up with the database: without it stored passwords cannot be recovered.
/// Thread-safe after construction (seal/open are const and share no mutable state).
class SecretBox {
 public:
  static constexpr std::size_t kKeySize = 32;
  static constexpr std::size_t kNonceSize = 12;
  static constexpr std::size_t kTagSize = 16;
  static constexpr unsigned char kFormatVersion = 1;

  /// Loads the key from `path`, creating a new random key there when the file does not
  /// exist. Throws std::runtime_error when the file cannot be read or created, or does not
  /// hold exactly one key. Warns (log) when the file is readable by group or others.
  static SecretBox open_key_file(const std::filesystem::path& path);

  /// The key file that belongs to a database file: the same path with ".key" appended.
  static std::filesystem::path key_path_for(const std::filesystem::path& database_path);

  explicit SecretBox(const std::array<unsigned char, kKeySize>& key) : key_(key) {}
  SecretBox(const SecretBox&) = default;
  SecretBox& operator=(const SecretBox&) = default;
  ~SecretBox();

  /// Encrypts `plaintext`. Errors: kInternal when OpenSSL fails (no randomness).
  Result<std::string> seal(std::string_view plaintext) const;

  /// Decrypts a value made by seal() with the same key. Errors: kCorrupt when the value is
  /// truncated, of an unknown format, or fails authentication (wrong key, altered bytes).
  Result<std::string> open(std::string_view sealed) const;

 private:
  std::array<unsigned char, kKeySize> key_;
};

}  // namespace gw::storage

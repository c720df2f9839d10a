// AES-256-GCM sealing of stored secrets and the key file next to the database.
#include "storage/secret_box.h"

#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <memory>
#include <sstream>
#include <stdexcept>

namespace gw::storage {
namespace {

constexpr std::string_view kAssociatedData = "gw.secret.v1";

struct CipherCtxFree {
  void operator()(EVP_CIPHER_CTX* ctx) const noexcept { EVP_CIPHER_CTX_free(ctx); }
};
using CipherCtx = std::unique_ptr<EVP_CIPHER_CTX, CipherCtxFree>;

const unsigned char* bytes(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}
unsigned char* bytes(std::string& s) { return reinterpret_cast<unsigned char*>(s.data()); }

std::string to_hex(const std::array<unsigned char, SecretBox::kKeySize>& key) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : key) {
    out += kHex[c >> 4];
    out += kHex[c & 0xf];
  }
  return out;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string errno_text() { return std::strerror(errno); }

// Creates the key file atomically with its final permissions: O_EXCL never replaces a key
// another process just wrote, and mode 0600 is set at creation, not after.
bool create_key_file(const std::filesystem::path& path,
                     const std::array<unsigned char, SecretBox::kKeySize>& key) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    if (errno == EEXIST) return false;
    throw std::runtime_error("cannot create key file " + path.string() + ": " + errno_text());
  }
  std::string text = to_hex(key) + "\n";
  const char* p = text.data();
  std::size_t left = text.size();
  while (left > 0) {
    ssize_t n = ::write(fd, p, left);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      std::string why = errno_text();
      ::close(fd);
      ::unlink(path.c_str());
      throw std::runtime_error("cannot write key file " + path.string() + ": " + why);
    }
    p += n;
    left -= static_cast<std::size_t>(n);
  }
  bool synced = ::fsync(fd) == 0;
  ::close(fd);
  OPENSSL_cleanse(text.data(), text.size());
  if (!synced) throw std::runtime_error("cannot sync key file " + path.string());
  return true;
}

}  // namespace

std::filesystem::path SecretBox::key_path_for(const std::filesystem::path& database_path) {
  std::filesystem::path key = database_path;
  key += ".key";
  return key;
}

SecretBox SecretBox::open_key_file(const std::filesystem::path& path) {
  std::array<unsigned char, kKeySize> key{};
  if (!std::filesystem::exists(path)) {
    if (RAND_bytes(key.data(), static_cast<int>(key.size())) != 1) {
      throw std::runtime_error("no randomness for a new secret key");
    }
    if (create_key_file(path, key)) {
      spdlog::info("storage: created secret key file {}", path.string());
      SecretBox box(key);
      OPENSSL_cleanse(key.data(), key.size());
      return box;
    }
    // Lost a race with another process creating it: read theirs.
  }
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0 && (st.st_mode & 077) != 0) {
    spdlog::warn(
        "storage: key file {} is accessible by group or others (mode {:o}); "
        "chmod 600 it",
        path.string(), st.st_mode & 0777);
  }
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot read key file " + path.string());
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  if (text.size() != 2 * kKeySize) {
    throw std::runtime_error("key file " + path.string() + " does not hold a " +
                             std::to_string(kKeySize) + "-octet hex key");
  }
  for (std::size_t i = 0; i < kKeySize; ++i) {
    int hi = hex_value(text[2 * i]);
    int lo = hex_value(text[2 * i + 1]);
    if (hi < 0 || lo < 0) {
      throw std::runtime_error("key file " + path.string() + " holds a non-hex character");
    }
    key[i] = static_cast<unsigned char>(hi << 4 | lo);
  }
  OPENSSL_cleanse(text.data(), text.size());
  SecretBox box(key);
  OPENSSL_cleanse(key.data(), key.size());
  return box;
}

SecretBox::~SecretBox() { OPENSSL_cleanse(key_.data(), key_.size()); }

Result<std::string> SecretBox::seal(std::string_view plaintext) const {
  std::string out(1 + kNonceSize + plaintext.size() + kTagSize, '\0');
  out[0] = static_cast<char>(kFormatVersion);
  unsigned char* nonce = bytes(out) + 1;
  unsigned char* cipher = nonce + kNonceSize;
  if (RAND_bytes(nonce, static_cast<int>(kNonceSize)) != 1) {
    return fail(Errc::kInternal, "no randomness for a nonce");
  }
  CipherCtx ctx(EVP_CIPHER_CTX_new());
  int len = 0;
  if (!ctx || EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, nullptr, nullptr) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_IVLEN, static_cast<int>(kNonceSize),
                          nullptr) != 1 ||
      EVP_EncryptInit_ex(ctx.get(), nullptr, nullptr, key_.data(), nonce) != 1 ||
      EVP_EncryptUpdate(ctx.get(), nullptr, &len, bytes(kAssociatedData),
                        static_cast<int>(kAssociatedData.size())) != 1 ||
      EVP_EncryptUpdate(ctx.get(), cipher, &len, bytes(plaintext),
                        static_cast<int>(plaintext.size())) != 1 ||
      EVP_EncryptFinal_ex(ctx.get(), cipher + len, &len) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, static_cast<int>(kTagSize),
                          cipher + plaintext.size()) != 1) {
    return fail(Errc::kInternal, "AES-256-GCM encryption failed");
  }
  return out;
}

Result<std::string> SecretBox::open(std::string_view sealed) const {
  if (sealed.size() < 1 + kNonceSize + kTagSize) {
    return fail(Errc::kCorrupt, "sealed secret is truncated");
  }
  if (static_cast<unsigned char>(sealed[0]) != kFormatVersion) {
    return fail(Errc::kCorrupt, "sealed secret has unknown format " +
                                    std::to_string(static_cast<unsigned char>(sealed[0])));
  }
  const unsigned char* nonce = bytes(sealed) + 1;
  const unsigned char* cipher = nonce + kNonceSize;
  const std::size_t cipher_size = sealed.size() - 1 - kNonceSize - kTagSize;
  // GCM's tag is an input here; OpenSSL's ctrl takes a non-const pointer but only reads it.
  std::array<unsigned char, kTagSize> tag{};
  std::memcpy(tag.data(), cipher + cipher_size, kTagSize);

  std::string out(cipher_size, '\0');
  CipherCtx ctx(EVP_CIPHER_CTX_new());
  int len = 0;
  bool ok_so_far =
      ctx && EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, nullptr, nullptr) == 1 &&
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_IVLEN, static_cast<int>(kNonceSize),
                          nullptr) == 1 &&
      EVP_DecryptInit_ex(ctx.get(), nullptr, nullptr, key_.data(), nonce) == 1 &&
      EVP_DecryptUpdate(ctx.get(), nullptr, &len, bytes(kAssociatedData),
                        static_cast<int>(kAssociatedData.size())) == 1 &&
      EVP_DecryptUpdate(ctx.get(), bytes(out), &len, cipher, static_cast<int>(cipher_size)) == 1 &&
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, static_cast<int>(kTagSize),
                          tag.data()) == 1;
  int final_len = 0;
  if (!ok_so_far || EVP_DecryptFinal_ex(ctx.get(), bytes(out) + len, &final_len) != 1) {
    OPENSSL_cleanse(out.data(), out.size());
    return fail(Errc::kCorrupt, "sealed secret failed authentication (wrong key or altered)");
  }
  return out;
}

}  // namespace gw::storage

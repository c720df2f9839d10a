// Admin token check: bearer token in the call's metadata, SHA-256 compared in constant time.
#include "controlplane/admin_gate.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <cctype>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>

#include <spdlog/spdlog.h>

#include "common/logging.h"

namespace gw::controlplane {
namespace {

std::array<unsigned char, 32> sha256(std::string_view text) {
  std::array<unsigned char, 32> out{};
  unsigned int length = 0;
  if (EVP_Digest(text.data(), text.size(), out.data(), &length, EVP_sha256(), nullptr) != 1 ||
      length != out.size()) {
    throw std::runtime_error("SHA-256 failed");
  }
  return out;
}

}  // namespace

AdminGate::AdminGate(std::string_view token) {
  if (token.size() < kMinTokenLength) {
    throw std::invalid_argument("the admin token is shorter than " +
                                std::to_string(kMinTokenLength) + " characters");
  }
  if (token.size() > kMaxTokenLength) {
    throw std::invalid_argument("the admin token is longer than " +
                                std::to_string(kMaxTokenLength) + " characters");
  }
  for (char c : token) {
    if (c < 0x21 || c > 0x7e) {
      throw std::invalid_argument(
          "the admin token has a character other than visible ASCII (0x21-0x7E)");
    }
  }
  digest_ = sha256(token);
}

AdminGate AdminGate::from_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read admin token file " + path.string());
  std::string token((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) throw std::runtime_error("cannot read admin token file " + path.string());
  while (!token.empty() && (token.back() == '\n' || token.back() == '\r' ||
                            token.back() == ' ' || token.back() == '\t')) {
    token.pop_back();
  }
  try {
    return AdminGate(token);
  } catch (const std::invalid_argument& e) {
    throw std::invalid_argument(path.string() + ": " + e.what());
  }
}

std::optional<grpc::Status> AdminGate::refuse(const grpc::ServerContext& ctx,
                                              std::string_view method) const {
  if (!digest_) return std::nullopt;
  const auto& metadata = ctx.client_metadata();
  const auto it = metadata.find("authorization");
  if (it == metadata.end()) {
    spdlog::warn("admin call {} from {} refused: no admin token", method,
                 common::log_escape(ctx.peer(), 128));
    return grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                        "admin token required (gctl --token-file)");
  }
  std::string_view value(it->second.data(), it->second.size());
  constexpr std::string_view kScheme = "Bearer ";
  bool ok = false;
  if (value.size() > kScheme.size()) {
    // The scheme name is case-insensitive (RFC 9110 §11.1).
    std::string scheme(value.substr(0, kScheme.size()));
    for (char& c : scheme) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (scheme == "bearer ") {
      const auto presented = sha256(value.substr(kScheme.size()));
      ok = CRYPTO_memcmp(presented.data(), digest_->data(), presented.size()) == 0;
    }
  }
  if (ok) return std::nullopt;
  spdlog::warn("admin call {} from {} refused: wrong admin token", method,
               common::log_escape(ctx.peer(), 128));
  return grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "admin token refused");
}

}  // namespace gw::controlplane

// Errors as values for the control plane's domain layer; grpc::Status appears only at the
// gRPC edge (grpc_status.h).
#pragma once

#include <boost/outcome/result.hpp>
#include <boost/outcome/success_failure.hpp>

#include <chrono>
#include <cstdint>
#include <string>
#include <utility>

#include "storage/result.h"

namespace gw::controlplane {

/// Outcome classes of an admin, node or decision request; each maps to one gRPC code.
enum class Code {
  kInvalidArgument = 1,  // a field is malformed or out of range
  kNotFound,             // unknown service, interface or node
  kAlreadyExists,        // duplicate service or certificate name, address:port already used
  kFailedPrecondition,   // the change would leave a dangling reference (certificate in use)
  kUnavailable,          // shutting down or overloaded; the caller may retry
  kInternal,             // storage failure
};

/// A failure with a one-line message for the operator (never a secret).
struct Error {
  Code code = Code::kInternal;
  std::string message;
};

/// A T or an Error; reading the wrong side aborts (programming error).
template <class T>
using Result = boost::outcome_v2::result<T, Error, boost::outcome_v2::policy::terminate>;

inline auto fail(Code code, std::string message) {
  return boost::outcome_v2::failure(Error{code, std::move(message)});
}
inline auto ok() { return boost::outcome_v2::success(); }

/// Maps a storage failure onto the domain's codes, keeping its message.
inline Error from_storage(const storage::Error& error) {
  switch (error.code) {
    case storage::Errc::kNotFound:
      return {Code::kNotFound, error.message};
    case storage::Errc::kAlreadyExists:
      return {Code::kAlreadyExists, error.message};
    case storage::Errc::kConstraint:
      return {Code::kInvalidArgument, error.message};
    case storage::Errc::kBusy:
      return {Code::kUnavailable, error.message};
    case storage::Errc::kCorrupt:
    case storage::Errc::kInternal:
      break;
  }
  return {Code::kInternal, error.message};
}

/// Wall-clock milliseconds since the Unix epoch (created_at_ms, last_seen_ms, ...).
inline std::int64_t unix_now_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

}  // namespace gw::controlplane

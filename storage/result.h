// Errors as values for the storage layer: expected failures (not found, duplicate, SQLite
// busy or I/O errors) come back as a Result, never as an exception (STYLE.md "Errors").
#pragma once

#include <boost/outcome/result.hpp>
#include <boost/outcome/success_failure.hpp>

#include <string>
#include <utility>

namespace gw::storage {

/// What went wrong, coarse enough for a caller to map onto an API status.
enum class Errc {
  kNotFound = 1,   // the row (or the parent row a new row refers to) does not exist
  kAlreadyExists,  // a UNIQUE or PRIMARY KEY constraint refused the write
  kConstraint,     // another constraint (CHECK, NOT NULL, FOREIGN KEY) refused the write
  kBusy,           // the database stayed locked longer than busy_timeout
  kCorrupt,        // stored data cannot be decoded (e.g. a sealed secret fails to open)
  kInternal,       // any other SQLite or OpenSSL failure
};

/// An expected failure: a code plus a one-line message meant for an operator (no secrets).
struct Error {
  Errc code = Errc::kInternal;
  std::string message;
};

/// `Result<T>` holds a T or an Error. Reading value() of a failed result (or error() of a
/// successful one) aborts: that is a programming error, not an expected failure.
template <class T>
using Result = boost::outcome_v2::result<T, Error, boost::outcome_v2::policy::terminate>;

/// Returns a failed result convertible to any Result<T>.
inline auto fail(Errc code, std::string message) {
  return boost::outcome_v2::failure(Error{code, std::move(message)});
}

/// The success value of Result<void>.
inline auto ok() { return boost::outcome_v2::success(); }

}  // namespace gw::storage

// Result type of the policy library: a value or a typed error, without exceptions on the
// decision path (STYLE.md "Errors").
#pragma once

#include <boost/outcome/result.hpp>
#include <boost/outcome/success_failure.hpp>

namespace gw::controlplane::policy {

/// A T or an E; reading the wrong side aborts (programming error).
template <class T, class E>
using Result = boost::outcome_v2::result<T, E, boost::outcome_v2::policy::terminate>;

}  // namespace gw::controlplane::policy

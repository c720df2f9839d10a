// The one place the data plane includes Boost.Asio. Boost 1.74's awaitable.hpp uses
// std::exchange without including <utility>, so <utility> must come first (STYLE.md).
//
// g++ 12 trap found here: `if (!co_await f())` on an awaitable<bool> can miscompile the
// enclosing coroutine (its `this` read back as null at entry: relay_session_test's
// StarttlsOnTcpInterfaceIsRefused caught it). Always await into a named local first.
#pragma once

// clang-format off
#include <utility>
#include <boost/asio.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/ssl.hpp>
// clang-format on

namespace gw::dataplane {
namespace asio = boost::asio;
using tcp = asio::ip::tcp;
template <typename T = void>
using awaitable = asio::awaitable<T>;
}  // namespace gw::dataplane

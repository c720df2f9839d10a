// The one place the data plane includes Boost.Asio. Boost 1.74's awaitable.hpp uses
// std::exchange without including <utility>, so <utility> must come first (STYLE.md).
//
// g++ 12 trap found here: `if (!co_await f())` on an awaitable<bool> can miscompile the
// enclosing coroutine (its `this` read back as null at entry: relay_session_test's
// StarttlsOnTcpInterfaceIsRefused caught it). Always await into a named local first.
#pragma once

// clang-format off
#include <utility>
#include <chrono>
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

/// The executor of every session, socket, timer and coroutine of the data plane: an
/// io_context's own executor, a concrete type. Asio's default (`any_io_executor`, a
/// type-erased wrapper) copies, converts and destroys itself on every asynchronous
/// operation: 5% of grelayd's CPU per relayed message in the close-mode benchmark
/// (tests/bench/README.md, session 14). No strands: with --threads N each thread runs an
/// io_context of its own and a session lives on one of them (NodeIdentity).
using Executor = asio::io_context::executor_type;
template <typename T = void>
using awaitable = asio::awaitable<T, Executor>;
/// The completion token for awaitable<T> (Asio's asio::use_awaitable is for the default
/// executor).
inline constexpr asio::use_awaitable_t<Executor> use_awaitable{};
using Socket = asio::basic_stream_socket<tcp, Executor>;
using Acceptor = asio::basic_socket_acceptor<tcp, Executor>;
using Resolver = asio::ip::basic_resolver<tcp, Executor>;
using SteadyTimer =
    asio::basic_waitable_timer<std::chrono::steady_clock,
                               asio::wait_traits<std::chrono::steady_clock>, Executor>;
}  // namespace gw::dataplane

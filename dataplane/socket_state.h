// What Asio records about a socket's descriptor, set from what the data plane knows, so that
// Asio skips system calls it would otherwise make to find out or to be safe.
#pragma once

#include "dataplane/asio.h"

namespace gw::dataplane {

/// Tells Asio that `socket`'s descriptor is the only one referring to its open file (not a
/// dup()), so that closing it needs no EPOLL_CTL_DEL: the kernel drops a closed descriptor
/// from the epoll set by itself. Asio assumes a possible dup for every socket it did not
/// open itself, accepted ones included (one epoll_ctl per client connection, relay
/// benchmark, session 23). Only for a descriptor nobody dup()s. No effect where Asio's
/// reactive socket state is not the one of Boost 1.74 (other versions, non-epoll).
void mark_sole_descriptor(Socket& socket);

/// Whether mark_read_drained(), input_reported() and reads_rearm_epoll() know Asio's
/// reactor (Boost 1.74 with epoll). When false they do nothing, say true and say false.
[[nodiscard]] bool tracks_reported_input();

/// Records that `socket`'s receive queue is empty: a non-blocking recv() on it just failed
/// with EAGAIN (only then: a recv() that returns fewer octets than asked may have stopped at
/// an urgent mark or before the peer's FIN, with no new epoll report to come; probe round
/// 53). Asio's reactor then tries no recv() for the next read until epoll reports the socket
/// readable again (octets, a FIN, an error); Boost 1.74 otherwise tries one before every
/// read that waits, and it finds nothing. Preconditions (violating them can lose a readiness
/// report and stall the socket until its timeout): `socket`'s io_context is run by one
/// thread (grelayd: one io_context per thread) and no reactor run happened between that
/// recv() and this call (call it right after the recv()).
void mark_read_drained(Socket& socket);

/// True if epoll reported `socket` readable (octets, FIN, error) since mark_read_drained(),
/// as of the reactor's last run; also true when unknown (never drained, or
/// !tracks_reported_input()).
[[nodiscard]] bool input_reported(Socket& socket);

/// True if a wait_error is pending on `socket`: Asio then starts every read with an
/// EPOLL_CTL_MOD that makes epoll report octets already queued, and tries no recv() first.
[[nodiscard]] bool reads_rearm_epoll(Socket& socket);

/// Opens a TCP socket for `protocol` that is non-blocking and close-on-exec from the start
/// (socket(2) with SOCK_NONBLOCK | SOCK_CLOEXEC), with TCP_NODELAY set (SMTP is
/// request/response: STYLE.md "Performance habits"), and gives it to `socket` (which must be
/// closed; registers it with the reactor). Asio is told the descriptor is already
/// non-blocking and not a dup, so its first asynchronous operation makes no FIONBIO ioctl.
/// Returns the error of socket(2) or of the registration (the socket stays closed then).
boost::system::error_code open_nonblocking(Socket& socket, const tcp& protocol);

/// Starts a non-blocking connect(2) of `socket` (opened by open_nonblocking) to `peer`
/// without waiting for it: success and "in progress" both return no error; the caller
/// learns the outcome from its first read or write (a refused or unreachable peer fails that
/// operation with the connect's error: ECONNREFUSED, EHOSTUNREACH, ETIMEDOUT...). For an
/// SMTP server, whose banner is the first thing on the connection, this saves Asio's
/// connect operation (an EPOLLOUT registration, a poll and a getsockopt per connection).
/// Returns connect(2)'s error for anything else (EADDRNOTAVAIL, ENETUNREACH at once...).
boost::system::error_code start_connect(Socket& socket, const tcp::endpoint& peer);

/// The outcome of a connect started by start_connect() once the socket is writable: its
/// pending error (SO_ERROR, which this clears), or none.
boost::system::error_code connect_result(Socket& socket);

/// True if `ec`, from the first read on a socket whose connect was started by
/// start_connect(), says the connection was never established (refused, unreachable, timed
/// out) rather than established and then closed or reset.
[[nodiscard]] bool is_connect_error(const boost::system::error_code& ec);

}  // namespace gw::dataplane

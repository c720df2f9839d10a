// Asio socket state bookkeeping (see socket_state.h).
#include "dataplane/socket_state.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/version.hpp>
#include <cerrno>

namespace gw::dataplane {

namespace {

// Boost 1.74's reactive sockets keep their mode bits in the implementation's `state_`
// (socket_ops::internal_non_blocking, possible_dup), reached through basic_socket's
// protected `impl_`: a pointer to member taken in a derived class's scope is the standard
// way to name it. Other Boost versions or reactors keep the default behaviour.
#if BOOST_VERSION >= 107400 && BOOST_VERSION < 107500 && defined(BOOST_ASIO_HAS_EPOLL)
constexpr bool kKnownAsio = true;
struct SocketAccess : Socket {
  static asio::detail::socket_ops::state_type& state(Socket& s) {
    return (s.*(&SocketAccess::impl_)).get_implementation().state_;
  }
};
void clear_possible_dup(Socket& s) {
  SocketAccess::state(s) &= static_cast<asio::detail::socket_ops::state_type>(
      ~asio::detail::socket_ops::possible_dup);
}
void note_internal_non_blocking(Socket& s) {
  SocketAccess::state(s) |= asio::detail::socket_ops::internal_non_blocking;
}

// The reactor's per-descriptor record keeps, per operation type, whether the next operation
// may be tried at once (`try_speculative_`, private). Naming a private member in the
// template argument of an explicit instantiation is allowed ([temp.spec.general]): the
// instantiation defines a friend that hands the member pointer out.
using DescriptorState = asio::detail::epoll_reactor::descriptor_state;
using SpeculativeFlags = bool[asio::detail::epoll_reactor::max_ops];
SpeculativeFlags DescriptorState::*try_speculative_member();
template <SpeculativeFlags DescriptorState::*Member>
struct TrySpeculativeAccess {
  friend SpeculativeFlags DescriptorState::*try_speculative_member() { return Member; }
};
template struct TrySpeculativeAccess<&DescriptorState::try_speculative_>;

struct ReactorAccess : Socket {
  static DescriptorState* descriptor(Socket& s) {
    return (s.*(&ReactorAccess::impl_)).get_implementation().reactor_data_;
  }
};
bool* read_may_be_tried(Socket& s) {
  DescriptorState* d = ReactorAccess::descriptor(s);
  if (d == nullptr) return nullptr;
  return &(d->*try_speculative_member())[asio::detail::epoll_reactor::read_op];
}

// The same for the per-type queues of pending operations (`op_queue_`, private).
using OperationQueues =
    asio::detail::op_queue<asio::detail::reactor_op>[asio::detail::epoll_reactor::max_ops];
OperationQueues DescriptorState::*op_queue_member();
template <OperationQueues DescriptorState::*Member>
struct OpQueueAccess {
  friend OperationQueues DescriptorState::*op_queue_member() { return Member; }
};
template struct OpQueueAccess<&DescriptorState::op_queue_>;

bool except_pending(Socket& s) {
  DescriptorState* d = ReactorAccess::descriptor(s);
  return d != nullptr && !(d->*op_queue_member())[asio::detail::epoll_reactor::except_op].empty();
}
#else
constexpr bool kKnownAsio = false;
void clear_possible_dup(Socket&) {}
void note_internal_non_blocking(Socket&) {}
bool* read_may_be_tried(Socket&) { return nullptr; }
bool except_pending(Socket&) { return false; }
#endif

}  // namespace

bool tracks_reported_input() { return kKnownAsio; }

void mark_read_drained(Socket& socket) {
  if (bool* flag = read_may_be_tried(socket)) *flag = false;
}

bool input_reported(Socket& socket) {
  const bool* flag = read_may_be_tried(socket);
  return flag == nullptr || *flag;
}

bool reads_rearm_epoll(Socket& socket) { return except_pending(socket); }

void mark_sole_descriptor(Socket& socket) {
  if (socket.is_open()) clear_possible_dup(socket);
}

boost::system::error_code open_nonblocking(Socket& socket, const tcp& protocol) {
  boost::system::error_code ec;
  const int fd = ::socket(protocol.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
                          IPPROTO_TCP);
  if (fd < 0) return {errno, boost::system::system_category()};
  const int one = 1;
  (void)::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  socket.assign(protocol, fd, ec);
  if (ec) {
    ::close(fd);
    return ec;
  }
  clear_possible_dup(socket);
  if (kKnownAsio) {
    note_internal_non_blocking(socket);
  } else {
    socket.non_blocking(true, ec);  // what Asio's first operation would do anyway
  }
  return ec;
}

boost::system::error_code start_connect(Socket& socket, const tcp::endpoint& peer) {
  if (::connect(socket.native_handle(), peer.data(), static_cast<socklen_t>(peer.size())) == 0 ||
      errno == EINPROGRESS) {
    return {};
  }
  return {errno, boost::system::system_category()};
}

boost::system::error_code connect_result(Socket& socket) {
  int error = 0;
  socklen_t size = sizeof error;
  if (::getsockopt(socket.native_handle(), SOL_SOCKET, SO_ERROR, &error, &size) != 0) error = errno;
  if (error == 0) return {};
  return {error, boost::system::system_category()};
}

bool is_connect_error(const boost::system::error_code& ec) {
  if (ec.category() != boost::system::system_category()) return false;
  switch (ec.value()) {
    case ECONNREFUSED:
    case EHOSTUNREACH:
    case ENETUNREACH:
    case EHOSTDOWN:
    case ENETDOWN:
    case ETIMEDOUT:
    case EADDRNOTAVAIL:
      return true;
    default:
      return false;
  }
}

}  // namespace gw::dataplane

// Why gctl could not open its channel to a control plane it reaches over TCP: gRPC 1.51
// reports every TLS failure as "not connected", so gctl repeats the TLS handshake itself
// with OpenSSL to name the cause (issue 3; probe round 39).
#pragma once

#include <chrono>
#include <string>

#include "cli/admin_channel.h"

namespace gw::cli {

/// After connect_control_plane() failed: first checks gctl's own TLS files (a --tls-ca or
/// --tls-cert without a PEM certificate, a --tls-key without an unencrypted PEM key or
/// not the certificate's), then connects to `options.server` over TCP (plain
/// "host:port", "[v6]:port" or "dns:///host:port" targets only) and, within `timeout`
/// in all, finds out what went wrong with TLS:
///  - with --tls-ca: the server does not speak TLS; its certificate does not chain to the
///    CA (OpenSSL's verify error); it does not name the host (RFC 6125 via OpenSSL's host
///    or IP check); or it refused the handshake or our client certificate (its alert);
///  - without --tls-ca: the server answers the HTTP/2 preface with a TLS alert (it wants TLS).
/// Returns one lower-case phrase without a trailing period, e.g. "gctld's certificate is
/// not trusted (certificate has expired)", or "" when TCP fails too, the target has another
/// form, or nothing wrong was seen. Never throws; reads the TLS files again (an unreadable
/// file gives ""); never prints a file's content.
std::string diagnose_unreachable(const ChannelOptions& options,
                                 std::chrono::milliseconds timeout = std::chrono::seconds(2));

}  // namespace gw::cli

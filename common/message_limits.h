// Size bounds shared by the control plane and the relay nodes.
#pragma once

#include <cstdint>

namespace gw::common {

/// The largest `max_message_size` a service may be given, in octets (512 MiB). A DATA
/// decision carries the whole message in one gRPC message, so the bound keeps that within
/// what both ends accept (kMaxDecisionRpcBytes) and within gRPC's int32 message sizes.
inline constexpr std::uint64_t kMaxMessageSizeLimit = 512ull * 1024 * 1024;

/// gRPC's receive limit on both ends of the decision RPCs, in octets: the largest message
/// plus room for the request's other fields (attributes, recipients). gRPC's default is
/// 4 MiB, which made every DATA decision on a larger message fail (451 4.3.0).
inline constexpr int kMaxDecisionRpcBytes = static_cast<int>(kMaxMessageSizeLimit + 16 * 1024 * 1024);

/// The largest `max_command_line` and `max_auth_line` a service may be given, in octets
/// including CRLF. A relay node buffers a command line whole in a 64 KiB input buffer and
/// treats anything longer than 64 KiB without a CRLF as an attack (421 4.7.0 and close,
/// field case BR-12), so both limits must stay well below that: a larger limit would
/// fill the buffer before the line could be refused with 500 5.5.2. 32 KiB is more than
/// RFC 5321 §4.5.3.1.4 (512) and RFC 4954 §4 (12288) ask for.
inline constexpr std::uint32_t kMaxCommandLineLimit = 32 * 1024;

/// The largest whole configuration gctl sends (`apply -f`), in octets: 64 MiB, some 500,000
/// users. gRPC's default 4 MiB made `export` of about 35,000 users fail, so its output could
/// not be applied back (probe round 17). gctl receives without a limit (`export`, long
/// listings); gctld receives up to kMaxDecisionRpcBytes, sends without a limit, and keeps
/// the policies within half of this (controlplane kMaxPolicyTextOctets).
inline constexpr int kMaxConfigurationBytes = 64 * 1024 * 1024;

}  // namespace gw::common

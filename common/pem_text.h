// The PEM blocks of a certificate or key file (RFC 7468): what gctl sends to gctld, and
// what gctld compares when apply meets a stored certificate.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace gw::common {

/// The PEM blocks of `text` ("-----BEGIN LABEL-----" through "-----END LABEL-----", each
/// line ending in LF), in file order, without the explanatory text around them, which RFC
/// 7468 §2 allows in any encoding and which could not travel in a proto string field. nullopt
/// with `why` set when there is no complete block (a DER file, say) or a block holds octets
/// outside printable ASCII.
std::optional<std::string> pem_blocks(std::string_view text, std::string& why);

}  // namespace gw::common

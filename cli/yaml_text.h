// YAML helpers shared by gctl's printers and its configuration files: which strings need
// quotes, emitting a parsed node without changing what it means, and YAML → JSON.
#pragma once

#include <yaml-cpp/yaml.h>
#include <nlohmann/json.hpp>

#include <string>
#include <string_view>

namespace gw::cli {

/// True if `text`, written as a plain (unquoted) YAML scalar, would be read back as
/// something other than that string under the YAML 1.1 or 1.2 core schema: "", "~", "null",
/// booleans ("true", "yes", "off", ...), numbers ("25", "0x1f", "1e3", ".inf"), timestamps,
/// sexagesimal numbers. Such strings are written double-quoted.
/// Also true for every yaml11_misreads_plain() string.
bool yaml_needs_quotes(const std::string& text);

/// True if a YAML 1.1 reader (PyYAML) would misread `text` written plain although YAML 1.2
/// readers (yaml-cpp) read it back: "<<" (the merge key), "=" (the value key), and text
/// holding a C1 control
/// (U+0080-U+009F: NEL is a line break in 1.1) or U+2028/U+2029 (probe round 47). Written
/// double-quoted, where yaml-cpp escapes C1 controls and yaml_escape_del() the other two.
bool yaml11_misreads_plain(std::string_view text);

/// `yaml` (an emitted document) with every DEL octet written as the escape "\x7f": YAML
/// allows DEL only escaped, inside double quotes, which is how yaml_needs_quotes() makes
/// every string holding one be emitted (probe round 6: other readers refused the export).
/// U+2028 and U+2029 likewise become "\u2028" and "\u2029" (YAML 1.1 line breaks, which
/// would be folded to a space inside the quotes).
std::string yaml_escape_del(std::string yaml);

/// Writes `node` (as yaml-cpp parsed it) to `out` so that it reads back with the same
/// meaning. YAML::Dump does not: it writes the quoted scalar `"true"` as the boolean `true`
/// and '25' as the number 25. Here a scalar that was quoted in the source (or tagged) and
/// looks like a non-string is double-quoted; plain scalars stay plain; flow collections stay
/// flow. Comments, anchors and tags of the source are not kept.
void emit_yaml_node(YAML::Emitter& out, const YAML::Node& node);

/// The block-style text of emit_yaml_node(node), ending in '\n'; "" for an undefined or null
/// node. Throws std::runtime_error if the emitter fails.
std::string yaml_node_text(const YAML::Node& node);

/// True if walking `node` (keys and values, every alias walked again where it is used)
/// visits more than `limit` nodes; stops counting there, so it costs at most `limit` steps.
/// Aliases share what they point to, so a short file can stand for billions of nodes
/// ("billion laughs"): every later walk of such a tree would take that long (probe round
/// 39: eight levels of ten aliases kept gctl busy for seconds before its error).
bool yaml_expands_beyond(const YAML::Node& node, std::size_t limit);

/// Repairs, in place, what yaml-cpp 0.7 makes of the YAML 1.2 escapes "\N" (U+0085) and
/// "\_" (U+00A0) in double-quoted scalars: single octets 0x85 and 0xA0 instead of their
/// UTF-8 (C2 85, C2 A0), which then failed as "not UTF-8 text" (probe round 34). Call on
/// a tree parsed from valid UTF-8 text: any such lone octet in it came from those escapes.
/// Keys and values, tags kept. Recursion as deep as the tree (yaml-cpp's parser stops at
/// 2,000 levels).
void repair_yaml_escapes(YAML::Node node);

/// `node` as JSON: maps → objects (keys as text), sequences → arrays, quoted scalars →
/// strings, plain scalars resolved by the YAML 1.2 core schema (null, true/false, decimal
/// integers that fit 64 bits, decimal floats; anything else stays a string).
nlohmann::ordered_json yaml_to_json(const YAML::Node& node);

}  // namespace gw::cli

// Tests of the YAML helpers: quoting, faithful re-emission, YAML → JSON.
#include "cli/yaml_text.h"

#include <gtest/gtest.h>

namespace gw::cli {
namespace {

TEST(YamlNeedsQuotes, NonStringsAndOnlyThose) {
  for (const char* s : {"", "~", "null", "true", "False", "yes", "off", "y", "25", "-1.5", "1e3",
                        "0x1F", ".inf", ".NaN", "2024-01-02", "1:30", "1.3",
                        "::1/128", ":x"}) {  // a leading colon: for YAML 1.1 readers
    EXPECT_TRUE(yaml_needs_quotes(s)) << s;
  }
  for (const char* s :
       {"corp", "truth", "*@example.com", "550 5.7.1 no", "10.0.0.0/8", "v1.2.3", "127.0.0.1"}) {
    EXPECT_FALSE(yaml_needs_quotes(s)) << s;
  }
}

TEST(EmitYamlNode, KeepsMeaningWhereYamlDumpDoesNot) {
  const YAML::Node node = YAML::Load(
      "- type: \"true\"\n  n: '25'\n  m: 25\n  b: true\n  s: plain text\n"
      "  when: {attribute: a, wildcard: \"*.x\"}\n  list: [a, b]\n  empty: []\n");
  EXPECT_EQ(yaml_node_text(node),
            "- type: \"true\"\n  n: \"25\"\n  m: 25\n  b: true\n  s: plain text\n"
            "  when: {attribute: a, wildcard: \"*.x\"}\n  list: [a, b]\n  empty: []\n");
  // Read back: the same scalars with the same quoting decisions.
  const YAML::Node again = YAML::Load(yaml_node_text(node));
  EXPECT_EQ(again[0]["type"].Tag(), "!");
  EXPECT_EQ(again[0]["m"].Tag(), "?");
}

TEST(EmitYamlNode, DelIsEscapedInsideDoubleQuotes) {
  // YAML allows DEL only escaped (probe round 6: PyYAML refused the export).
  YAML::Node node;
  node["value"] = std::string("a\x7f" "b");
  const std::string text = yaml_node_text(node);
  EXPECT_EQ(text.find('\x7f'), std::string::npos) << text;
  EXPECT_NE(text.find("\"a\\x7fb\""), std::string::npos) << text;
  EXPECT_EQ(YAML::Load(text)["value"].as<std::string>(), std::string("a\x7f" "b"));
}

TEST(EmitYamlNode, TextYaml11ReadersMisreadIsQuotedAndReadsBack) {
  // Probe round 47: PyYAML refused an export with a plain "<<" (merge key) or a value
  // starting with NEL (a YAML 1.1 line break).
  const std::string nel = "\xc2\x85nel";
  const std::string separators = "a\xe2\x80\xa8" "b\xe2\x80\xa9" "c";
  for (const std::string& s :
       {std::string("<<"), std::string("="), nel, separators, std::string("x\xc2\x9f")}) {
    EXPECT_TRUE(yaml11_misreads_plain(s)) << s;
    EXPECT_TRUE(yaml_needs_quotes(s)) << s;
    // As text() and emit_yaml_node() write it, plain or quoted in the source.
    for (const YAML::Node& node : {YAML::Node(s), YAML::Load("\"" + s + "\"")}) {
      YAML::Node doc;
      doc["value"] = node;
      const std::string text = yaml_escape_del(yaml_node_text(doc));
      EXPECT_NE(text.find("value: \""), std::string::npos) << text;
      EXPECT_EQ(text.find("\xc2\x85"), std::string::npos) << text;
      EXPECT_EQ(text.find("\xe2\x80\xa8"), std::string::npos) << text;
      YAML::Node back = YAML::Load(text);
      repair_yaml_escapes(back);
      EXPECT_EQ(back["value"].as<std::string>(), s) << text;
    }
  }
  for (const char* s : {"<", "<<<", "a<<b", "==", "a=b", "\xc2\xa0nbsp", "caf\xc3\xa9", "\xe2\x80\x94"}) {
    EXPECT_FALSE(yaml11_misreads_plain(s)) << s;
  }
}

TEST(EmitYamlNode, NullAndUndefinedGiveNoText) {
  EXPECT_EQ(yaml_node_text(YAML::Node()), "");
  EXPECT_EQ(yaml_node_text(YAML::Load("~")), "");
}

TEST(RepairYamlEscapes, LoneU0085AndU00A0OctetsBecomeUtf8) {
  YAML::Node root = YAML::Load("{\"k\\_\": \"a\\_b\\Nc\", plain: \xc3\x85\xc2\xa0, s: [\"\\N\"]}");
  repair_yaml_escapes(root);
  EXPECT_EQ(root["k\xc2\xa0"].Scalar(), "a\xc2\xa0" "b\xc2\x85" "c");
  EXPECT_EQ(root["k\xc2\xa0"].Tag(), "!");  // still a quoted scalar: a string
  EXPECT_EQ(root["plain"].Scalar(), "\xc3\x85\xc2\xa0");  // valid UTF-8 untouched
  EXPECT_EQ(root["s"][0].Scalar(), "\xc2\x85");
  EXPECT_EQ(yaml_to_json(root["s"]).dump(), "[\"\xc2\x85\"]");  // a JSON string, valid UTF-8
}

TEST(YamlToJson, ResolvesPlainScalarsOnly) {
  const auto json = yaml_to_json(
      YAML::Load("a: \"true\"\nb: true\nc: 25\nd: '25'\ne: 1.5\nf: ~\ng: text\nh: [1, x]\n"
                 "i: 99999999999999999999\nj: yes\n"));
  EXPECT_EQ(json.dump(),
            R"({"a":"true","b":true,"c":25,"d":"25","e":"1.5","f":null,"g":"text","h":[1,"x"],)"
            R"("i":"99999999999999999999","j":"yes"})");
  // Only numbers JSON gives back as written (probe round 20: "007" became 7, 1e3 1000.0).
  EXPECT_EQ(yaml_to_json(YAML::Load("[007, +5, 1.50, 1e3, -0, -12, 0, TRUE, False, true]")).dump(),
            R"(["007","+5","1.50","1e3","-0",-12,0,"TRUE","False",true])");
}

}  // namespace
}  // namespace gw::cli

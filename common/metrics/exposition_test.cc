// Tests of the Prometheus text writer: layout, escaping, number forms, refused names.
#include "common/metrics/exposition.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <stdexcept>

namespace gw::metrics {
namespace {

TEST(ExpositionWriter, FamilyHasHelpTypeAndSamples) {
  ExpositionWriter out;
  out.family("gw_sessions_total", MetricType::kCounter, "Sessions accepted.");
  out.sample("gw_sessions_total", {{"service", "mx"}}, std::uint64_t{3});
  out.sample("gw_sessions_total", {{"service", "out"}, {"interface", "7"}}, std::uint64_t{0});
  out.single("gw_up", MetricType::kGauge, "Up.", std::uint64_t{1});
  EXPECT_EQ(out.text(),
            "# HELP gw_sessions_total Sessions accepted.\n"
            "# TYPE gw_sessions_total counter\n"
            "gw_sessions_total{service=\"mx\"} 3\n"
            "gw_sessions_total{service=\"out\",interface=\"7\"} 0\n"
            "# HELP gw_up Up.\n"
            "# TYPE gw_up gauge\n"
            "gw_up 1\n");
}

TEST(ExpositionWriter, EscapesLabelValuesAndHelp) {
  ExpositionWriter out;
  out.family("m", MetricType::kGauge, "a \\ b\nc \"q\"");
  out.sample("m", {{"l", "x\"y\\z\nw"}}, std::int64_t{-2});
  EXPECT_EQ(out.text(),
            "# HELP m a \\\\ b\\nc \"q\"\n"
            "# TYPE m gauge\n"
            "m{l=\"x\\\"y\\\\z\\nw\"} -2\n");
}

TEST(ExpositionWriter, LabelValuesThatAreNotUtf8AreMadeAscii) {
  ExpositionWriter out;
  out.family("m", MetricType::kGauge, "m");
  out.sample("m", {{"node_id", "bad\xff" "id"}, {"ok", "gr\xc3\xbc\xc3\x9f" "e"}}, 1.0);
  EXPECT_EQ(out.text(), "# HELP m m\n# TYPE m gauge\nm{node_id=\"bad?id\",ok=\"gr\xc3\xbc\xc3\x9f" "e\"} 1\n");
}

TEST(ExpositionWriter, NumberForms) {
  ExpositionWriter out;
  out.family("v", MetricType::kGauge, "v");
  out.sample("v", {{"k", "int"}}, 42.0);
  out.sample("v", {{"k", "frac"}}, 0.125);
  out.sample("v", {{"k", "inf"}}, std::numeric_limits<double>::infinity());
  out.sample("v", {{"k", "ninf"}}, -std::numeric_limits<double>::infinity());
  out.sample("v", {{"k", "nan"}}, std::nan(""));
  out.sample("v", {{"k", "big"}}, std::uint64_t{18446744073709551615ULL});
  EXPECT_NE(out.text().find("v{k=\"int\"} 42\n"), std::string::npos);
  EXPECT_NE(out.text().find("v{k=\"frac\"} 0.125\n"), std::string::npos);
  EXPECT_NE(out.text().find("v{k=\"inf\"} +Inf\n"), std::string::npos);
  EXPECT_NE(out.text().find("v{k=\"ninf\"} -Inf\n"), std::string::npos);
  EXPECT_NE(out.text().find("v{k=\"nan\"} NaN\n"), std::string::npos);
  EXPECT_NE(out.text().find("v{k=\"big\"} 18446744073709551615\n"), std::string::npos);
}

TEST(ExpositionWriter, RefusesBadNamesTwiceWrittenFamiliesAndStraySamples) {
  ExpositionWriter out;
  EXPECT_THROW(out.family("1abc", MetricType::kGauge, ""), std::invalid_argument);
  EXPECT_THROW(out.family("a-b", MetricType::kGauge, ""), std::invalid_argument);
  EXPECT_THROW(out.family("", MetricType::kGauge, ""), std::invalid_argument);
  EXPECT_THROW(out.sample("nofamily", {}, 1.0), std::invalid_argument);
  out.family("ns:sub_total", MetricType::kCounter, "");
  EXPECT_THROW(out.family("ns:sub_total", MetricType::kCounter, ""), std::invalid_argument);
  EXPECT_THROW(out.sample("other", {}, 1.0), std::invalid_argument);
  EXPECT_THROW(out.sample("ns:sub_total_bucket", {}, 1.0), std::invalid_argument);
  EXPECT_THROW(out.sample("ns:sub_total", {{"bad-label", "x"}}, 1.0), std::invalid_argument);
  EXPECT_THROW(out.sample("ns:sub_total", {{"__reserved", "x"}}, 1.0), std::invalid_argument);
  EXPECT_THROW(out.sample("ns:sub_total", {{"a:b", "x"}}, 1.0), std::invalid_argument);
  out.sample("ns:sub_total", {}, 1.0);
  EXPECT_EQ(out.take(), "# HELP ns:sub_total \n# TYPE ns:sub_total counter\nns:sub_total 1\n");
  EXPECT_TRUE(out.text().empty());
  out.family("ns:sub_total", MetricType::kCounter, "");  // a new exposition after take()
}

TEST(ExpositionWriter, HistogramSuffixesBelongToTheirFamily) {
  ExpositionWriter out;
  out.family("lat_seconds", MetricType::kHistogram, "h");
  out.sample("lat_seconds_bucket", {{"le", "+Inf"}}, std::uint64_t{1});
  out.sample("lat_seconds_sum", {}, 0.5);
  out.sample("lat_seconds_count", {}, std::uint64_t{1});
  EXPECT_THROW(out.sample("lat_seconds_other", {}, 1.0), std::invalid_argument);
  out.family("g", MetricType::kGauge, "g");
  EXPECT_THROW(out.sample("g_bucket", {}, 1.0), std::invalid_argument);
}

TEST(MetricNames, Grammar) {
  EXPECT_TRUE(valid_metric_name("a"));
  EXPECT_TRUE(valid_metric_name("_a:b_c9"));
  EXPECT_FALSE(valid_metric_name("9a"));
  EXPECT_FALSE(valid_metric_name("a b"));
  EXPECT_TRUE(valid_label_name("service"));
  EXPECT_FALSE(valid_label_name("__name__"));
  EXPECT_FALSE(valid_label_name("a:b"));
  EXPECT_FALSE(valid_label_name(""));
}

}  // namespace
}  // namespace gw::metrics

// Prometheus text exposition format 0.0.4: what GET /metrics answers (DESIGN.md §8).
#pragma once

#include <cstdint>
#include <initializer_list>
#include <set>
#include <string>
#include <string_view>

namespace gw::metrics {

/// A metric family's type, as the `# TYPE` line names it.
enum class MetricType { kCounter, kGauge, kHistogram };

/// One label of a sample. Names follow [a-zA-Z_][a-zA-Z0-9_]*; values are any UTF-8 text
/// (escaped on output).
struct Label {
  std::string_view name;
  std::string_view value;
};

/// Builds one exposition in the Prometheus text format, version 0.0.4
/// (https://prometheus.io/docs/instrumenting/exposition_formats/): per family a `# HELP`
/// and a `# TYPE` line, then its samples, one per line, `name{label="value",...} value`.
/// Label values and help texts are escaped (`\\`, `\"`, `\n`); integers are written
/// exactly, other values with up to 17 significant digits, plus `+Inf`, `-Inf`, `NaN`.
/// Throws std::invalid_argument for an invalid metric or label name, a family written twice
/// or a sample outside the current family (a programming error, not an input error).
class ExpositionWriter {
 public:
  /// Starts family `name` (base name: counters end in `_total`, histograms get the
  /// `_bucket`, `_sum` and `_count` suffixes from histogram()).
  void family(std::string_view name, MetricType type, std::string_view help);
  /// One sample of the current family. `name` is the family's name, or for a histogram
  /// the family's name plus `_bucket`, `_sum` or `_count`.
  void sample(std::string_view name, std::initializer_list<Label> labels, double value);
  void sample(std::string_view name, std::initializer_list<Label> labels, std::uint64_t value);
  void sample(std::string_view name, std::initializer_list<Label> labels, std::int64_t value);

  /// family() and sample() in one call, for the common label-less counter or gauge.
  void single(std::string_view name, MetricType type, std::string_view help, double value);
  void single(std::string_view name, MetricType type, std::string_view help,
              std::uint64_t value);

  /// The text so far (UTF-8, lines ending in "\n").
  [[nodiscard]] const std::string& text() const { return out_; }
  /// Moves the text out; the writer is empty afterwards.
  std::string take();

 private:
  void begin_sample(std::string_view name, std::initializer_list<Label> labels);

  std::string out_;
  std::string current_;          // the family samples belong to
  MetricType current_type_ = MetricType::kCounter;
  std::set<std::string, std::less<>> families_;
};

/// True if `name` is a valid metric name ([a-zA-Z_:][a-zA-Z0-9_:]*).
bool valid_metric_name(std::string_view name);
/// True if `name` is a valid label name ([a-zA-Z_][a-zA-Z0-9_]*, not starting with "__").
bool valid_label_name(std::string_view name);

}  // namespace gw::metrics

// Prometheus text format writer: names checked, values and label values escaped.
#include "common/metrics/exposition.h"

#include "common/printable_line.h"

#include <charconv>
#include <cmath>
#include <stdexcept>
#include <string>

namespace gw::metrics {
namespace {

bool name_char(char c, bool first, bool colon) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_') return true;
  if (colon && c == ':') return true;
  return !first && c >= '0' && c <= '9';
}

bool valid_name(std::string_view name, bool colon) {
  if (name.empty()) return false;
  for (std::size_t i = 0; i < name.size(); ++i) {
    if (!name_char(name[i], i == 0, colon)) return false;
  }
  return true;
}

/// Escapes `\` and newline always, `"` only in label values (the format's two rules).
void append_escaped(std::string& out, std::string_view text, bool quote) {
  for (char c : text) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (quote && c == '"') {
      out += "\\\"";
    } else {
      out += c;
    }
  }
}

const char* type_name(MetricType type) {
  switch (type) {
    case MetricType::kCounter:
      return "counter";
    case MetricType::kGauge:
      return "gauge";
    case MetricType::kHistogram:
      return "histogram";
  }
  return "untyped";
}

template <typename T>
void append_number(std::string& out, T value) {
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, value);
  if (ec != std::errc()) throw std::invalid_argument("metrics: value does not format");
  out.append(buf, end);
}

}  // namespace

bool valid_metric_name(std::string_view name) { return valid_name(name, true); }

bool valid_label_name(std::string_view name) {
  return valid_name(name, false) && !name.starts_with("__");
}

void ExpositionWriter::family(std::string_view name, MetricType type, std::string_view help) {
  if (!valid_metric_name(name)) {
    throw std::invalid_argument("metrics: invalid metric name '" + std::string(name) + "'");
  }
  if (!families_.emplace(name).second) {
    throw std::invalid_argument("metrics: family '" + std::string(name) + "' written twice");
  }
  current_ = name;
  current_type_ = type;
  out_ += "# HELP ";
  out_ += name;
  out_ += ' ';
  append_escaped(out_, help, false);
  out_ += "\n# TYPE ";
  out_ += name;
  out_ += ' ';
  out_ += type_name(type);
  out_ += '\n';
}

void ExpositionWriter::begin_sample(std::string_view name, std::initializer_list<Label> labels) {
  // (Label values that are not UTF-8 are written with '?' for each octet >= 0x80: the
  // format is UTF-8, and one bad value would make Prometheus drop the whole page.)
  bool belongs = !current_.empty() && name == current_;
  if (!belongs && current_type_ == MetricType::kHistogram && name.starts_with(current_)) {
    const std::string_view suffix = name.substr(current_.size());
    belongs = suffix == "_bucket" || suffix == "_sum" || suffix == "_count";
  }
  if (!belongs) {
    throw std::invalid_argument("metrics: sample '" + std::string(name) +
                                "' outside its family '" + current_ + "'");
  }
  for (const Label& label : labels) {  // all checked before any octet is written
    if (!valid_label_name(label.name)) {
      throw std::invalid_argument("metrics: invalid label name '" + std::string(label.name) +
                                  "'");
    }
  }
  out_ += name;
  if (labels.size() == 0) {
    out_ += ' ';
    return;
  }
  char sep = '{';
  for (const Label& label : labels) {
    out_ += sep;
    sep = ',';
    out_ += label.name;
    out_ += "=\"";
    if (common::is_valid_utf8(label.value)) {
      append_escaped(out_, label.value, true);
    } else {
      std::string ascii(label.value);
      for (char& ch : ascii) {
        if (static_cast<unsigned char>(ch) >= 0x80) ch = '?';
      }
      append_escaped(out_, ascii, true);
    }
    out_ += '"';
  }
  out_ += "} ";
}

void ExpositionWriter::sample(std::string_view name, std::initializer_list<Label> labels,
                              double value) {
  begin_sample(name, labels);
  if (std::isnan(value)) {
    out_ += "NaN";
  } else if (std::isinf(value)) {
    out_ += value > 0 ? "+Inf" : "-Inf";
  } else if (value == std::floor(value) && std::fabs(value) < 1e15) {
    append_number(out_, static_cast<std::int64_t>(value));
  } else {
    append_number(out_, value);  // shortest text that reads back as the same double
  }
  out_ += '\n';
}

void ExpositionWriter::sample(std::string_view name, std::initializer_list<Label> labels,
                              std::uint64_t value) {
  begin_sample(name, labels);
  append_number(out_, value);
  out_ += '\n';
}

void ExpositionWriter::sample(std::string_view name, std::initializer_list<Label> labels,
                              std::int64_t value) {
  begin_sample(name, labels);
  append_number(out_, value);
  out_ += '\n';
}

void ExpositionWriter::single(std::string_view name, MetricType type, std::string_view help,
                              double value) {
  family(name, type, help);
  sample(name, {}, value);
}

void ExpositionWriter::single(std::string_view name, MetricType type, std::string_view help,
                              std::uint64_t value) {
  family(name, type, help);
  sample(name, {}, value);
}

std::string ExpositionWriter::take() {
  std::string text = std::move(out_);
  out_.clear();
  current_.clear();
  families_.clear();
  return text;
}

}  // namespace gw::metrics

// A deliberately naive, whole-buffer model of gw::smtp::DataReader (RFC 5321 §4.1.1.4,
// §4.5.2, §2.3.8) for differential tests: the unit test and data_reader_fuzz compare the
// incremental reader against it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "dataplane/smtp/data_reader.h"

namespace gw::smtp::model {

/// What a DataReader fed all of `in` must report, when `in` holds a terminator.
struct DataReaderModel {
  bool done = false;         // false: `in` holds no CRLF "." CRLF (nothing else is modelled)
  std::size_t consumed = 0;  // octets up to and including the terminator
  unsigned defects = 0;      // DataReader::Defect bits
  std::uint64_t size = 0;    // unstuffed message octets
  std::string content;       // the unstuffed message, as if it had no defect
  std::string wire;          // the re-stuffed message, as if it had no defect
  // Octets of `wire` / `content` that come from input octets before the first defect: a
  // reader with defects may have emitted at most these (defects() == 0: all of them).
  std::size_t wire_before_defect = 0;
  std::size_t content_before_defect = 0;
};

inline DataReaderModel model_data_reader(std::string_view in, std::size_t max_line,
                                         std::uint64_t max_size) {
  DataReaderModel m;
  // The terminator is ".\r\n" at a line start: offset 0 or right after a CRLF.
  std::size_t term = std::string_view::npos;
  for (std::size_t p = 0; p + 3 <= in.size(); ++p) {
    bool line_start = p == 0 || (p >= 2 && in[p - 2] == '\r' && in[p - 1] == '\n');
    if (line_start && in.compare(p, 3, ".\r\n") == 0) {
      term = p;
      break;
    }
  }
  if (term == std::string_view::npos) return m;
  m.done = true;
  m.consumed = term + 3;
  const std::string_view msg = in.substr(0, term);  // empty or ends in CRLF

  std::size_t first_defect = msg.size();  // input offset of the first defective octet
  auto defect_at = [&](unsigned bit, std::size_t offset) {
    m.defects |= bit;
    if (offset < first_defect) first_defect = offset;
  };
  for (std::size_t i = 0; i < msg.size(); ++i) {
    if (msg[i] == '\r' && (i + 1 == msg.size() || msg[i + 1] != '\n')) {
      defect_at(DataReader::kBareCr, i);
    }
    if (msg[i] == '\n' && (i == 0 || msg[i - 1] != '\r')) defect_at(DataReader::kBareLf, i);
    if (msg[i] == '\0') defect_at(DataReader::kNul, i);
  }

  // Lines end at CRLF only; each line loses one leading dot, and on the wire a content line
  // that starts with "." gets it back. Remember the input offset of each output octet.
  std::vector<std::size_t> wire_src;
  std::vector<std::size_t> content_src;
  std::size_t start = 0;
  while (start < msg.size()) {
    std::size_t crlf = msg.find("\r\n", start);
    std::size_t end = crlf == std::string_view::npos ? msg.size() : crlf + 2;
    // The leading dot (stuffing) does not count toward the limit (RFC 5321 §4.5.3.1.6).
    const std::size_t dot = msg[start] == '.' ? 1 : 0;
    if (max_line != 0 && end - start - dot > max_line) {
      defect_at(DataReader::kLineTooLong, start + dot + max_line);
    }
    std::size_t text = start;
    if (msg[text] == '.') ++text;
    if (text < end && msg[text] == '.') {
      m.wire += '.';
      wire_src.push_back(text);
    }
    for (std::size_t k = text; k < end; ++k) {
      m.wire += msg[k];
      wire_src.push_back(k);
      m.content += msg[k];
      content_src.push_back(k);
    }
    start = end;
  }
  m.size = m.content.size();
  if (max_size != 0 && m.size > max_size) {
    defect_at(DataReader::kTooBig, content_src[static_cast<std::size_t>(max_size)]);
  }
  while (m.wire_before_defect < wire_src.size() && wire_src[m.wire_before_defect] < first_defect) {
    ++m.wire_before_defect;
  }
  while (m.content_before_defect < content_src.size() &&
         content_src[m.content_before_defect] < first_defect) {
    ++m.content_before_defect;
  }
  return m;
}

}  // namespace gw::smtp::model

// Fuzz target: the DATA stream reader (DataReader) and append_dot_stuffed(). Input layout:
// byte 0 = max_line (0: unlimited), byte 1 = max_size / 4 (0: unlimited), then the octets a
// client sends after 354. The stream is fed in chunk sizes derived from the input.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "dataplane/smtp/data_reader.h"
#include "tests/fuzz/data_reader_model.h"
#include "tests/fuzz/fuzz_check.h"

namespace {

using gw::smtp::DataReader;

struct Run {
  std::string wire;
  std::string content;
  std::size_t consumed = 0;
  unsigned defects = 0;
  bool done = false;
  std::uint64_t size = 0;
};

// Deterministic chunk sizes from a seed (xorshift64*): mostly small, sometimes large.
class Chunker {
 public:
  explicit Chunker(std::uint64_t seed) : state_(seed | 1) {}
  std::size_t next() {
    state_ ^= state_ >> 12;
    state_ ^= state_ << 25;
    state_ ^= state_ >> 27;
    std::uint64_t r = state_ * 0x2545F4914F6CDD1DULL;
    return (r & 0x30) == 0 ? static_cast<std::size_t>(r >> 40) % 512 + 1
                           : static_cast<std::size_t>(r >> 40) % 7 + 1;
  }

 private:
  std::uint64_t state_;
};

// step == 0: chunks from `chunker`; otherwise fixed chunks of `step` octets.
Run read(std::string_view in, std::size_t max_line, std::uint64_t max_size, Chunker* chunker,
         std::size_t step) {
  DataReader reader(max_line, max_size);
  Run run;
  std::size_t at = 0;
  while (at < in.size() && !reader.done()) {
    std::size_t n = chunker ? chunker->next() : step;
    std::string_view chunk = in.substr(at, n);
    std::size_t used = reader.feed(chunk, &run.wire, &run.content);
    GW_FUZZ_CHECK(used <= chunk.size());
    GW_FUZZ_CHECK(reader.done() || used == chunk.size());
    run.consumed += used;
    at += chunk.size();
    // Once done the reader takes nothing more.
    if (reader.done()) GW_FUZZ_CHECK(reader.feed(in.substr(at), &run.wire, &run.content) == 0);
  }
  run.defects = reader.defects();
  run.done = reader.done();
  run.size = reader.size();
  GW_FUZZ_CHECK(run.consumed <= in.size());
  return run;
}

// What the wire may look like, whatever the input: CR and LF only as CRLF, and a line that
// starts with "." always stuffed, so neither "\n." alone nor a "." line ever goes upstream.
void check_wire_shape(std::string_view wire) {
  for (std::size_t i = 0; i < wire.size(); ++i) {
    if (wire[i] == '\n') GW_FUZZ_CHECK(i > 0 && wire[i - 1] == '\r');
    if (wire[i] == '\r') GW_FUZZ_CHECK(i + 1 == wire.size() || wire[i + 1] == '\n');
    bool line_start = i == 0 || wire[i - 1] == '\n';
    if (line_start && wire[i] == '.') GW_FUZZ_CHECK(i + 1 < wire.size() && wire[i + 1] == '.');
  }
}

void check_same(const Run& a, const Run& b) {
  GW_FUZZ_CHECK(a.done == b.done);
  GW_FUZZ_CHECK(a.consumed == b.consumed);
  GW_FUZZ_CHECK(a.defects == b.defects);
  GW_FUZZ_CHECK(a.size == b.size);
  if (a.defects == 0) {
    GW_FUZZ_CHECK(a.wire == b.wire);
    GW_FUZZ_CHECK(a.content == b.content);
  }
}

bool well_formed(std::string_view s) {
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\r' && (i + 1 == s.size() || s[i + 1] != '\n')) return false;
    if (s[i] == '\n' && (i == 0 || s[i - 1] != '\r')) return false;
    if (s[i] == '\0') return false;  // a defect of its own (DataReader::kNul)
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  const std::size_t max_line = data[0];
  const std::uint64_t max_size = std::uint64_t{data[1]} * 4;
  const std::string_view in(reinterpret_cast<const char*>(data) + 2, size - 2);

  std::uint64_t hash = 1469598103934665603ULL;  // FNV-1a of the whole input
  for (std::size_t i = 0; i < size; ++i) hash = (hash ^ data[i]) * 1099511628211ULL;

  Chunker chunks_a(hash);
  Chunker chunks_b(hash * 31 + 7);
  const Run a = read(in, max_line, max_size, &chunks_a, 0);
  const Run b = read(in, max_line, max_size, &chunks_b, 0);
  const Run whole = read(in, max_line, max_size, nullptr, in.size() + 1);
  const Run bytes = read(in, max_line, max_size, nullptr, 1);
  check_same(a, whole);
  check_same(b, whole);
  check_same(bytes, whole);
  if (!whole.done) GW_FUZZ_CHECK(whole.consumed == in.size());

  const gw::smtp::model::DataReaderModel m =
      gw::smtp::model::model_data_reader(in, max_line, max_size);
  GW_FUZZ_CHECK(m.done == whole.done);
  for (const Run* r : {&a, &b, &whole, &bytes}) {
    check_wire_shape(r->wire);
    if (max_size != 0) GW_FUZZ_CHECK(r->content.size() <= max_size);
    if (!m.done) continue;
    GW_FUZZ_CHECK(r->consumed == m.consumed);
    GW_FUZZ_CHECK(r->defects == m.defects);
    GW_FUZZ_CHECK(r->size == m.size);
    if (m.defects == 0) {
      GW_FUZZ_CHECK(r->wire == m.wire && r->content == m.content);
    } else {
      // Nothing from the first defect on reaches the wire.
      GW_FUZZ_CHECK(r->wire.size() <= m.wire_before_defect);
      GW_FUZZ_CHECK(m.wire.compare(0, r->wire.size(), r->wire) == 0);
      GW_FUZZ_CHECK(r->content.size() <= m.content_before_defect);
      GW_FUZZ_CHECK(m.content.compare(0, r->content.size(), r->content) == 0);
    }
  }

  if (whole.done && whole.defects == 0) {
    // The wire, terminated, is a message that reads back to the same content and wire.
    const std::string upstream = whole.wire + ".\r\n";
    GW_FUZZ_CHECK(whole.consumed >= 3);
    const Run again = read(upstream, 0, 0, nullptr, upstream.size());
    GW_FUZZ_CHECK(again.done && again.defects == 0);
    GW_FUZZ_CHECK(again.consumed == upstream.size());
    GW_FUZZ_CHECK(again.content == whole.content);
    GW_FUZZ_CHECK(again.wire == whole.wire);
    // append_dot_stuffed() of the content is exactly that message.
    std::string stuffed;
    gw::smtp::append_dot_stuffed(whole.content, stuffed);
    GW_FUZZ_CHECK(stuffed == upstream);
  }

  // append_dot_stuffed() on the raw stream (a message a policy might produce) round-trips
  // whenever it is well formed.
  if (well_formed(in)) {
    std::string stuffed;
    gw::smtp::append_dot_stuffed(in, stuffed);
    check_wire_shape(std::string_view(stuffed).substr(0, stuffed.size() - 3));
    Chunker chunks_c(hash ^ 0x5bd1e995);
    const Run back = read(stuffed, 0, 0, &chunks_c, 0);
    GW_FUZZ_CHECK(back.done && back.defects == 0);
    GW_FUZZ_CHECK(back.consumed == stuffed.size());
    std::string expected(in);
    if (!expected.empty() &&
        !(expected.size() >= 2 && expected.substr(expected.size() - 2) == "\r\n")) {
      expected += "\r\n";
    }
    GW_FUZZ_CHECK(back.content == expected);
  }
  return 0;
}

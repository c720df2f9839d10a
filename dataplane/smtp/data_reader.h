// The DATA phase byte stream: end-of-data detection, dot-unstuffing, defect detection and
// re-stuffing towards the upstream (RFC 5321 §4.1.1.4, §4.5.2, §2.3.8, §4.5.3.1.6).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace gw::smtp {

/// Incremental reader of the octets a client sends after `354`. Only CRLF "." CRLF ends
/// the message: a bare LF or CR never starts a line, so "<LF>.<LF>", "<LF>.<CR><LF>" and
/// friends are content (and defects), never an end (field cases BR-01, BR-02, BR-04).
///
/// While the message has no defect, feed() appends to `wire` the octets to send upstream:
/// the message re-stuffed (RFC 5321 §4.5.2), which for a well-formed message is exactly
/// what the client sent minus the terminator; with `content` it also appends the unstuffed
/// message (for policies). Once a defect is seen nothing more is appended (the caller must
/// then abort the upstream transaction) but the reader keeps looking for the terminator so
/// the error reply comes after the client's end-of-data, never mid-stream (BR-13).
/// A CR at the end of one chunk is held until the next chunk says whether a LF follows.
class DataReader {
 public:
  enum Defect : unsigned {
    kBareCr = 1,       // CR not followed by LF  → 550 5.5.2
    kBareLf = 2,       // LF not preceded by CR  → 550 5.5.2
    kLineTooLong = 4,  // a line over max_line octets incl. CRLF → 500 5.5.2
    kTooBig = 8,       // more than max_size unstuffed octets → 552 5.3.4
    kEightBit = 16,    // an octet >= 0x80 after refuse_8bit() → 554 5.6.3
    // NUL: allowed in neither 7bit nor 8bit content (RFC 2045 §2.7, §2.8; BINARYMIME is
    // never offered); a next hop that drops it would read "CRLF NUL . CRLF" as the end of
    // data the gateway did not see (BR-01/BR-02 kind, probe round 20) → 550 5.6.0.
    kNul = 32,
  };

  /// `max_line`: octets per line including CRLF, not counting the stuffing dot (RFC 5321
  /// §4.5.3.1.6; 0 = unlimited);
  /// `max_size`: unstuffed message octets (0 = unlimited).
  DataReader(std::size_t max_line, std::uint64_t max_size)
      : max_line_(max_line), max_size_(max_size) {}

  /// Consumes octets of `in` up to and including the terminator; returns how many were
  /// consumed (all of `in` unless done() became true: the rest belongs to command mode).
  std::size_t feed(std::string_view in, std::string* wire, std::string* content = nullptr);

  /// Makes any octet >= 0x80 a defect (kEightBit): for an upstream that offers neither
  /// 8BITMIME nor SMTPUTF8, to which 8-bit content must not be sent (RFC 6152 §3, RFC
  /// 6531 §3.2). Call before the first feed().
  void refuse_8bit() { refuse_8bit_ = true; }

  [[nodiscard]] bool done() const { return state_ == State::kDone; }
  /// Bit set of Defect.
  [[nodiscard]] unsigned defects() const { return defects_; }
  /// Unstuffed message octets seen so far (counted also after a defect).
  [[nodiscard]] std::uint64_t size() const { return size_; }

 private:
  enum class State { kLineStart, kDot, kDotCr, kInLine, kCr, kDone };

  void defect(unsigned d) { defects_ |= d; }
  void emit(std::string_view span, std::string* wire, std::string* content);
  void count_line_octets(std::size_t n);

  std::size_t max_line_;
  std::uint64_t max_size_;
  State state_ = State::kLineStart;
  unsigned defects_ = 0;
  std::uint64_t size_ = 0;
  std::size_t line_octets_ = 0;
  // A content line starts with "." and its stuffing dot is owed to the wire; it goes out
  // together with the line's first octets, never ahead of them (they may be a defect).
  bool restuff_ = false;
  bool refuse_8bit_ = false;
};

/// Appends `message` (unstuffed; e.g. one a policy replaced) to `wire` dot-stuffed, with a
/// CRLF added if it does not end in one, followed by the terminator ".\r\n". Bare CR/LF are
/// not repaired: callers give well-formed messages (RFC 5321 §4.5.2).
void append_dot_stuffed(std::string_view message, std::string& wire);

}  // namespace gw::smtp

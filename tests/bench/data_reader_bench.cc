// gw-data-reader-bench: CPU time of smtp::DataReader::feed per message, the DATA scanner
// every relayed octet goes through (dot-stuffing, bare CR/LF, NUL, line length; BR-01,
// BR-02, BR-04, BR-13). Prints the best of 5 rounds of --rounds messages of --size octets
// in 80-octet lines, fed in 64 KiB chunks as grelayd reads them.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>

#include "dataplane/smtp/data_reader.h"

int main(int argc, char** argv) {
  CLI::App app{"DataReader::feed CPU time per message"};
  std::size_t size = 102400;
  int rounds = 3000;
  app.add_option("--size", size, "message octets (80-octet lines)")->check(CLI::Range(1, 1 << 26));
  app.add_option("--rounds", rounds, "messages per round")->check(CLI::Range(1, 1000000));
  CLI11_PARSE(app, argc, argv);

  std::string message = "From: <a@example.com>\r\nTo: <b@example.org>\r\nSubject: x\r\n\r\n";
  while (message.size() < size) message += std::string(78, 'x') + "\r\n";
  message += ".\r\n";
  std::string wire;
  wire.reserve(message.size());
  double best_us = 1e300;
  for (int round = 0; round < 5; ++round) {
    const auto start = std::chrono::steady_clock::now();
    for (int r = 0; r < rounds; ++r) {
      gw::smtp::DataReader reader(1000, 0);
      wire.clear();
      std::size_t offset = 0;
      while (offset < message.size()) {
        const std::size_t n = std::min<std::size_t>(65536, message.size() - offset);
        offset += reader.feed(std::string_view(message).substr(offset, n), &wire);
      }
    }
    const double us =
        std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start).count() /
        rounds;
    best_us = std::min(best_us, us);
  }
  if (wire.size() + 3 != message.size()) {
    std::fprintf(stderr, "gw-data-reader-bench: relayed %zu octets of %zu\n", wire.size(),
                 message.size());
    return 1;
  }
  std::printf("{\"size\":%zu,\"feed_us_per_message\":%.2f}\n", message.size(), best_us);
  return 0;
}

// gw-decision-load's parts (issue 4 "Benchmarks"): run options, the request each call
// sends, the JSON report, and the two ways of calling DecisionService.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <grpcpp/grpcpp.h>
#include <nlohmann/json.hpp>

#include "gateway/v1/decision.pb.h"
#include "tests/bench/decision_load_stats.h"

namespace gw::bench {

/// Command-line settings of one run.
struct LoadOptions {
  std::string target = "127.0.0.1:7070";
  int callers = 1;
  int channels = 1;
  double rate = 0;  // 0: closed loop
  double duration_s = 10;
  double warmup_s = 2;
  int deadline_ms = 1000;
  int max_in_flight = 20000;
  std::string node_id = "bench-load";
  std::string service = "bench";
  std::int64_t interface_id = 0;
  std::int64_t handler_id = 0;
  std::string command = "mail";
  std::string mail_from = "sender@example.com";
  std::string rcpt_to = "rcpt@example.net";
  std::string helo_domain = "client.example";
  std::string client_address = "127.0.0.1:40000";
  std::vector<std::string> attributes;  // NAME=VALUE
  bool pretty = false;
  std::string client = "node";  // "node": the relay node's client; "unary": raw Decide calls
};

/// The status code's name as in grpc/status.h ("UNAVAILABLE").
std::string code_name(grpc::StatusCode code);

/// The request every call sends (session_id is set per call): the attributes a node sends
/// for `o.command` (DESIGN.md §3), plus the --attr extras.
gateway::v1::DecisionRequest request_template(const LoadOptions& o);

/// What a finished run counted: the recorder's totals of the measured window, calls
/// answered / failed over the whole run (warm-up included), open-loop calls skipped.
struct RunCounts {
  Recorder::Totals totals;
  std::uint64_t answered_total = 0;
  std::uint64_t failed_total = 0;
  std::uint64_t skipped = 0;
};

/// The JSON object gw-decision-load prints (fields in decision_load.cc's header comment),
/// with this process's CPU time so far.
nlohmann::json report(const LoadOptions& o, RunCounts counts);

/// --client unary: raw Decide calls on the gRPC callback API, one channel per
/// --channels. Prints the report; returns the exit status (1: cannot connect).
int run_unary_load(const LoadOptions& o);

/// --client node: the relay node's own GrpcPolicyClient (DecideStream, Asio timers, results
/// posted to one io_context thread as in grelayd --threads 1), one client per --channels.
/// Prints the report; returns the exit status (1: cannot connect).
int run_node_load(const LoadOptions& o);

}  // namespace gw::bench

// Tests of gctl's failure mapping (status → exit code and error line) and server defaults.
#include "cli/command_context.h"

#include <gtest/gtest.h>

namespace gw::cli {
namespace {

TEST(ExitCodeFor, OkIsZeroEveryFailureIsOne) {
  EXPECT_EQ(exit_code_for(grpc::Status::OK), 0);
  for (auto code : {grpc::StatusCode::INVALID_ARGUMENT, grpc::StatusCode::NOT_FOUND,
                    grpc::StatusCode::ALREADY_EXISTS, grpc::StatusCode::FAILED_PRECONDITION,
                    grpc::StatusCode::UNAVAILABLE, grpc::StatusCode::DEADLINE_EXCEEDED,
                    grpc::StatusCode::INTERNAL, grpc::StatusCode::UNIMPLEMENTED}) {
    EXPECT_EQ(exit_code_for(grpc::Status(code, "x")), 1) << code;
  }
}

TEST(ErrorTextFor, UnreachableNamesTheServer) {
  EXPECT_EQ(error_text_for(grpc::Status(grpc::StatusCode::UNAVAILABLE,
                                        "failed to connect to all "
                                        "addresses"),
                           "127.0.0.1:1"),
            "cannot reach control plane at 127.0.0.1:1");
  EXPECT_EQ(error_text_for(grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED, "Deadline Exceeded"),
                           "cp:7070"),
            "cannot reach control plane at cp:7070");
}

TEST(ErrorTextFor, RefusalCarriesTheServerMessageOnOneLine) {
  EXPECT_EQ(
      error_text_for(
          grpc::Status(grpc::StatusCode::ALREADY_EXISTS, "service \"corp\" already exists"), "s"),
      "service \"corp\" already exists");
  EXPECT_EQ(error_text_for(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "bad\nname\r\n"), "s"),
            "bad name");
  EXPECT_EQ(error_text_for(grpc::Status(grpc::StatusCode::NOT_FOUND, ""), "s"), "NOT_FOUND");
}

TEST(DefaultServer, EnvironmentWinsWhenSet) {
  EXPECT_EQ(default_server(nullptr), "127.0.0.1:7070");
  EXPECT_EQ(default_server(""), "127.0.0.1:7070");
  EXPECT_EQ(default_server("cp.example.net:9000"), "cp.example.net:9000");
}

TEST(ConnectAdmin, RefusedServerIsReportedQuickly) {
  // Port 1 on loopback: nothing listens there, the connection is refused at once.
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(connect_admin("127.0.0.1:1", std::chrono::seconds(3)), nullptr);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));
}

}  // namespace
}  // namespace gw::cli

// The gctl unit tests' fixture: run_gctl against fake AdminService and PolicyAdminService
// stubs, with canned stdin and captured output; and a private temporary directory.
#pragma once

#include <gtest/gtest.h>

#include <stdlib.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "cli/fake_admin_stub.h"
#include "cli/fake_policy_admin_stub.h"
#include "cli/gctl_app.h"

namespace gw::cli {

class GctlTest : public ::testing::Test {
 protected:
  int run(std::vector<std::string> args, const std::string& default_server = "127.0.0.1:7070") {
    ChannelOptions defaults;
    defaults.server = default_server;
    return run_with(std::move(args), defaults);
  }

  int run_with(std::vector<std::string> args, const ChannelOptions& defaults) {
    out_.str("");
    err_.str("");
    in_.clear();
    in_.str(stdin_);
    return run_gctl(
        args,
        [this](const ChannelOptions& channel) -> ControlPlaneStubs {
          servers_.push_back(channel.server);
          channels_.push_back(channel);
          if (unreachable_) return {};
          return {stub_, policy_stub_, ""};
        },
        defaults, in_, out_, err_);
  }

  // The error contract: exactly one line, starting "gctl: error: ".
  void expect_one_error_line() {
    const std::string err = err_.str();
    EXPECT_EQ(err.rfind("gctl: error: ", 0), 0u) << err;
    EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 1) << err;
    EXPECT_EQ(err.back(), '\n');
  }

  void expect_usage_error(std::vector<std::string> args, const std::string& mentions) {
    SCOPED_TRACE(::testing::PrintToString(args));
    EXPECT_EQ(run(std::move(args)), 2);
    expect_one_error_line();
    EXPECT_NE(err_.str().find(mentions), std::string::npos) << err_.str();
    EXPECT_EQ(stub_->calls(), 0);
    EXPECT_EQ(policy_stub_->calls(), 0);
    EXPECT_TRUE(servers_.empty()) << "usage errors must not connect";
    EXPECT_EQ(out_.str(), "");
  }

  std::shared_ptr<FakeAdminStub> stub_ = std::make_shared<FakeAdminStub>();
  std::shared_ptr<FakePolicyAdminStub> policy_stub_ = std::make_shared<FakePolicyAdminStub>();
  std::string stdin_;  // what gctl reads from standard input
  std::istringstream in_;
  std::vector<std::string> servers_;
  std::vector<ChannelOptions> channels_;
  bool unreachable_ = false;
  std::ostringstream out_;
  std::ostringstream err_;
};

// A private directory for the files flags and configuration files name; removed at scope end.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "gctl-test-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  const std::filesystem::path& path() const { return path_; }
  std::string write(const std::string& name, const std::string& content) const {
    const auto path = path_ / name;
    std::ofstream(path, std::ios::binary) << content;
    return path.string();
  }

 private:
  std::filesystem::path path_;
};

}  // namespace gw::cli

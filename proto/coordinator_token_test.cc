// Token files: read from their first line, and refused when others may read
// them (like ssh's private keys), naming the file and the fix.
#include "proto/coordinator_token.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

namespace scalelaw {
namespace {

namespace fs = std::filesystem;

class TokenFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("scalelaw_token_test_" + std::to_string(::getpid()));
    fs::create_directories(dir_);
    ::unsetenv(kTokenFileEnv);
    ::unsetenv(kTokenEnv);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string Write(const std::string& name, const std::string& text, mode_t mode) {
    const std::string path = (dir_ / name).string();
    std::ofstream(path) << text;
    EXPECT_EQ(::chmod(path.c_str(), mode), 0);
    return path;
  }

  fs::path dir_;
};

TEST_F(TokenFileTest, PrivateFileIsRead) {
  for (mode_t mode : {0600, 0400}) {
    const std::string path = Write("token", "  abc123\n", mode);
    auto token = LoadCoordinatorToken(path);
    ASSERT_TRUE(token.ok()) << token.status();
    EXPECT_EQ(*token, "abc123");
  }
}

TEST_F(TokenFileTest, FileOthersCanReadIsRefusedWithTheFix) {
  for (mode_t mode : {0644, 0604, 0666, 0660, 0620, 0602}) {
    SCOPED_TRACE(mode);
    const std::string path = Write("token", "abc123\n", mode);
    auto token = LoadCoordinatorToken(path);
    ASSERT_FALSE(token.ok());
    EXPECT_TRUE(absl::IsInvalidArgument(token.status()));
    const std::string message(token.status().message());
    EXPECT_NE(message.find("--token-file: token file '" + path + "' is accessible to"),
              std::string::npos)
        << message;
    EXPECT_NE(message.find("chmod 600 " + path), std::string::npos) << message;
    EXPECT_EQ(message.find("abc123"), std::string::npos);  // never echo the token
  }
  // $SCALELAW_TOKEN_FILE is held to the same rule.
  const std::string path = Write("env-token", "abc123\n", 0644);
  ::setenv(kTokenFileEnv, path.c_str(), 1);
  auto token = LoadCoordinatorToken("");
  ::unsetenv(kTokenFileEnv);
  ASSERT_FALSE(token.ok());
  EXPECT_NE(token.status().message().find("$SCALELAW_TOKEN_FILE: token file"), std::string::npos)
      << token.status();
}

// A root-owned file readable by its group is how Kubernetes hands a Secret to
// a pod's group (fsGroup); another owner's group-readable file is refused.
TEST_F(TokenFileTest, GroupReadableIsAcceptedOnlyFromRoot) {
  const std::string path = Write("token", "abc123\n", 0640);
  auto token = LoadCoordinatorToken(path);
  if (::geteuid() == 0) {
    EXPECT_TRUE(token.ok()) << token.status();
  } else {
    ASSERT_FALSE(token.ok());
    EXPECT_NE(token.status().message().find("accessible to its group"), std::string::npos)
        << token.status();
  }
}

// Secret volumes are symbolic links to the data: the target's mode counts.
TEST_F(TokenFileTest, ModeOfALinksTargetCounts) {
  const std::string target = Write("data-token", "abc123\n", 0644);
  const std::string link = (dir_ / "token").string();
  fs::create_symlink(target, link);
  EXPECT_FALSE(LoadCoordinatorToken(link).ok());
  ASSERT_EQ(::chmod(target.c_str(), 0600), 0);
  EXPECT_TRUE(LoadCoordinatorToken(link).ok());
}

}  // namespace
}  // namespace scalelaw

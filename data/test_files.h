// Test helper: a scratch directory per test, removed afterwards, with small
// text documents written into it. Used only by data/*_test.cc.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

namespace scalelaw::data {

class ScratchDirectoryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("scalelaw_data_test_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_ / "text" / "sub" / "deeper");
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string Path(const std::string& relative) const { return (dir_ / relative).string(); }
  void Write(const std::string& relative, const std::string& bytes) const {
    std::filesystem::create_directories((dir_ / relative).parent_path());
    std::ofstream(dir_ / relative, std::ios::binary) << bytes;
  }
  std::string Read(const std::string& relative) const {
    std::ifstream in(dir_ / relative, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  // The text of document i: distinct, so a split can be searched for it.
  static std::string DocumentText(int i) {
    return "document " + std::to_string(i) + " says hello to the corpus loader.\n";
  }
  // 60 documents in text/, text/sub/ and text/sub/deeper/.
  void WriteDocuments() const {
    for (int i = 0; i < 60; ++i) {
      const std::string folder = i % 3 == 0 ? "" : (i % 3 == 1 ? "sub/" : "sub/deeper/");
      Write("text/" + folder + "doc" + std::to_string(i) + ".txt", DocumentText(i));
    }
  }

  std::filesystem::path dir_;
};

}  // namespace scalelaw::data

#include "data/token_file.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

namespace scalelaw::data {
namespace {
namespace fs = std::filesystem;

class TokenFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("scalelaw_token_file_test_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string Path(const std::string& name) const { return (dir_ / name).string(); }
  std::string Bytes(const std::string& name) const {
    std::ifstream in(Path(name), std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }

  fs::path dir_;
};

TEST(TokenDtypeTest, NamesAndWidths) {
  EXPECT_EQ(DtypeName(TokenDtype::kUint16), "uint16");
  EXPECT_EQ(*ParseDtype("uint32"), TokenDtype::kUint32);
  EXPECT_FALSE(ParseDtype("int8").ok());
  EXPECT_EQ(BytesPerToken(TokenDtype::kUint16), 2u);
  EXPECT_EQ(DtypeForVocab(256), TokenDtype::kUint16);
  EXPECT_EQ(DtypeForVocab(65536), TokenDtype::kUint16);
  EXPECT_EQ(DtypeForVocab(65537), TokenDtype::kUint32);
}

TEST_F(TokenFileTest, Uint16IsLittleEndianAndRoundTripsThroughMmap) {
  const std::vector<uint32_t> tokens = {1, 258, 65535, 0, 4095};
  ASSERT_TRUE(WriteTokenFile(Path("a.bin"), tokens, TokenDtype::kUint16).ok());
  EXPECT_EQ(fs::file_size(Path("a.bin")), tokens.size() * 2);
  EXPECT_EQ(Bytes("a.bin").substr(0, 4), std::string("\x01\x00\x02\x01", 4));
  auto read = ReadTokenFile(Path("a.bin"), TokenDtype::kUint16);
  ASSERT_TRUE(read.ok()) << read.status();
  ASSERT_EQ(read->size(), tokens.size());
  for (size_t i = 0; i < tokens.size(); ++i) EXPECT_EQ((*read)[i], tokens[i]);
  std::vector<int64_t> window(3);
  read->CopyTo(1, 3, window.data());
  EXPECT_EQ(window, (std::vector<int64_t>{258, 65535, 0}));
  EXPECT_EQ(read->Max().id, 65535u);
  EXPECT_EQ(read->Max().index, 2u);
  // The mapping moves with the object.
  TokenSequence moved = std::move(*read);
  EXPECT_EQ(moved[1], 258u);
}

TEST_F(TokenFileTest, Uint32RoundTripsInPieces) {
  auto writer = TokenFileWriter::Create(Path("b.bin"), TokenDtype::kUint32);
  ASSERT_TRUE(writer.ok());
  ASSERT_TRUE(writer->Append(std::vector<uint32_t>{70000, 1}).ok());
  ASSERT_TRUE(writer->Append(std::vector<uint32_t>{0xfffffffe}).ok());
  ASSERT_TRUE(writer->Close().ok());
  EXPECT_EQ(writer->tokens_written(), 3u);
  EXPECT_EQ(fs::file_size(Path("b.bin")), 12u);
  auto read = ReadTokenFile(Path("b.bin"), TokenDtype::kUint32);
  ASSERT_TRUE(read.ok());
  EXPECT_EQ((*read)[0], 70000u);
  EXPECT_EQ((*read)[2], 0xfffffffeu);
}

TEST_F(TokenFileTest, ClearErrors) {
  auto writer = TokenFileWriter::Create(Path("c.bin"), TokenDtype::kUint16);
  ASSERT_TRUE(writer.ok());
  const absl::Status too_big = writer->Append(std::vector<uint32_t>{70000});
  EXPECT_EQ(too_big.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(too_big.message().find("70000"), std::string::npos) << too_big;

  std::ofstream(Path("odd.bin"), std::ios::binary) << "abc";
  auto odd = ReadTokenFile(Path("odd.bin"), TokenDtype::kUint16);
  EXPECT_EQ(odd.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(odd.status().message().find("not a multiple of 2"), std::string::npos) << odd.status();
  EXPECT_EQ(ReadTokenFile(Path("missing.bin"), TokenDtype::kUint16).status().code(),
            absl::StatusCode::kNotFound);

  std::ofstream(Path("empty.bin"), std::ios::binary).close();
  auto empty = ReadTokenFile(Path("empty.bin"), TokenDtype::kUint32);
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->empty());
}

}  // namespace
}  // namespace scalelaw::data

#include "fitting/provenance.h"

#include <cstdio>
#include <fstream>

#include "gtest/gtest.h"

namespace scalelaw::fitting {
namespace {

TEST(Sha256Test, KnownDigests) {
  // FIPS 180-2 test vectors.
  EXPECT_EQ(Sha256Hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(Sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(Sha256Test, FileDigestMatchesTheBytes) {
  const std::string path = ::testing::TempDir() + "/provenance.csv";
  std::string contents = "params,tokens,loss\n";
  for (int i = 0; i < 20000; ++i) contents += "1e9,2e10,2.5\n";  // spans several reads
  std::ofstream(path, std::ios::binary) << contents;
  const absl::StatusOr<std::string> digest = Sha256OfFile(path);
  ASSERT_TRUE(digest.ok()) << digest.status();
  EXPECT_EQ(*digest, Sha256Hex(contents));
  std::remove(path.c_str());
  EXPECT_EQ(Sha256OfFile(path).status().code(), absl::StatusCode::kNotFound);
}

TEST(Iso8601UtcTest, FormatsWholeSecondsInUtc) {
  // 1,700,000,000 s after the epoch is 2023-11-14 22:13:20 UTC.
  EXPECT_EQ(Iso8601Utc(std::chrono::system_clock::time_point(std::chrono::seconds(1700000000))),
            "2023-11-14T22:13:20Z");
}

TEST(CodeVersionTest, StartsWithTheProjectVersion) {
  EXPECT_FALSE(CodeVersion().empty());
  EXPECT_NE(CodeVersion(), "unknown");
}

}  // namespace
}  // namespace scalelaw::fitting

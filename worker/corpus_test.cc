#include "worker/corpus.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <string>

namespace scalelaw::worker {
namespace {
namespace fs = std::filesystem;

class CorpusTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("scalelaw_corpus_test_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "sub" / "deeper");
  }
  void TearDown() override { fs::remove_all(dir_); }

  void Write(const std::string& relative, const std::string& text) {
    std::ofstream(dir_ / relative, std::ios::binary) << text;
  }
  // 60 documents with distinct contents in nested folders.
  void WriteDocuments() {
    for (int i = 0; i < 60; ++i) {
      const std::string folder = i % 3 == 0 ? "" : (i % 3 == 1 ? "sub/" : "sub/deeper/");
      Write(folder + "doc" + std::to_string(i) + ".txt",
            "document " + std::to_string(i) + " says hello to the corpus loader.\n");
    }
  }

  fs::path dir_;
};

TEST(Fnv1aTest, MatchesReferenceVectors) {
  EXPECT_EQ(Fnv1a64(""), 0xcbf29ce484222325ull);
  EXPECT_EQ(Fnv1a64("a"), 0xaf63dc4c8601ec8cull);
  EXPECT_EQ(Fnv1a64("foobar"), 0x85944171f73967e8ull);
}

TEST(UnigramEntropyTest, UniformAndSingleSymbol) {
  EXPECT_DOUBLE_EQ(UnigramEntropy({7, 7, 7}), 0.0);
  EXPECT_NEAR(UnigramEntropy({0, 1, 2, 3}), std::log(4.0), 1e-12);
}

TEST_F(CorpusTest, SplitIsDisjointCompleteAndDeterministic) {
  WriteDocuments();
  auto a = Corpus::Load(dir_.string(), 0.3);
  ASSERT_TRUE(a.ok()) << a.status();
  auto b = Corpus::Load(dir_.string(), 0.3);
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ(a->train_tokens(), b->train_tokens());
  EXPECT_EQ(a->val_tokens(), b->val_tokens());

  const CorpusStats& s = a->stats();
  EXPECT_EQ(s.documents, 60u);
  EXPECT_EQ(s.train_documents + s.val_documents, 60u);
  EXPECT_GT(s.val_documents, 5u);
  EXPECT_GT(s.train_documents, 30u);

  // Every document lands wholly in the split its path hashes to, and nowhere else.
  const std::string train(a->train_tokens().begin(), a->train_tokens().end());
  const std::string val(a->val_tokens().begin(), a->val_tokens().end());
  int in_val = 0;
  for (const auto& entry : fs::recursive_directory_iterator(dir_)) {
    if (!entry.is_regular_file()) continue;
    const std::string relative = entry.path().lexically_relative(dir_).generic_string();
    std::ifstream in(entry.path());
    const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const bool is_val = Corpus::IsValidationDocument(relative, 0.3);
    in_val += is_val;
    EXPECT_NE((is_val ? val : train).find(text), std::string::npos) << relative;
    EXPECT_EQ((is_val ? train : val).find(text), std::string::npos) << relative;
  }
  EXPECT_EQ(in_val, static_cast<int>(s.val_documents));
  EXPECT_EQ(s.val_tokens, val.size());
  EXPECT_GT(s.val_unigram_entropy, 1.0);
  EXPECT_LT(s.val_unigram_entropy, std::log(256.0));
}

TEST_F(CorpusTest, AddingADocumentDoesNotMoveOthers) {
  WriteDocuments();
  auto before = Corpus::Load(dir_.string(), 0.3);
  ASSERT_TRUE(before.ok());
  Write("sub/zzz_new.txt", "a late addition\n");
  auto after = Corpus::Load(dir_.string(), 0.3);
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->stats().documents, 61u);
  const auto& small = Corpus::IsValidationDocument("sub/zzz_new.txt", 0.3) ? before->train_tokens()
                                                                           : before->val_tokens();
  const auto& large = Corpus::IsValidationDocument("sub/zzz_new.txt", 0.3) ? after->train_tokens()
                                                                           : after->val_tokens();
  EXPECT_EQ(small, large);  // the split the new file did not join is unchanged
}

TEST_F(CorpusTest, WindowsAreSeededAndValidationIsFixed) {
  WriteDocuments();
  auto corpus = Corpus::Load(dir_.string(), 0.3);
  ASSERT_TRUE(corpus.ok());
  std::mt19937_64 rng1(42), rng2(42);
  std::vector<int64_t> w1, w2;
  corpus->SampleTrainWindows(rng1, 4, 17, w1);
  corpus->SampleTrainWindows(rng2, 4, 17, w2);
  EXPECT_EQ(w1, w2);
  ASSERT_EQ(w1.size(), 4u * 17);
  const std::string train(corpus->train_tokens().begin(), corpus->train_tokens().end());
  for (int i = 0; i < 4; ++i) {
    const std::string window(w1.begin() + i * 17, w1.begin() + (i + 1) * 17);
    EXPECT_NE(train.find(window), std::string::npos);
  }
  std::vector<int64_t> v1, v2;
  corpus->ValidationWindows(5, 9, v1);
  corpus->ValidationWindows(5, 9, v2);
  EXPECT_EQ(v1, v2);
  EXPECT_EQ(v1.front(), corpus->val_tokens().front());
  EXPECT_EQ(v1.back(), corpus->val_tokens().back());
}

TEST_F(CorpusTest, ClearErrors) {
  EXPECT_EQ(Corpus::Load((dir_ / "missing").string(), 0.1).status().code(),
            absl::StatusCode::kNotFound);
  auto empty = Corpus::Load(dir_.string(), 0.1);
  EXPECT_EQ(empty.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(empty.status().message().find("no non-empty files"), std::string::npos)
      << empty.status();
  EXPECT_EQ(Corpus::Load(dir_.string(), 1.5).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Corpus::Load(dir_.string(), 0.1, "bpe").status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace scalelaw::worker

#include "data/token_dataset.h"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

#include "data/meta.h"
#include "data/test_files.h"
#include "data/text_documents.h"
#include "data/token_file.h"

namespace scalelaw::data {
namespace {
namespace fs = std::filesystem;

using TokenDatasetTest = ScratchDirectoryTest;

std::string AsText(const TokenSequence& tokens) {
  std::string text;
  for (uint64_t i = 0; i < tokens.size(); ++i) text.push_back(static_cast<char>(tokens[i]));
  return text;
}

// A prepared directory written by hand: tokens, optional meta.json.
void WriteSplits(const fs::path& dir, const std::vector<uint32_t>& train,
                 const std::vector<uint32_t>& val, TokenDtype dtype) {
  fs::create_directories(dir);
  ASSERT_TRUE(WriteTokenFile((dir / kTrainFileName).string(), train, dtype).ok());
  ASSERT_TRUE(WriteTokenFile((dir / kValFileName).string(), val, dtype).ok());
}

TEST(UnigramEntropyTest, UniformAndSingleSymbol) {
  EXPECT_DOUBLE_EQ(UnigramEntropy(TokenSequence::FromBytes({7, 7, 7}), 256), 0.0);
  EXPECT_NEAR(UnigramEntropy(TokenSequence::FromBytes({0, 1, 2, 3}), 256), std::log(4.0), 1e-12);
}

TEST_F(TokenDatasetTest, TextSplitIsDisjointCompleteAndDeterministic) {
  WriteDocuments();
  auto a = TokenDataset::Load(Path("text"), 0.3);
  ASSERT_TRUE(a.ok()) << a.status();
  auto b = TokenDataset::Load(Path("text"), 0.3);
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ(AsText(a->train()), AsText(b->train()));
  EXPECT_EQ(AsText(a->val()), AsText(b->val()));
  EXPECT_EQ(a->vocab_size(), 256u);
  EXPECT_EQ(a->tokenizer(), "byte");

  const DatasetStats& s = a->stats();
  EXPECT_EQ(s.documents, 60u);
  EXPECT_EQ(s.train_documents + s.val_documents, 60u);
  EXPECT_GT(s.val_documents, 5u);
  EXPECT_GT(s.train_documents, 30u);

  // Every document lands wholly in the split its path hashes to, and nowhere else.
  const std::string train = AsText(a->train());
  const std::string val = AsText(a->val());
  int in_val = 0;
  for (const auto& entry : fs::recursive_directory_iterator(dir_ / "text")) {
    if (!entry.is_regular_file()) continue;
    const std::string relative = entry.path().lexically_relative(dir_ / "text").generic_string();
    const std::string text = Read("text/" + relative);
    const bool is_val = IsValidationDocument(relative, 0.3);
    in_val += is_val;
    EXPECT_NE((is_val ? val : train).find(text), std::string::npos) << relative;
    EXPECT_EQ((is_val ? train : val).find(text), std::string::npos) << relative;
  }
  EXPECT_EQ(in_val, static_cast<int>(s.val_documents));
  EXPECT_EQ(s.val_tokens, val.size());
  EXPECT_GT(s.val_unigram_entropy, 1.0);
  EXPECT_LT(s.val_unigram_entropy, std::log(256.0));
}

TEST_F(TokenDatasetTest, AddingADocumentDoesNotMoveOthers) {
  WriteDocuments();
  auto before = TokenDataset::Load(Path("text"), 0.3);
  ASSERT_TRUE(before.ok());
  Write("text/sub/zzz_new.txt", "a late addition\n");
  auto after = TokenDataset::Load(Path("text"), 0.3);
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->stats().documents, 61u);
  const bool new_in_val = IsValidationDocument("sub/zzz_new.txt", 0.3);
  // The split the new file did not join is unchanged.
  EXPECT_EQ(AsText(new_in_val ? before->train() : before->val()),
            AsText(new_in_val ? after->train() : after->val()));
}

TEST_F(TokenDatasetTest, WindowsAreSeededAndValidationIsFixed) {
  WriteDocuments();
  auto dataset = TokenDataset::Load(Path("text"), 0.3);
  ASSERT_TRUE(dataset.ok());
  std::mt19937_64 rng1(42), rng2(42);
  std::vector<int64_t> w1, w2;
  dataset->SampleTrainWindows(rng1, 4, 17, w1);
  dataset->SampleTrainWindows(rng2, 4, 17, w2);
  EXPECT_EQ(w1, w2);
  ASSERT_EQ(w1.size(), 4u * 17);
  const std::string train = AsText(dataset->train());
  for (int i = 0; i < 4; ++i) {
    const std::string window(w1.begin() + i * 17, w1.begin() + (i + 1) * 17);
    EXPECT_NE(train.find(window), std::string::npos);
  }
  std::vector<int64_t> v1, v2;
  dataset->ValidationWindows(5, 9, v1);
  dataset->ValidationWindows(5, 9, v2);
  EXPECT_EQ(v1, v2);
  EXPECT_EQ(v1.front(), dataset->val()[0]);
  EXPECT_EQ(v1.back(), dataset->val()[dataset->val_size() - 1]);
}

TEST_F(TokenDatasetTest, NanoGptDirectoryWithoutMeta) {
  std::vector<uint32_t> train, val;
  for (uint32_t i = 0; i < 1000; ++i) train.push_back((i * 7919) % 50257);
  train.back() = 50256;  // GPT-2's <|endoftext|>
  for (uint32_t i = 0; i < 200; ++i) val.push_back((i * 31) % 1000);
  WriteSplits(dir_ / "owt", train, val, TokenDtype::kUint16);
  auto dataset = TokenDataset::Load(Path("owt"), 0.05);
  ASSERT_TRUE(dataset.ok()) << dataset.status();
  EXPECT_EQ(dataset->vocab_size(), 50257u);  // the largest id + 1
  EXPECT_EQ(dataset->tokenizer(), "");
  EXPECT_EQ(dataset->train_size(), 1000u);
  EXPECT_EQ(dataset->val_size(), 200u);
  std::vector<int64_t> windows;
  dataset->ValidationWindows(2, 10, windows);
  EXPECT_EQ(windows[0], 0);
  EXPECT_EQ(windows[1], 31);
  EXPECT_EQ(windows[19], val.back());
  auto vocab = DataVocabSize(Path("owt"), "byte");
  ASSERT_TRUE(vocab.ok());
  EXPECT_EQ(*vocab, 50257u);

  // An explicit vocabulary from the caller, checked against the ids.
  auto padded = TokenDataset::Load(Path("owt"), 0.05, "byte", 50304);
  ASSERT_TRUE(padded.ok());
  EXPECT_EQ(padded->vocab_size(), 50304u);
  auto small = TokenDataset::Load(Path("owt"), 0.05, "byte", 1000);
  EXPECT_EQ(small.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(small.status().message().find("train.bin\": token id"), std::string::npos)
      << small.status();
}

TEST_F(TokenDatasetTest, PreparedDirectoryReadsMetaAndMapsTokens) {
  const std::vector<uint32_t> train = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
  const std::vector<uint32_t> val = {70000, 11, 12};
  WriteSplits(dir_ / "prep", train, val, TokenDtype::kUint32);
  DatasetMeta meta;
  meta.tokenizer = "bpe";
  meta.vocab_size = 70001;
  meta.dtype = TokenDtype::kUint32;
  meta.train_tokens = train.size();
  meta.val_tokens = val.size();
  meta.documents = 3;
  Write("prep/meta.json", DatasetMetaToJson(meta));
  auto dataset = TokenDataset::Load(Path("prep"), 0.05);
  ASSERT_TRUE(dataset.ok()) << dataset.status();
  EXPECT_EQ(dataset->vocab_size(), 70001u);
  EXPECT_EQ(dataset->tokenizer(), "bpe");
  EXPECT_EQ(dataset->stats().documents, 3u);
  EXPECT_NEAR(dataset->stats().val_unigram_entropy, std::log(3.0), 1e-12);
  std::mt19937_64 rng(1);
  std::vector<int64_t> windows;
  dataset->SampleTrainWindows(rng, 3, 4, windows);
  for (int w = 0; w < 3; ++w) {
    for (int k = 1; k < 4; ++k) EXPECT_EQ(windows[w * 4 + k], windows[w * 4] + k);
  }
  auto vocab = DataVocabSize(Path("prep"), "byte");
  ASSERT_TRUE(vocab.ok());
  EXPECT_EQ(*vocab, 70001u);
  EXPECT_EQ(*DataVocabSize(Path("text"), "byte"), 256u);
}

TEST_F(TokenDatasetTest, BadPreparedDirectoriesGiveClearErrors) {
  auto expect = [&](const std::string& dir, absl::StatusCode code, const std::string& text) {
    auto loaded = TokenDataset::Load(Path(dir), 0.05);
    EXPECT_EQ(loaded.status().code(), code) << loaded.status();
    EXPECT_NE(loaded.status().message().find(text), std::string::npos) << loaded.status();
  };
  // train.bin without val.bin.
  fs::create_directories(dir_ / "no_val");
  ASSERT_TRUE(
      WriteTokenFile(Path("no_val/train.bin"), std::vector<uint32_t>{1, 2}, TokenDtype::kUint16)
          .ok());
  expect("no_val", absl::StatusCode::kNotFound, "val.bin\" is missing");
  // An odd byte count for uint16.
  Write("odd/train.bin", "abc");
  Write("odd/val.bin", "ab");
  expect("odd", absl::StatusCode::kDataLoss, "not a multiple of 2");
  // An empty split.
  WriteSplits(dir_ / "empty", {1, 2, 3}, {}, TokenDtype::kUint16);
  expect("empty", absl::StatusCode::kFailedPrecondition, "empty split");
  // An id the vocabulary does not hold.
  WriteSplits(dir_ / "big_id", {1, 2, 300}, {1}, TokenDtype::kUint16);
  DatasetMeta meta;
  meta.tokenizer = "byte";
  meta.vocab_size = 256;
  meta.train_tokens = 3;
  meta.val_tokens = 1;
  Write("big_id/meta.json", DatasetMetaToJson(meta));
  expect("big_id", absl::StatusCode::kDataLoss, "token id 300 at position 2 >= vocab_size 256");
  // meta.json that disagrees with the files.
  meta.train_tokens = 4;
  Write("big_id/meta.json", DatasetMetaToJson(meta));
  expect("big_id", absl::StatusCode::kDataLoss, "train_tokens 4");
  // meta.json that does not parse.
  Write("big_id/meta.json", "{\"vocab_size\": 256");
  expect("big_id", absl::StatusCode::kDataLoss, "meta.json: not a JSON object");
}

TEST_F(TokenDatasetTest, BadTextDirectoriesGiveClearErrors) {
  auto missing = TokenDataset::Load(Path("missing"), 0.1);
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(missing.status().message().find("data.corpus"), std::string::npos);
  auto empty = TokenDataset::Load(Path("text"), 0.1);
  EXPECT_EQ(empty.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(empty.status().message().find("no non-empty files"), std::string::npos)
      << empty.status();
  EXPECT_EQ(TokenDataset::Load(Path("text"), 1.5).status().code(),
            absl::StatusCode::kInvalidArgument);
  auto bpe = TokenDataset::Load(Path("text"), 0.1, "bpe");
  EXPECT_EQ(bpe.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(bpe.status().message().find("scalelaw data prepare"), std::string::npos);
  EXPECT_EQ(TokenDataset::Load(Path("text"), 0.1, "wordpiece").status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace scalelaw::data

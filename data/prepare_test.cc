#include "data/prepare.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "data/test_files.h"
#include "data/text_documents.h"
#include "data/token_dataset.h"
#include "data/tokenizer.h"

namespace scalelaw::data {
namespace {
namespace fs = std::filesystem;

class PrepareTest : public ScratchDirectoryTest {
 protected:
  PrepareOptions Options(const std::string& tokenizer, uint32_t vocab_size) const {
    PrepareOptions options;
    options.inputs = {Path("text")};
    options.out_dir = Path("out");
    options.tokenizer = tokenizer;
    options.vocab_size = vocab_size;
    options.val_fraction = 0.3;
    return options;
  }
  // All tokens of a split file, decoded with the directory's tokenizer.
  std::string Decoded(const TokenSequence& tokens, Tokenizer& tokenizer) const {
    std::vector<uint32_t> ids(tokens.size());
    for (uint64_t i = 0; i < tokens.size(); ++i) ids[i] = tokens[i];
    auto text = tokenizer.Decode(ids);
    EXPECT_TRUE(text.ok()) << text.status();
    return text.ok() ? *text : "";
  }
};

TEST_F(PrepareTest, ByteFilesMatchTheTextDirectory) {
  WriteDocuments();
  auto summary = PrepareDataset(Options("byte", 0));
  ASSERT_TRUE(summary.ok()) << summary.status();
  const DatasetMeta& meta = summary->meta;
  EXPECT_EQ(meta.vocab_size, 256u);
  EXPECT_EQ(meta.dtype, TokenDtype::kUint16);
  EXPECT_EQ(meta.documents, 60u);
  EXPECT_EQ(meta.train_tokens, meta.train_bytes);
  EXPECT_EQ(fs::file_size(Path("out/train.bin")), meta.train_tokens * 2);
  EXPECT_EQ(fs::file_size(Path("out/val.bin")), meta.val_tokens * 2);
  EXPECT_FALSE(fs::exists(Path("out/tokenizer.json")));
  // No staging directory is left beside the output.
  for (const auto& entry : fs::directory_iterator(dir_)) {
    EXPECT_EQ(entry.path().filename().string().find(".out.tmp"), std::string::npos);
  }

  auto from_meta = ReadDatasetMeta(Path("out/meta.json"));
  ASSERT_TRUE(from_meta.ok()) << from_meta.status();
  EXPECT_EQ(from_meta->train_tokens, meta.train_tokens);
  EXPECT_EQ(from_meta->val_fraction, 0.3);

  // The same split and tokens as reading the text directory directly.
  auto prepared = TokenDataset::Load(Path("out"), 0.05);
  auto text = TokenDataset::Load(Path("text"), 0.3);
  ASSERT_TRUE(prepared.ok()) << prepared.status();
  ASSERT_TRUE(text.ok()) << text.status();
  ASSERT_EQ(prepared->train_size(), text->train_size());
  for (uint64_t i = 0; i < text->train_size(); ++i) {
    ASSERT_EQ(prepared->train()[i], text->train()[i]) << i;
  }
  EXPECT_DOUBLE_EQ(prepared->stats().val_unigram_entropy, text->stats().val_unigram_entropy);
}

TEST_F(PrepareTest, BpeTrainsOnTrainingDocumentsAndDecodesBack) {
  WriteDocuments();
  auto summary = PrepareDataset(Options("bpe", 300));
  ASSERT_TRUE(summary.ok()) << summary.status();
  const DatasetMeta& meta = summary->meta;
  EXPECT_EQ(meta.vocab_size, 300u);
  EXPECT_EQ(meta.tokenizer, "bpe");
  EXPECT_EQ(meta.tokenizer_file, "tokenizer.json");
  EXPECT_LT(meta.train_tokens, meta.train_bytes / 2);  // it compresses
  EXPECT_EQ(fs::file_size(Path("out/train.bin")), meta.train_tokens * 2);

  auto tokenizer = LoadTokenizer(Path("out"));
  ASSERT_TRUE(tokenizer.ok()) << tokenizer.status();
  EXPECT_EQ((*tokenizer)->vocab_size(), 300u);
  auto dataset = TokenDataset::Load(Path("out"), 0.05);
  ASSERT_TRUE(dataset.ok()) << dataset.status();
  const std::string train = Decoded(dataset->train(), **tokenizer);
  const std::string val = Decoded(dataset->val(), **tokenizer);

  // Each document is in exactly one split, in listing order; the splits
  // decode to the concatenated documents byte for byte.
  auto docs = ListTextDocuments({Path("text")}, 0.3);
  ASSERT_TRUE(docs.ok());
  std::string want_train, want_val;
  for (const TextDocument& doc : *docs) {
    const std::string text = Read("text/" + doc.relative);
    (doc.validation ? want_val : want_train) += text;
    EXPECT_EQ((doc.validation ? train : val).find(text), std::string::npos) << doc.relative;
  }
  EXPECT_EQ(train, want_train);
  EXPECT_EQ(val, want_val);
}

TEST_F(PrepareTest, ReplacesAnEarlierPreparationInPlace) {
  WriteDocuments();
  ASSERT_TRUE(PrepareDataset(Options("bpe", 280)).ok());
  ASSERT_TRUE(fs::exists(Path("out/tokenizer.json")));
  Write("out/notes.txt", "kept\n");
  auto summary = PrepareDataset(Options("byte", 0));
  ASSERT_TRUE(summary.ok()) << summary.status();
  EXPECT_FALSE(fs::exists(Path("out/tokenizer.json")));
  EXPECT_EQ(Read("out/notes.txt"), "kept\n");
  auto meta = ReadDatasetMeta(Path("out/meta.json"));
  ASSERT_TRUE(meta.ok());
  EXPECT_EQ(meta->tokenizer, "byte");
}

TEST_F(PrepareTest, ClearErrors) {
  WriteDocuments();
  auto expect = [](const PrepareOptions& options, absl::StatusCode code, const std::string& text) {
    auto summary = PrepareDataset(options);
    EXPECT_EQ(summary.status().code(), code) << summary.status();
    EXPECT_NE(summary.status().message().find(text), std::string::npos) << summary.status();
  };
  expect(Options("wordpiece", 0), absl::StatusCode::kInvalidArgument, "tokenizer");
  expect(Options("bpe", 256), absl::StatusCode::kInvalidArgument, "vocab_size");
  expect(Options("bpe", 0), absl::StatusCode::kInvalidArgument, "vocab_size");
  expect(Options("byte", 512), absl::StatusCode::kInvalidArgument, "vocab_size");
  PrepareOptions missing = Options("byte", 0);
  missing.inputs = {Path("absent")};
  expect(missing, absl::StatusCode::kNotFound, "inputs: \"");
  PrepareOptions one_document = Options("byte", 0);
  Write("one/only.txt", "a single document\n");
  one_document.inputs = {Path("one")};
  expect(one_document, absl::StatusCode::kFailedPrecondition, "both splits");
  PrepareOptions too_large = Options("bpe", 100000);
  expect(too_large, absl::StatusCode::kFailedPrecondition, "vocab_size 100000");
  EXPECT_FALSE(fs::exists(Path("out/meta.json")));
}

}  // namespace
}  // namespace scalelaw::data

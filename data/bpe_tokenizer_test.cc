#include "data/bpe_tokenizer.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "data/bpe_trainer.h"
#include "data/pretokenizer.h"

namespace scalelaw::data {
namespace {

// English-like text: sentences of common words drawn with a fixed seed.
std::string SampleText(int sentences, uint64_t seed) {
  const std::vector<std::string> words = {"the",   "model", "learns", "a",     "scaling",
                                          "law",   "from",  "tokens", "and",   "compute",
                                          "small", "large", "loss",   "falls", "with"};
  std::mt19937_64 rng(seed);
  std::string text;
  for (int s = 0; s < sentences; ++s) {
    const int n = 4 + static_cast<int>(rng() % 8);
    for (int w = 0; w < n; ++w) {
      if (w > 0) text += ' ';
      text += words[rng() % words.size()];
    }
    text += s % 5 == 4 ? ".\n\n" : ". ";
  }
  return text;
}

std::vector<std::string> Chunks(std::string_view text) {
  std::vector<std::string> chunks;
  ForEachChunk(text, [&](std::string_view c) { chunks.emplace_back(c); });
  return chunks;
}

TEST(PretokenizerTest, SplitsLikeGpt2OnBytes) {
  EXPECT_EQ(
      Chunks("Hello world  foo\n\nbar's 123"),
      (std::vector<std::string>{"Hello", " world", " ", " foo", "\n", "\n", "bar", "'s", " 123"}));
  EXPECT_EQ(Chunks("x = f(y)  \n"),
            (std::vector<std::string>{"x", " =", " f", "(", "y", ")", "  \n"}));
  EXPECT_EQ(Chunks("café über"), (std::vector<std::string>{"café", " über"}));
}

TEST(PretokenizerTest, ChunksCoverTheTextAndAreBounded) {
  std::string text = SampleText(50, 1) + std::string(1000, '=') + "\n" + std::string(300, 'a');
  std::string joined;
  for (const std::string& chunk : Chunks(text)) {
    EXPECT_LE(chunk.size(), kMaxChunkBytes);
    joined += chunk;
  }
  EXPECT_EQ(joined, text);
}

// Wikipedia's BPE example: aaabdaaabac -> Z=aa, Y=ab, X=ZY.
TEST(BpeTrainerTest, LearnsTheTextbookMerges) {
  BpeTrainer trainer;
  trainer.AddText("aaabdaaabac");
  auto bpe = trainer.Train(259);
  ASSERT_TRUE(bpe.ok()) << bpe.status();
  EXPECT_EQ(bpe->merges(), (std::vector<BpeTokenizer::Merge>{{'a', 'a'}, {'a', 'b'}, {256, 257}}));
  EXPECT_EQ(bpe->TokenBytes(258), "aaab");
  std::vector<uint32_t> tokens;
  bpe->Encode("aaabdaaabac", tokens);
  EXPECT_EQ(tokens, (std::vector<uint32_t>{258, 'd', 258, 'a', 'c'}));
}

TEST(BpeTrainerTest, LearnsExactlyTheVocabularyAndCompresses) {
  const std::string text = SampleText(400, 2);
  BpeTrainer trainer;
  trainer.AddText(text);
  for (uint32_t vocab : {257u, 280u, 320u}) {
    auto bpe = trainer.Train(vocab);
    ASSERT_TRUE(bpe.ok()) << bpe.status();
    EXPECT_EQ(bpe->vocab_size(), vocab);
    EXPECT_EQ(bpe->merges().size(), vocab - 256u);
  }
  auto bpe = trainer.Train(320);
  ASSERT_TRUE(bpe.ok());
  std::vector<uint32_t> tokens;
  bpe->Encode(text, tokens);
  // 15 distinct words: whole words become tokens.
  EXPECT_LT(static_cast<double>(tokens.size()), 0.3 * static_cast<double>(text.size()));
  // Training is deterministic.
  auto again = trainer.Train(320);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->merges(), bpe->merges());
}

TEST(BpeTokenizerTest, RoundTripsUtf8AndBinary) {
  BpeTrainer trainer;
  trainer.AddText(SampleText(200, 3));
  trainer.AddText("naïve café — 日本語のテキスト 🙂🙂 \t\r\n");
  auto bpe = trainer.Train(350);
  ASSERT_TRUE(bpe.ok()) << bpe.status();

  std::vector<std::string> samples = {
      "", "the model learns",
      "naïve café — 日本語のテキスト 🙂🙂 \t\r\n  trailing   ",
      std::string("\0\x01\xff\xfe nul and high bytes", 23), SampleText(30, 99)};
  std::string all_bytes;
  for (int b = 0; b < 256; ++b) all_bytes.push_back(static_cast<char>(b));
  samples.push_back(all_bytes);
  std::mt19937_64 rng(5);
  std::string noise;
  for (int i = 0; i < 5000; ++i) noise.push_back(static_cast<char>(rng() & 0xff));
  samples.push_back(noise);

  for (const std::string& text : samples) {
    std::vector<uint32_t> tokens;
    bpe->Encode(text, tokens);
    for (uint32_t t : tokens) ASSERT_LT(t, bpe->vocab_size());
    auto decoded = bpe->Decode(tokens);
    ASSERT_TRUE(decoded.ok()) << decoded.status();
    EXPECT_EQ(*decoded, text);
    // The memo gives the same tokens as a fresh encoding.
    std::vector<uint32_t> again;
    bpe->Encode(text, again);
    EXPECT_EQ(again, tokens);
  }
  EXPECT_EQ(bpe->Decode(std::vector<uint32_t>{1, 350}).status().code(),
            absl::StatusCode::kOutOfRange);
}

TEST(BpeTokenizerTest, JsonRoundTrip) {
  BpeTrainer trainer;
  trainer.AddText(SampleText(100, 4));
  auto bpe = trainer.Train(300);
  ASSERT_TRUE(bpe.ok());
  auto loaded = BpeTokenizer::FromJson(bpe->ToJson(), "tokenizer.json");
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(loaded->merges(), bpe->merges());
  std::vector<uint32_t> a, b;
  bpe->Encode("the scaling law falls", a);
  loaded->Encode("the scaling law falls", b);
  EXPECT_EQ(a, b);
}

TEST(BpeTokenizerTest, ClearErrors) {
  EXPECT_EQ(BpeTokenizer::FromMerges({{'a', 'b'}, {300, 'c'}}).status().code(),
            absl::StatusCode::kInvalidArgument);
  auto repeated = BpeTokenizer::FromMerges({{'a', 'b'}, {'a', 'b'}});
  EXPECT_NE(repeated.status().message().find("merges[1]"), std::string::npos) << repeated.status();
  auto bad_json = BpeTokenizer::FromJson(
      R"({"type": "bpe", "pretokenizer": "gpt2-bytes-v1", "vocab_size": 258, "merges": [[97, 98]]})",
      "t.json");
  EXPECT_EQ(bad_json.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(bad_json.status().message().find("vocab_size"), std::string::npos) << bad_json.status();

  BpeTrainer trainer;
  trainer.AddText("abab abab");
  EXPECT_EQ(trainer.Train(256).status().code(), absl::StatusCode::kInvalidArgument);
  auto too_many = trainer.Train(1000);
  EXPECT_EQ(too_many.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(too_many.status().message().find("only"), std::string::npos) << too_many.status();
}

}  // namespace
}  // namespace scalelaw::data

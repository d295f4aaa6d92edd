#include "data/meta.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

namespace scalelaw::data {
namespace {

DatasetMeta Example() {
  DatasetMeta meta;
  meta.tokenizer = "bpe";
  meta.tokenizer_file = "tokenizer.json";
  meta.vocab_size = 4096;
  meta.dtype = TokenDtype::kUint16;
  meta.train_tokens = 123456;
  meta.val_tokens = 7890;
  meta.train_bytes = 500000;
  meta.val_bytes = 30000;
  meta.val_fraction = 0.05;
  meta.documents = 100;
  meta.train_documents = 95;
  meta.val_documents = 5;
  meta.inputs = {"/a", "/b/c.txt"};
  return meta;
}

TEST(DatasetMetaTest, JsonHasTheStableFieldsAndRoundTrips) {
  const std::string json = DatasetMetaToJson(Example());
  const nlohmann::json doc = nlohmann::json::parse(json);
  EXPECT_EQ(doc["vocab_size"], 4096);
  EXPECT_EQ(doc["tokenizer"], "bpe");
  EXPECT_EQ(doc["dtype"], "uint16");
  EXPECT_EQ(doc["train_tokens"], 123456);
  EXPECT_EQ(doc["val_tokens"], 7890);
  EXPECT_EQ(doc["val_fraction"], 0.05);
  EXPECT_EQ(doc["documents"], 100);
  EXPECT_EQ(doc["inputs"].size(), 2u);

  auto parsed = ParseDatasetMeta(json, "meta.json");
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->vocab_size, 4096u);
  EXPECT_EQ(parsed->tokenizer_file, "tokenizer.json");
  EXPECT_EQ(parsed->train_bytes, 500000u);
  EXPECT_EQ(parsed->val_documents, 5u);
  EXPECT_EQ(parsed->inputs, Example().inputs);
}

TEST(DatasetMetaTest, MinimalHandWrittenMetaIsEnough) {
  auto parsed = ParseDatasetMeta(
      R"({"vocab_size": 50257, "tokenizer": "gpt2", "dtype": "uint16",
          "train_tokens": 10, "val_tokens": 5})",
      "meta.json");
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->tokenizer, "gpt2");
  EXPECT_EQ(parsed->documents, 0u);
}

TEST(DatasetMetaTest, ErrorsNameTheField) {
  auto error = [](const std::string& json) {
    auto parsed = ParseDatasetMeta(json, "DIR/meta.json");
    EXPECT_FALSE(parsed.ok());
    EXPECT_EQ(parsed.status().code(), absl::StatusCode::kDataLoss);
    return std::string(parsed.status().message());
  };
  EXPECT_NE(error(R"({"tokenizer": "byte", "dtype": "uint16", "train_tokens": 1,
                      "val_tokens": 1})")
                .find("DIR/meta.json: vocab_size: missing"),
            std::string::npos);
  EXPECT_NE(error(R"({"vocab_size": "big", "tokenizer": "byte", "dtype": "uint16",
                      "train_tokens": 1, "val_tokens": 1})")
                .find("vocab_size: expected a non-negative integer"),
            std::string::npos);
  EXPECT_NE(error(R"({"vocab_size": 256, "tokenizer": "byte", "dtype": "int8",
                      "train_tokens": 1, "val_tokens": 1})")
                .find("dtype"),
            std::string::npos);
  EXPECT_NE(error(R"({"vocab_size": 70000, "tokenizer": "bpe", "dtype": "uint16",
                      "train_tokens": 1, "val_tokens": 1})")
                .find("uint16 cannot hold vocab_size 70000"),
            std::string::npos);
  EXPECT_NE(error("[1, 2]").find("not a JSON object"), std::string::npos);
  EXPECT_EQ(ReadDatasetMeta("/nonexistent/meta.json").status().code(), absl::StatusCode::kNotFound);
}

// Found by fuzz/dataset_meta_fuzzer.cc: a field nested 100,000 deep
// overflowed the stack while its error message dumped it.
TEST(DatasetMetaTest, RefusesDeepNestingInsteadOfOverflowingTheStack) {
  const std::string deep = std::string(100000, '[') + std::string(100000, ']');
  auto parsed = ParseDatasetMeta("{\"vocab_size\": " + deep + "}", "DIR/meta.json");
  ASSERT_FALSE(parsed.ok());
  EXPECT_EQ(parsed.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(std::string(parsed.status().message())
                .find("DIR/meta.json: JSON nested deeper than 256 levels"),
            std::string::npos);
}

}  // namespace
}  // namespace scalelaw::data

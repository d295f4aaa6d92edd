#include "fitting/runs_json.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace scalelaw::fitting {
namespace {

using ::testing::HasSubstr;

TEST(RunsJsonTest, ReadsArrayWithAliasesAndOptionalFields) {
  auto runs = ParseRunsJson(
      R"([{"N": 1e6, "D": "2e7", "loss": 3.2, "id": "a"},
          {"model_size": 2e6, "training_tokens": 4e7, "loss": 3.0, "compute": 5e14, "x": 1}])",
      "runs.json");
  ASSERT_TRUE(runs.ok()) << runs.status();
  ASSERT_EQ(runs->size(), 2u);
  EXPECT_DOUBLE_EQ((*runs)[0].tokens, 2e7);
  EXPECT_EQ((*runs)[0].id, "a");
  EXPECT_DOUBLE_EQ((*runs)[1].params, 2e6);
  EXPECT_DOUBLE_EQ((*runs)[1].flops, 5e14);
  EXPECT_EQ((*runs)[1].id, "record:2");
}

TEST(RunsJsonTest, ReadsJsonLines) {
  auto runs = ParseRunsJson(
      "{\"params\":1e6,\"tokens\":2e7,\"loss\":3}\n\n"
      "{\"params\":2e6,\"tokens\":2e7,\"loss\":2.9}\n",
      "runs.jsonl");
  ASSERT_TRUE(runs.ok()) << runs.status();
  EXPECT_EQ(runs->size(), 2u);
}

TEST(RunsJsonTest, ErrorsNameRecordAndKey) {
  auto bad = ParseRunsJson(R"([{"params":1e6,"tokens":2e7,"loss":3},
                              {"params":1e6,"tokens":2e7,"loss":"abc"}])",
                           "runs.json");
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(
      std::string(bad.status().message()),
      HasSubstr("runs.json: record 2, key 'loss': expected a positive number, got \"abc\""));
  auto missing = ParseRunsJson(R"([{"params":1e6,"loss":3}])", "runs.json");
  ASSERT_FALSE(missing.ok());
  EXPECT_THAT(std::string(missing.status().message()),
              HasSubstr("record 1: missing key 'tokens' (accepted: tokens, training_tokens, D)"));
  auto negative = ParseRunsJson(R"([{"params":-1,"tokens":2e7,"loss":3}])", "runs.json");
  EXPECT_FALSE(negative.ok());
  auto broken = ParseRunsJson("[{", "runs.json");
  ASSERT_FALSE(broken.ok());
  EXPECT_THAT(std::string(broken.status().message()), HasSubstr("not valid JSON"));
}

// Found by fuzz/runs_json_fuzzer.cc (and issue 20): 100,000 nested arrays
// overflowed the stack when the parsed records were copied. Refused now,
// in both forms; a record with a few nested extras still reads.
TEST(RunsJsonTest, RefusesDeepNestingInsteadOfOverflowingTheStack) {
  const std::string deep = std::string(100000, '[') + std::string(100000, ']');
  auto array = ParseRunsJson("[{\"params\":1e6,\"tokens\":2e7,\"loss\":3,\"x\":" + deep + "}]",
                             "runs.json");
  ASSERT_FALSE(array.ok());
  EXPECT_EQ(array.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(array.status().message()),
              HasSubstr("runs.json: JSON nested deeper than 256 levels"));
  auto lines = ParseRunsJson("{\"params\":1e6,\"tokens\":2e7,\"loss\":3}\n{\"x\":" + deep + "}\n",
                             "runs.jsonl");
  ASSERT_FALSE(lines.ok());
  EXPECT_THAT(std::string(lines.status().message()),
              HasSubstr("runs.jsonl: line 2: JSON nested deeper than 256 levels"));
  auto nested = ParseRunsJson(R"([{"params":1e6,"tokens":2e7,"loss":3,"x":[[{"y":["]]]]"]}]]}])",
                              "runs.json");
  EXPECT_TRUE(nested.ok()) << nested.status();
}

}  // namespace
}  // namespace scalelaw::fitting

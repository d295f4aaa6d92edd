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

}  // namespace
}  // namespace scalelaw::fitting

#include "fitting/runs_csv.h"

#include <cstdio>
#include <fstream>

#include "gtest/gtest.h"

namespace scalelaw::fitting {
namespace {

TEST(RunsCsvTest, ReadsColumnsInAnyOrderAndIgnoresOthers) {
  const absl::StatusOr<std::vector<Observation>> runs = ParseRunsCsv(
      "loss,lr,tokens,id,params\n2.5,3e-4,2e9,small,1e8\n2.1,1e-4,2e10,big,1e9\n", "runs.csv");
  ASSERT_TRUE(runs.ok()) << runs.status();
  ASSERT_EQ(runs->size(), 2u);
  EXPECT_EQ((*runs)[0].params, 1e8);
  EXPECT_EQ((*runs)[0].tokens, 2e9);
  EXPECT_EQ((*runs)[0].loss, 2.5);
  EXPECT_EQ((*runs)[0].flops, 0);
  EXPECT_EQ((*runs)[1].id, "big");
}

TEST(RunsCsvTest, AcceptsAliasesQuotesCrlfAndBlankLines) {
  const absl::StatusOr<std::vector<Observation>> runs = ParseRunsCsv(
      "\"model_size\",training_tokens,loss,compute,budget\r\n"
      "\"1e8\",2e9,2.5,1.3e18,1e18\r\n"
      "\r\n"
      "1e9,2e10,2.1,,\r\n\r\n\n",
      "runs.csv");
  ASSERT_TRUE(runs.ok()) << runs.status();
  ASSERT_EQ(runs->size(), 2u);
  EXPECT_EQ((*runs)[0].params, 1e8);
  EXPECT_EQ((*runs)[0].flops, 1.3e18);
  EXPECT_EQ((*runs)[0].budget, 1e18);
  EXPECT_EQ((*runs)[1].flops, 0);
  EXPECT_EQ((*runs)[1].id, "line:4");

  const absl::StatusOr<std::vector<Observation>> short_names =
      ParseRunsCsv("N,D,loss\n1e8,2e9,2.5\n", "short.csv");
  ASSERT_TRUE(short_names.ok()) << short_names.status();
  EXPECT_EQ((*short_names)[0].tokens, 2e9);
}

TEST(RunsCsvTest, MissingColumnNamesTheAliases) {
  const absl::StatusOr<std::vector<Observation>> runs =
      ParseRunsCsv("params,loss\n1e8,2.5\n", "runs.csv");
  EXPECT_EQ(runs.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(runs.status().message(),
            "runs.csv: missing column 'tokens' (also accepted: training_tokens, D)");
}

TEST(RunsCsvTest, NonNumericCellNamesLineAndColumn) {
  const absl::StatusOr<std::vector<Observation>> runs =
      ParseRunsCsv("params,tokens,loss\n1e8,2e9,2.5\n\n1e9,2e10,abc\n", "runs.csv");
  EXPECT_EQ(runs.status().message(),
            "runs.csv: line 4, column 'loss': expected a number, got 'abc'");
}

TEST(RunsCsvTest, RejectsNonPositiveAndNanWithLineAndColumn) {
  absl::StatusOr<std::vector<Observation>> runs =
      ParseRunsCsv("params,tokens,loss\n-1e8,2e9,2.5\n", "runs.csv");
  EXPECT_EQ(runs.status().message(),
            "runs.csv: line 2, column 'params': expected a positive finite number, got '-1e8'");
  runs = ParseRunsCsv("params,tokens,loss\n1e8,0,2.5\n", "runs.csv");
  EXPECT_NE(runs.status().message().find("line 2, column 'tokens'"), std::string::npos);
  runs = ParseRunsCsv("params,tokens,loss\n1e8,2e9,nan\n", "runs.csv");
  EXPECT_EQ(runs.status().message(),
            "runs.csv: line 2, column 'loss': expected a positive finite number, got 'nan'");
  runs = ParseRunsCsv("params,tokens,loss\n1e8,2e9\n", "runs.csv");
  EXPECT_EQ(runs.status().message(), "runs.csv: line 2: expected 3 fields as in the header, got 2");
}

TEST(RunsCsvTest, RejectsTwoNamesForOneColumnAndEmptyInput) {
  EXPECT_FALSE(ParseRunsCsv("params,N,tokens,loss\n1,1,1,1\n", "runs.csv").ok());
  EXPECT_FALSE(ParseRunsCsv("\n\n", "runs.csv").ok());
}

TEST(RunsCsvTest, ReadsAFileAndNamesAMissingOne) {
  const std::string path = ::testing::TempDir() + "/runs_csv_test.csv";
  {
    std::ofstream out(path);
    out << "params,tokens,loss\n1e8,2e9,2.5\n";
  }
  const absl::StatusOr<std::vector<Observation>> runs = ReadRunsCsv(path);
  ASSERT_TRUE(runs.ok()) << runs.status();
  EXPECT_EQ(runs->size(), 1u);
  std::remove(path.c_str());
  const absl::StatusOr<std::vector<Observation>> missing = ReadRunsCsv(path);
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(missing.status().message().find(path), std::string::npos);
}

}  // namespace
}  // namespace scalelaw::fitting

#include "data/text_documents.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

#include "data/test_files.h"

namespace scalelaw::data {
namespace {

using TextDocumentsTest = ScratchDirectoryTest;

TEST(Fnv1aTest, MatchesReferenceVectors) {
  EXPECT_EQ(Fnv1a64(""), 0xcbf29ce484222325ull);
  EXPECT_EQ(Fnv1a64("a"), 0xaf63dc4c8601ec8cull);
  EXPECT_EQ(Fnv1a64("foobar"), 0x85944171f73967e8ull);
}

TEST_F(TextDocumentsTest, SortedRelativePathsAndAStableSplit) {
  WriteDocuments();
  Write("text/empty.txt", "");
  auto docs = ListTextDocuments({Path("text")}, 0.3);
  ASSERT_TRUE(docs.ok()) << docs.status();
  ASSERT_EQ(docs->size(), 60u);  // the empty file is not a document
  std::set<std::string> seen;
  int in_val = 0;
  for (size_t i = 0; i < docs->size(); ++i) {
    const TextDocument& doc = (*docs)[i];
    if (i > 0) {
      EXPECT_LT((*docs)[i - 1].path, doc.path);
    }
    EXPECT_TRUE(seen.insert(doc.relative).second);
    EXPECT_EQ(doc.validation, IsValidationDocument(doc.relative, 0.3));
    EXPECT_EQ(doc.bytes, Read("text/" + doc.relative).size());
    in_val += doc.validation;
  }
  EXPECT_TRUE(seen.count("sub/deeper/doc2.txt"));
  EXPECT_GT(in_val, 5);
  EXPECT_LT(in_val, 30);
}

TEST_F(TextDocumentsTest, FilesAndDirectoriesInTheOrderGiven) {
  WriteDocuments();
  Write("single.txt", "one file\n");
  auto docs = ListTextDocuments({Path("single.txt"), Path("text/sub/deeper")}, 0.5);
  ASSERT_TRUE(docs.ok()) << docs.status();
  ASSERT_EQ(docs->size(), 21u);
  EXPECT_EQ(docs->front().relative, "single.txt");
  EXPECT_EQ((*docs)[1].relative, "doc11.txt");
  auto text = ReadTextDocument(docs->front());
  ASSERT_TRUE(text.ok());
  EXPECT_EQ(*text, "one file\n");
}

TEST_F(TextDocumentsTest, ClearErrors) {
  auto missing = ListTextDocuments({Path("absent")}, 0.1);
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(missing.status().message().find("absent"), std::string::npos);
  EXPECT_EQ(ListTextDocuments({Path("text")}, 1.0).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace scalelaw::data

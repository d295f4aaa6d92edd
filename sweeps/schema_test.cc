// sweeps/schema/sweep.schema.json and the spec parser must know the same keys,
// at every level: the schema is what users' editors and tools validate against.
// For each object of the schema, a spec with an unknown key there makes the
// parser list the keys it expects; the two lists must be equal.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <string>

#include "absl/strings/str_split.h"
#include "sweeps/spec_parser.h"

namespace scalelaw::sweeps {
namespace {

nlohmann::json Schema() {
  const char* source_dir = std::getenv("SCALELAW_SOURCE_DIR");  // set by ctest
  const std::string path =
      std::string(source_dir != nullptr ? source_dir : ".") + "/sweeps/schema/sweep.schema.json";
  std::ifstream in(path);
  EXPECT_TRUE(in.good()) << path;
  return nlohmann::json::parse(in);
}

std::set<std::string> SchemaKeys(const nlohmann::json& object) {
  std::set<std::string> keys;
  for (const auto& [key, value] : object.at("properties").items()) keys.insert(key);
  return keys;
}

// The keys the parser expects where `yaml` puts the key "not_a_key".
std::set<std::string> ParserKeys(const std::string& yaml) {
  auto spec = ParseSweepSpec(yaml, "schema.yaml");
  EXPECT_FALSE(spec.ok()) << yaml;
  const std::string message(spec.status().message());
  const std::string marker = "unknown key (expected one of: ";
  const size_t start = message.find(marker);
  EXPECT_NE(start, std::string::npos) << message;
  if (start == std::string::npos) return {};
  const size_t end = message.find(')', start);
  std::set<std::string> keys;
  for (absl::string_view key : absl::StrSplit(
           message.substr(start + marker.size(), end - start - marker.size()), ", ")) {
    keys.insert(std::string(key));
  }
  return keys;
}

TEST(SpecSchemaTest, SchemaAndParserKnowTheSameKeys) {
  const nlohmann::json schema = Schema();
  const std::string base = "name: s\nmodels: [1e5]\ntokens: [1e6]\n";
  const nlohmann::json& top = schema.at("properties");
  EXPECT_EQ(SchemaKeys(schema), ParserKeys(base + "not_a_key: 1\n"));
  for (const char* section : {"optimizer", "data", "training", "isoflop", "launcher", "forecast"}) {
    SCOPED_TRACE(section);
    EXPECT_EQ(SchemaKeys(top.at(section)),
              ParserKeys(base + section + ":\n  not_a_key: 1\n"));
  }
  const nlohmann::json& launcher = top.at("launcher").at("properties");
  for (const char* section : {"resources", "slurm", "kubernetes"}) {
    SCOPED_TRACE(section);
    EXPECT_EQ(SchemaKeys(launcher.at(section)),
              ParserKeys(base + "launcher:\n  " + section + ":\n    not_a_key: 1\n"));
  }
  const nlohmann::json& batch_rule = top.at("training").at("properties").at("batch_rule");
  EXPECT_EQ(SchemaKeys(batch_rule), ParserKeys(base + "training:\n  batch_rule:\n    not_a_key: 1\n"));
  EXPECT_EQ(SchemaKeys(batch_rule.at("properties").at("critical_batch").at("items")),
            ParserKeys(base + "training:\n  batch_rule:\n    critical_batch: [{not_a_key: 1}]\n"));
  EXPECT_EQ(SchemaKeys(top.at("forecast").at("properties").at("targets").at("items")),
            ParserKeys(base + "forecast:\n  targets: [{not_a_key: 1}]\n"));
  const nlohmann::json& sizes = top.at("models").at("items").at("oneOf");
  EXPECT_EQ(SchemaKeys(sizes.at(2).at("properties").at("shape")),
            ParserKeys("name: s\nmodels: [{shape: {not_a_key: 1}}]\ntokens: [1e6]\n"));
}

}  // namespace
}  // namespace scalelaw::sweeps

#include "sweeps/safe_path.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "sweeps/spec_parser.h"
#include "sweeps/spec_validator.h"

namespace scalelaw::sweeps {
namespace {

using ::testing::HasSubstr;

TEST(SafeNameTest, AcceptsIdsTheCoordinatorMakes) {
  for (const char* name : {"quickstart-1", "quickstart-1-t003", "a", "A_b.c-9", "target0"}) {
    EXPECT_TRUE(IsSafeName(name)) << name;
  }
  EXPECT_TRUE(IsSafeName(std::string(kMaxNameLength, 'x')));
}

TEST(SafeNameTest, RefusesWhatCouldNameAnotherDirectory) {
  const std::string nul("a\0b", 3);
  for (const std::string& name :
       {std::string(""), std::string("."), std::string(".."), std::string(".hidden"),
        std::string("../../../escaped-1"), std::string("/etc/cron.d"), std::string("a/b"),
        std::string("a b"), nul, std::string(kMaxNameLength + 1, 'x'), std::string("a\nb")}) {
    EXPECT_FALSE(IsSafeName(name)) << Printable(name);
  }
  const absl::Status status = CheckSafeName("trial_id", "../../../escaped-1");
  EXPECT_TRUE(absl::IsInvalidArgument(status));
  EXPECT_THAT(std::string(status.message()), HasSubstr("trial_id: must be a plain name"));
  EXPECT_THAT(std::string(status.message()), HasSubstr("'../../../escaped-1'"));
  // A NUL byte is shown escaped, never cut the message short.
  EXPECT_THAT(std::string(CheckSafeName("sweep_id", nul).message()), HasSubstr("a\\x00"));
  // A long id is cut, so an error never grows with its input.
  EXPECT_LT(CheckSafeName("trial_id", std::string(100000, '/')).message().size(), 300u);
}

TEST(SafePathTest, PathTextRefusesNulNewlineAndDotDot) {
  EXPECT_TRUE(CheckPathText("data.corpus", "/data/corpus").ok());
  EXPECT_TRUE(CheckPathText("data.corpus", "corpus/./v2").ok());
  EXPECT_TRUE(CheckPathText("data.corpus", "").ok());
  EXPECT_TRUE(CheckPathText("data.corpus", "/data/a..b").ok());  // not a component
  for (const std::string& path :
       {std::string("../corpus"), std::string("/data/../root"), std::string("/data/.."),
        std::string("/data\0/etc", 10), std::string("/data\n")}) {
    const absl::Status status = CheckPathText("data.corpus", path);
    EXPECT_TRUE(absl::IsInvalidArgument(status)) << Printable(path);
    EXPECT_THAT(std::string(status.message()), HasSubstr("data.corpus: "));
  }
}

TEST(SafePathTest, WritableDirectoryRefusesRootAndSystemDirectories) {
  for (const char* path : {"/scratch/ckpt", "/tmp/x", "/home/u/ckpt", "/var/tmp/c", "ckpt",
                           "runs/ckpt", "/shared/etc", "/usrdata", "/mnt/lib"}) {
    EXPECT_TRUE(CheckWritableDirectory("training.checkpoint_dir", path).ok()) << path;
  }
  for (const char* path :
       {"/", "//", "/etc", "/etc/cron.d", "/etc/", "/./etc/cron.d", "/usr/local", "/proc/self",
        "/sys/kernel", "/dev/shm", "/boot", "/bin", "/sbin", "/lib", "/lib64/x", "/root",
        "/root/.ssh", "/var/lib/dpkg", "/var/spool/cron"}) {
    const absl::Status status = CheckWritableDirectory("training.checkpoint_dir", path);
    EXPECT_TRUE(absl::IsInvalidArgument(status)) << path;
    EXPECT_THAT(std::string(status.message()), HasSubstr("training.checkpoint_dir: must not be"))
        << path;
  }
}

TEST(SafePathTest, RootsContainPathsLexically) {
  EXPECT_TRUE(IsUnder("/shared/ckpt", "/shared", "/"));
  EXPECT_TRUE(IsUnder("/shared", "/shared/", "/"));
  EXPECT_TRUE(IsUnder("ckpt", "/work", "/work/run"));
  EXPECT_FALSE(IsUnder("/sharedx/ckpt", "/shared", "/"));
  EXPECT_FALSE(IsUnder("/shared/../etc", "/shared", "/"));
  EXPECT_FALSE(IsUnder("ckpt", "/work", "/home"));
  EXPECT_TRUE(CheckUnderRoots("data.corpus", "/etc", {}, "/").ok());  // no roots: anywhere
  const absl::Status status = CheckUnderRoots("data.corpus", "/root", {"/data", "/shared"}, "/");
  EXPECT_TRUE(absl::IsInvalidArgument(status));
  EXPECT_THAT(std::string(status.message()),
              HasSubstr("data.corpus: must lie under one of /data, /shared"));
}

TEST(SafePathTest, JoinSafeNameStaysUnderTheRoot) {
  auto joined = JoinSafeName("trial_id", "/ckpt", "s-1-t000");
  ASSERT_TRUE(joined.ok()) << joined.status();
  EXPECT_EQ(*joined, "/ckpt/s-1-t000");
  auto relative = JoinSafeName("trial_id", ".", "s-1-t000");
  ASSERT_TRUE(relative.ok()) << relative.status();
  for (const char* name : {"../../../escaped-1", "/etc/cron.d/x", "..", ".", ""}) {
    auto refused = JoinSafeName("trial_id", "/ckpt", name);
    EXPECT_TRUE(absl::IsInvalidArgument(refused.status())) << name;
  }
}

// The validator applies the rules to the spec's own fields.
class SpecPathValidationTest : public ::testing::Test {
 protected:
  v1::SweepSpec Valid() {
    auto spec = ParseSweepSpec("name: a\nmodels: [1e5]\ntokens: [1e6]\n", "a.yaml");
    EXPECT_TRUE(spec.ok()) << spec.status();
    return *spec;
  }
  std::string Error(const v1::SweepSpec& spec) {
    const absl::Status status = ValidateSweepSpec(spec);
    EXPECT_TRUE(absl::IsInvalidArgument(status)) << status;
    return std::string(status.message());
  }
};

TEST_F(SpecPathValidationTest, RefusesUnsafeNamesAndPaths) {
  v1::SweepSpec spec = Valid();
  ASSERT_TRUE(ValidateSweepSpec(spec).ok());

  spec.set_name("..");
  EXPECT_THAT(Error(spec), HasSubstr("name: must be a plain name"));
  spec.set_name(".hidden");
  EXPECT_THAT(Error(spec), HasSubstr("name: must be a plain name"));
  spec.set_name(std::string("a\0b", 3));
  EXPECT_THAT(Error(spec), HasSubstr("name: "));

  spec = Valid();
  spec.mutable_training()->set_checkpoint_dir("/etc/cron.d");
  EXPECT_THAT(Error(spec), HasSubstr("training.checkpoint_dir: must not be in the system "
                                     "directory /etc"));
  spec.mutable_training()->set_checkpoint_dir("/scratch/../etc");
  EXPECT_THAT(Error(spec), HasSubstr("training.checkpoint_dir: must not contain a '..'"));
  spec.mutable_training()->set_checkpoint_dir(std::string("/scratch\0/x", 11));
  EXPECT_THAT(Error(spec), HasSubstr("training.checkpoint_dir: must be a path without NUL"));
  spec.mutable_training()->set_checkpoint_dir("/scratch/ckpt");
  EXPECT_TRUE(ValidateSweepSpec(spec).ok());
  spec.mutable_training()->set_checkpoint_dir("runs/ckpt");  // relative: allowed
  EXPECT_TRUE(ValidateSweepSpec(spec).ok());

  spec = Valid();
  spec.mutable_data()->set_corpus("/data/../root");
  EXPECT_THAT(Error(spec), HasSubstr("data.corpus: must not contain a '..'"));
  spec.mutable_data()->set_corpus(std::string("/data\0", 6));
  EXPECT_THAT(Error(spec), HasSubstr("data.corpus: must be a path without NUL"));
}

TEST_F(SpecPathValidationTest, RefusesUnsafeForecastTargetNames) {
  auto spec = ParseSweepSpec(
      "name: a\nmodels: [1e5, 2e5, 4e5]\ntokens: [1e6, 2e6]\n"
      "forecast: {targets: [{name: ../up, target_params: 1e7, tokens: 2e8}]}\n",
      "a.yaml");
  ASSERT_FALSE(spec.ok());
  EXPECT_THAT(std::string(spec.status().message()),
              HasSubstr("forecast.targets[0].name: must be a plain name"));
}

}  // namespace
}  // namespace scalelaw::sweeps

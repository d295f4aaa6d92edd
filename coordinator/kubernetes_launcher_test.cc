// The Kubernetes Job manifest, parsed back: what a cluster would run. kubectl
// itself is not packaged here, so the apply/delete calls run against a script
// that records its arguments, as the Slurm launcher's unit test does for
// sbatch (the real-Slurm test is tests/slurm/).
#include "coordinator/kubernetes_launcher.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "coordinator/test_util.h"

namespace scalelaw::coordinator {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::StartsWith;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

SweepLaunch FullLaunch() {
  SweepLaunch launch;
  launch.sweep_id = "grid-3";
  launch.n_trials = 12;
  launch.threads = 2;
  launch.coordinator_address = "sl-coordinator.ml.svc:50051";
  v1::LauncherConfig& config = launch.launcher;
  config.set_kind("kubernetes");
  config.set_workers(4);
  config.mutable_resources()->set_gpus(1);
  config.mutable_resources()->set_cpus(8);
  config.mutable_resources()->set_memory("32G");
  config.mutable_resources()->set_time_limit_minutes(240);
  v1::KubernetesConfig& k8s = *config.mutable_kubernetes();
  k8s.set_image("registry.example.org/scalelaw:0.3");
  k8s.set_namespace_("ml");
  k8s.set_service_account("scalelaw");
  k8s.set_token_secret("sl-token");
  k8s.set_image_pull_policy("Always");
  return launch;
}

std::vector<int> Ints(const YAML::Node& list) {
  std::vector<int> values;
  for (const YAML::Node& value : list) values.push_back(value.as<int>());
  return values;
}

TEST(KubernetesLauncherTest, ManifestIsAnIndexedJobOfWorkersFromTheSpec) {
  auto manifest = JobManifest(FullLaunch());
  ASSERT_TRUE(manifest.ok()) << manifest.status();
  const YAML::Node job = YAML::Load(*manifest);
  EXPECT_EQ(job["apiVersion"].as<std::string>(), "batch/v1");
  EXPECT_EQ(job["kind"].as<std::string>(), "Job");
  EXPECT_EQ(job["metadata"]["name"].as<std::string>(), "scalelaw-grid-3");
  EXPECT_EQ(job["metadata"]["namespace"].as<std::string>(), "ml");
  EXPECT_EQ(job["metadata"]["annotations"]["scalelaw/sweep-id"].as<std::string>(), "grid-3");

  const YAML::Node spec = job["spec"];
  EXPECT_EQ(spec["completionMode"].as<std::string>(), "Indexed");
  // One index per worker (launcher.workers), all at once; a failed index is
  // retried by the Job controller, three times per index at most.
  EXPECT_EQ(spec["completions"].as<int>(), 4);
  EXPECT_EQ(spec["parallelism"].as<int>(), 4);
  EXPECT_EQ(spec["backoffLimit"].as<int>(), 12);

  // Reserved exit codes: refused or bad flags fail the Job at once; stopped
  // with work left, or disrupted, starts a replacement without backoff.
  const YAML::Node rules = spec["podFailurePolicy"]["rules"];
  ASSERT_EQ(rules.size(), 3u);
  EXPECT_EQ(rules[0]["action"].as<std::string>(), "FailJob");
  EXPECT_EQ(rules[0]["onExitCodes"]["operator"].as<std::string>(), "In");
  EXPECT_EQ(rules[0]["onExitCodes"]["containerName"].as<std::string>(), "worker");
  EXPECT_THAT(Ints(rules[0]["onExitCodes"]["values"]), ElementsAre(2, 3));
  EXPECT_EQ(rules[1]["action"].as<std::string>(), "Ignore");
  EXPECT_THAT(Ints(rules[1]["onExitCodes"]["values"]), ElementsAre(75));
  EXPECT_EQ(rules[2]["action"].as<std::string>(), "Ignore");
  EXPECT_EQ(rules[2]["onPodConditions"][0]["type"].as<std::string>(), "DisruptionTarget");

  const YAML::Node pod = spec["template"]["spec"];
  EXPECT_EQ(pod["restartPolicy"].as<std::string>(), "Never");
  EXPECT_EQ(pod["serviceAccountName"].as<std::string>(), "scalelaw");
  EXPECT_EQ(pod["activeDeadlineSeconds"].as<int>(), 240 * 60);
  EXPECT_EQ(pod["terminationGracePeriodSeconds"].as<int>(), 120);
  ASSERT_EQ(pod["containers"].size(), 1u);
  const YAML::Node worker = pod["containers"][0];
  EXPECT_EQ(worker["name"].as<std::string>(), "worker");
  EXPECT_EQ(worker["image"].as<std::string>(), "registry.example.org/scalelaw:0.3");
  EXPECT_EQ(worker["imagePullPolicy"].as<std::string>(), "Always");
  EXPECT_THAT(worker["command"].as<std::vector<std::string>>(),
              ElementsAre("scalelaw", "worker", "--coordinator", "sl-coordinator.ml.svc:50051",
                          "--sweep", "grid-3", "--exit-when-idle"));
  // The token comes from the Secret, never from the manifest.
  EXPECT_EQ(worker["env"][0]["name"].as<std::string>(), "SCALELAW_TOKEN");
  EXPECT_EQ(worker["env"][0]["valueFrom"]["secretKeyRef"]["name"].as<std::string>(), "sl-token");
  EXPECT_EQ(worker["env"][0]["valueFrom"]["secretKeyRef"]["key"].as<std::string>(), "token");
  for (const char* kind : {"requests", "limits"}) {
    SCOPED_TRACE(kind);
    const YAML::Node quantities = worker["resources"][kind];
    EXPECT_EQ(quantities["cpu"].as<std::string>(), "8");
    EXPECT_EQ(quantities["memory"].as<std::string>(), "32Gi");
    EXPECT_EQ(quantities["nvidia.com/gpu"].as<std::string>(), "1");
  }
}

TEST(KubernetesLauncherTest, DefaultsLeaveOutWhatTheSpecLeavesOut) {
  SweepLaunch launch = FullLaunch();
  launch.n_trials = 3;
  launch.launcher.set_workers(0);  // no limit: one worker per unended trial
  launch.launcher.clear_resources();
  v1::KubernetesConfig& k8s = *launch.launcher.mutable_kubernetes();
  k8s.clear_namespace_();
  k8s.clear_token_secret();
  k8s.clear_service_account();
  k8s.clear_image_pull_policy();
  auto manifest = JobManifest(launch);
  ASSERT_TRUE(manifest.ok()) << manifest.status();
  const YAML::Node job = YAML::Load(*manifest);
  EXPECT_FALSE(job["metadata"]["namespace"]);
  EXPECT_EQ(job["spec"]["parallelism"].as<int>(), 3);
  EXPECT_EQ(job["spec"]["completions"].as<int>(), 3);
  const YAML::Node pod = job["spec"]["template"]["spec"];
  EXPECT_FALSE(pod["serviceAccountName"]);
  EXPECT_FALSE(pod["activeDeadlineSeconds"]);
  EXPECT_FALSE(pod["containers"][0]["env"]);
  EXPECT_FALSE(pod["containers"][0]["imagePullPolicy"]);
  // CPUs default to the spec's threads; no memory or GPU limit.
  EXPECT_EQ(pod["containers"][0]["resources"]["limits"]["cpu"].as<std::string>(), "2");
  EXPECT_FALSE(pod["containers"][0]["resources"]["limits"]["memory"]);
  EXPECT_FALSE(pod["containers"][0]["resources"]["limits"]["nvidia.com/gpu"]);
  // Slurm's "all the memory" (0) is no limit, not a zero one.
  launch.launcher.mutable_resources()->set_memory("0");
  const YAML::Node whole_node = YAML::Load(*JobManifest(launch));
  EXPECT_FALSE(whole_node["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]["memory"]);
}

TEST(KubernetesLauncherTest, RefusesALaunchItCannotExpress) {
  SweepLaunch launch = FullLaunch();
  launch.launcher.mutable_kubernetes()->clear_image();
  auto manifest = JobManifest(launch);
  EXPECT_TRUE(absl::IsInvalidArgument(manifest.status()));
  EXPECT_THAT(std::string(manifest.status().message()), HasSubstr("launcher.kubernetes.image"));
  launch = FullLaunch();
  launch.n_trials = 0;
  EXPECT_TRUE(absl::IsInvalidArgument(JobManifest(launch).status()));
  // Pods without the token would only exit 3: refuse the launch instead.
  launch = FullLaunch();
  launch.token_required = true;
  launch.tls.insecure_token_over_plaintext = true;
  EXPECT_TRUE(JobManifest(launch).ok());
  launch.launcher.mutable_kubernetes()->clear_token_secret();
  manifest = JobManifest(launch);
  EXPECT_TRUE(absl::IsInvalidArgument(manifest.status()));
  EXPECT_THAT(std::string(manifest.status().message()),
              HasSubstr("launcher.kubernetes.token_secret: required"));
}

TEST(KubernetesLauncherTest, TlsComesFromItsSecret) {
  SweepLaunch launch = FullLaunch();
  launch.token_required = true;
  // Off loopback without TLS, the pods would refuse to send the token.
  auto manifest = JobManifest(launch);
  EXPECT_EQ(manifest.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(manifest.status().message()),
              HasSubstr("clear text to sl-coordinator.ml.svc:50051"));
  launch.tls_required = true;
  launch.client_cert_required = true;
  manifest = JobManifest(launch);
  EXPECT_TRUE(absl::IsInvalidArgument(manifest.status()));
  EXPECT_THAT(std::string(manifest.status().message()),
              HasSubstr("launcher.kubernetes.tls_secret: required"));
  launch.launcher.mutable_kubernetes()->set_tls_secret("sl-tls");
  manifest = JobManifest(launch);
  ASSERT_TRUE(manifest.ok()) << manifest.status();
  const YAML::Node pod = YAML::Load(*manifest)["spec"]["template"]["spec"];
  const YAML::Node worker = pod["containers"][0];
  EXPECT_THAT(worker["command"].as<std::vector<std::string>>(),
              ElementsAre("scalelaw", "worker", "--coordinator", "sl-coordinator.ml.svc:50051",
                          "--sweep", "grid-3", "--exit-when-idle", "--tls-ca",
                          "/etc/scalelaw/tls/ca.crt", "--tls-cert", "/etc/scalelaw/tls/tls.crt",
                          "--tls-key", "/etc/scalelaw/tls/tls.key"));
  EXPECT_EQ(worker["volumeMounts"][0]["name"].as<std::string>(), "tls");
  EXPECT_EQ(worker["volumeMounts"][0]["mountPath"].as<std::string>(), "/etc/scalelaw/tls");
  EXPECT_TRUE(worker["volumeMounts"][0]["readOnly"].as<bool>());
  EXPECT_EQ(pod["volumes"][0]["name"].as<std::string>(), "tls");
  EXPECT_EQ(pod["volumes"][0]["secret"]["secretName"].as<std::string>(), "sl-tls");
}

TEST(KubernetesLauncherTest, JobNamesAreDnsLabels) {
  EXPECT_EQ(KubernetesJobName("grid-3"), "scalelaw-grid-3");
  const std::string odd = KubernetesJobName("My_Sweep.2");
  EXPECT_THAT(odd, StartsWith("scalelaw-my-sweep-2-"));
  EXPECT_NE(odd, KubernetesJobName("my-sweep-2"));  // the hash keeps them apart
  const std::string long_name = KubernetesJobName(std::string(100, 'a') + "-1");
  EXPECT_LE(long_name.size(), 63u);
  EXPECT_NE(long_name, KubernetesJobName(std::string(100, 'a') + "-2"));
  // A relaunch gets a name of its own, still a label.
  EXPECT_EQ(KubernetesJobName("grid-3", 2), "scalelaw-grid-3-r2");
  const std::string long_relaunch = KubernetesJobName(std::string(100, 'a') + "-1", 12);
  EXPECT_LE(long_relaunch.size(), 63u);
  EXPECT_THAT(long_relaunch, ::testing::EndsWith("-r12"));
  for (const std::string& name : {odd, long_name, long_relaunch}) {
    for (char c : name) EXPECT_TRUE(std::islower(c) || std::isdigit(c) || c == '-') << name;
  }
}

TEST(KubernetesLauncherTest, MemoryBecomesBinaryQuantities) {
  EXPECT_EQ(KubernetesMemory("16G"), "16Gi");
  EXPECT_EQ(KubernetesMemory("512M"), "512Mi");
  EXPECT_EQ(KubernetesMemory("4000"), "4000Mi");  // Slurm: bare megabytes
}

TEST(KubernetesLauncherTest, WithoutKubectlTheManifestIsWrittenForTheUser) {
  testing::TempDir dir;
  KubernetesLauncher launcher({.manifest_dir = dir.path() / "k8s",
                               .kubectl = (dir.path() / "no-kubectl").string()});
  auto ids = launcher.Launch(FullLaunch());
  ASSERT_TRUE(ids.ok()) << ids.status();
  const std::string path = launcher.ManifestPath("grid-3").string();
  EXPECT_THAT(*ids, ElementsAre("manifest:" + std::filesystem::absolute(path).string()));
  const YAML::Node job = YAML::Load(ReadFile(path));
  EXPECT_EQ(job["metadata"]["name"].as<std::string>(), "scalelaw-grid-3");
  // Nothing was applied, so cancelling has nothing to delete.
  EXPECT_TRUE(launcher.Cancel(*ids).ok());
}

TEST(KubernetesLauncherTest, AppliesAndDeletesWithKubectl) {
  testing::TempDir dir;
  const std::string calls = dir.File("calls");
  const std::string kubectl = dir.File("kubectl");
  std::ofstream(kubectl) << "#!/bin/bash\necho \"$*\" >> '" << calls << "'\n"
                         << "if [ \"$1\" = apply ] && grep -q fail-me \"$3\"; then\n"
                         << "  echo 'error: jobs.batch is forbidden' >&2; exit 1\nfi\n";
  std::filesystem::permissions(kubectl, std::filesystem::perms::owner_all);
  KubernetesLauncher launcher({.manifest_dir = dir.path() / "k8s", .kubectl = kubectl});

  auto ids = launcher.Launch(FullLaunch());
  ASSERT_TRUE(ids.ok()) << ids.status();
  EXPECT_THAT(*ids, ElementsAre("ml/scalelaw-grid-3"));
  ASSERT_TRUE(launcher.Cancel(*ids).ok());
  const std::string manifest = std::filesystem::absolute(launcher.ManifestPath("grid-3")).string();
  EXPECT_EQ(ReadFile(calls), "apply -f " + manifest +
                                 "\ndelete job --ignore-not-found --namespace=ml "
                                 "scalelaw-grid-3\n");

  // A relaunch (sweep resume) applies a Job of its own, never "unchanged".
  SweepLaunch relaunch = FullLaunch();
  relaunch.launch_index = 1;
  auto again = launcher.Launch(relaunch);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_THAT(*again, ElementsAre("ml/scalelaw-grid-3-r1"));
  const std::string second = std::filesystem::absolute(launcher.ManifestPath("grid-3", 1)).string();
  EXPECT_THAT(second, ::testing::EndsWith("/grid-3/job-r1.yaml"));
  EXPECT_EQ(YAML::Load(ReadFile(second))["metadata"]["name"].as<std::string>(),
            "scalelaw-grid-3-r1");

  // kubectl's refusal is the caller's error, with kubectl's words.
  SweepLaunch refused = FullLaunch();
  refused.sweep_id = "fail-me";
  auto failed = launcher.Launch(refused);
  EXPECT_TRUE(absl::IsUnavailable(failed.status()));
  EXPECT_THAT(std::string(failed.status().message()), HasSubstr("jobs.batch is forbidden"));
}

}  // namespace
}  // namespace scalelaw::coordinator

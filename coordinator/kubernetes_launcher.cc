#include "coordinator/kubernetes_launcher.h"

#include <spdlog/spdlog.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <cstdio>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status_macros.h"
#include "coordinator/launch_file.h"
#include "coordinator/subprocess.h"
#include "proto/worker_exit.h"

namespace scalelaw::coordinator {
namespace {

constexpr char kManifestPrefix[] = "manifest:";
// Where launcher.kubernetes.tls_secret is mounted in a worker pod.
constexpr char kTlsMountPath[] = "/etc/scalelaw/tls";

// FNV-1a, for a short stable suffix.
std::string ShortHash(const std::string& text) {
  uint32_t hash = 2166136261u;
  for (unsigned char c : text) hash = (hash ^ c) * 16777619u;
  char hex[9];
  std::snprintf(hex, sizeof(hex), "%08x", hash);
  return hex;
}

void EmitLabels(YAML::Emitter& out, const std::string& job_name) {
  out << YAML::Key << "labels" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "app.kubernetes.io/name" << YAML::Value << "scalelaw";
  out << YAML::Key << "app.kubernetes.io/component" << YAML::Value << "worker";
  out << YAML::Key << "scalelaw/job" << YAML::Value << job_name;
  out << YAML::EndMap;
}

void EmitExitCodeRule(YAML::Emitter& out, const char* action, std::vector<int> codes) {
  out << YAML::BeginMap << YAML::Key << "action" << YAML::Value << action;
  out << YAML::Key << "onExitCodes" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "containerName" << YAML::Value << "worker";
  out << YAML::Key << "operator" << YAML::Value << "In";
  out << YAML::Key << "values" << YAML::Value << YAML::Flow << codes;
  out << YAML::EndMap << YAML::EndMap;
}

void EmitResources(YAML::Emitter& out, const SweepLaunch& launch) {
  const v1::Resources& resources = launch.launcher.resources();
  const uint32_t cpus = resources.cpus() > 0 ? resources.cpus() : std::max(launch.threads, 1u);
  // Requests equal limits: a worker's throughput is measured, so it should
  // not depend on what its neighbours do (Guaranteed QoS when memory is set).
  auto quantities = [&] {
    out << YAML::BeginMap;
    out << YAML::Key << "cpu" << YAML::Value << YAML::DoubleQuoted << std::to_string(cpus);
    // Slurm's --mem=0 means "all of the node's memory": no limit here.
    if (!resources.memory().empty() && std::stoull(resources.memory()) > 0) {
      out << YAML::Key << "memory" << YAML::Value << KubernetesMemory(resources.memory());
    }
    if (resources.gpus() > 0) {
      out << YAML::Key << "nvidia.com/gpu" << YAML::Value << YAML::DoubleQuoted
          << std::to_string(resources.gpus());
    }
    out << YAML::EndMap;
  };
  out << YAML::Key << "resources" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "requests" << YAML::Value;
  quantities();
  out << YAML::Key << "limits" << YAML::Value;
  quantities();
  out << YAML::EndMap;
}

void EmitContainer(YAML::Emitter& out, const SweepLaunch& launch,
                   const std::string& worker_program) {
  const v1::KubernetesConfig& k8s = launch.launcher.kubernetes();
  out << YAML::BeginSeq << YAML::BeginMap;
  out << YAML::Key << "name" << YAML::Value << "worker";
  out << YAML::Key << "image" << YAML::Value << k8s.image();
  if (!k8s.image_pull_policy().empty()) {
    out << YAML::Key << "imagePullPolicy" << YAML::Value << k8s.image_pull_policy();
  }
  out << YAML::Key << "command" << YAML::Value << YAML::BeginSeq << worker_program << "worker"
      << "--coordinator" << launch.coordinator_address << "--sweep" << launch.sweep_id
      << "--exit-when-idle";
  if (launch.tls_required) {
    out << "--tls-ca" << absl::StrCat(kTlsMountPath, "/ca.crt");
    if (launch.client_cert_required) {
      out << "--tls-cert" << absl::StrCat(kTlsMountPath, "/tls.crt") << "--tls-key"
          << absl::StrCat(kTlsMountPath, "/tls.key");
    }
  }
  if (launch.tls.insecure_token_over_plaintext) out << kInsecureTokenFlag;
  out << YAML::EndSeq;
  if (!k8s.token_secret().empty()) {
    out << YAML::Key << "env" << YAML::Value << YAML::BeginSeq << YAML::BeginMap;
    out << YAML::Key << "name" << YAML::Value << "SCALELAW_TOKEN";
    out << YAML::Key << "valueFrom" << YAML::Value << YAML::BeginMap << YAML::Key
        << "secretKeyRef" << YAML::Value << YAML::BeginMap;
    out << YAML::Key << "name" << YAML::Value << k8s.token_secret();
    out << YAML::Key << "key" << YAML::Value << "token";
    out << YAML::EndMap << YAML::EndMap;
    out << YAML::EndMap << YAML::EndSeq;
  }
  if (launch.tls_required) {
    out << YAML::Key << "volumeMounts" << YAML::Value << YAML::BeginSeq << YAML::BeginMap;
    out << YAML::Key << "name" << YAML::Value << "tls";
    out << YAML::Key << "mountPath" << YAML::Value << kTlsMountPath;
    out << YAML::Key << "readOnly" << YAML::Value << true;
    out << YAML::EndMap << YAML::EndSeq;
  }
  EmitResources(out, launch);
  out << YAML::EndMap << YAML::EndSeq;
}

}  // namespace

std::string KubernetesJobName(const std::string& sweep_id, uint32_t launch_index) {
  std::string name = "scalelaw-";
  for (char c : sweep_id) {
    const auto u = static_cast<unsigned char>(c);
    name += std::isalnum(u) ? static_cast<char>(std::tolower(u)) : '-';
  }
  const std::string relaunch = launch_index > 0 ? absl::StrCat("-r", launch_index) : "";
  const bool changed = name != "scalelaw-" + sweep_id;
  constexpr size_t kMaxLength = 63;
  if (changed || name.size() + relaunch.size() > kMaxLength) {
    const std::string suffix = "-" + ShortHash(sweep_id);
    name = name.substr(0, kMaxLength - suffix.size() - relaunch.size());
    while (!name.empty() && name.back() == '-') name.pop_back();
    name += suffix;
  }
  return name + relaunch;
}

std::string KubernetesMemory(const std::string& slurm_memory) {
  if (slurm_memory.empty()) return "";
  const char unit = slurm_memory.back();
  if (std::isdigit(static_cast<unsigned char>(unit))) return slurm_memory + "Mi";
  return slurm_memory + "i";  // K, M, G, T -> Ki, Mi, Gi, Ti
}

absl::StatusOr<std::string> JobManifest(const SweepLaunch& launch,
                                        const std::string& worker_program) {
  if (launch.sweep_id.empty()) return absl::InvalidArgumentError("sweep_id: must not be empty");
  if (launch.n_trials == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("sweep ", launch.sweep_id, ": no trials, so no workers to start"));
  }
  if (launch.coordinator_address.empty()) {
    return absl::InvalidArgumentError("launcher.coordinator_address: must not be empty");
  }
  const v1::KubernetesConfig& k8s = launch.launcher.kubernetes();
  if (k8s.image().empty()) {
    return absl::InvalidArgumentError("launcher.kubernetes.image: required for a Kubernetes Job");
  }
  if (launch.token_required && k8s.token_secret().empty()) {
    return absl::InvalidArgumentError(
        "launcher.kubernetes.token_secret: required, since this coordinator requires a token: "
        "name the Secret (in the Job's namespace) that holds it under the key 'token'");
  }
  if (launch.tls_required && k8s.tls_secret().empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "launcher.kubernetes.tls_secret: required, since this coordinator serves TLS: name the "
        "Secret (in the Job's namespace) that holds 'ca.crt'",
        launch.client_cert_required ? " and the workers' 'tls.crt' and 'tls.key' (mutual TLS)"
                                    : ""));
  }
  SCALELAW_RETURN_IF_ERROR(CheckWorkerTransport(launch));
  const std::string name = KubernetesJobName(launch.sweep_id, launch.launch_index);
  const uint32_t workers = launch.launcher.workers();
  const uint32_t completions = std::min(
      {workers > 0 ? workers : launch.n_trials, launch.n_trials, kMaxJobCompletions});

  YAML::Emitter out;
  out << YAML::BeginMap;
  out << YAML::Key << "apiVersion" << YAML::Value << "batch/v1";
  out << YAML::Key << "kind" << YAML::Value << "Job";
  out << YAML::Key << "metadata" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "name" << YAML::Value << name;
  if (!k8s.namespace_().empty()) out << YAML::Key << "namespace" << YAML::Value << k8s.namespace_();
  EmitLabels(out, name);
  out << YAML::Key << "annotations" << YAML::Value << YAML::BeginMap << YAML::Key
      << "scalelaw/sweep-id" << YAML::Value << launch.sweep_id << YAML::EndMap;
  out << YAML::EndMap;

  out << YAML::Key << "spec" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "completionMode" << YAML::Value << "Indexed";
  out << YAML::Key << "completions" << YAML::Value << completions;
  out << YAML::Key << "parallelism" << YAML::Value << completions;
  out << YAML::Key << "backoffLimit" << YAML::Value << 3 * completions;
  out << YAML::Key << "ttlSecondsAfterFinished" << YAML::Value << 7 * 86400;
  out << YAML::Key << "podFailurePolicy" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "rules" << YAML::Value << YAML::BeginSeq;
  EmitExitCodeRule(out, "FailJob", {worker_exit::kBadFlags, worker_exit::kRefused});
  EmitExitCodeRule(out, "Ignore", {worker_exit::kStoppedWithWorkLeft});
  out << YAML::BeginMap << YAML::Key << "action" << YAML::Value << "Ignore";
  out << YAML::Key << "onPodConditions" << YAML::Value << YAML::BeginSeq << YAML::BeginMap
      << YAML::Key << "type" << YAML::Value << "DisruptionTarget" << YAML::EndMap << YAML::EndSeq;
  out << YAML::EndMap;
  out << YAML::EndSeq << YAML::EndMap;

  out << YAML::Key << "template" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "metadata" << YAML::Value << YAML::BeginMap;
  EmitLabels(out, name);
  out << YAML::EndMap;
  out << YAML::Key << "spec" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "restartPolicy" << YAML::Value << "Never";  // podFailurePolicy needs it
  if (!k8s.service_account().empty()) {
    out << YAML::Key << "serviceAccountName" << YAML::Value << k8s.service_account();
  }
  out << YAML::Key << "terminationGracePeriodSeconds" << YAML::Value << kWorkerGraceSeconds;
  const uint32_t minutes = launch.launcher.resources().time_limit_minutes();
  if (minutes > 0) {
    out << YAML::Key << "activeDeadlineSeconds" << YAML::Value << uint64_t{minutes} * 60;
  }
  out << YAML::Key << "containers" << YAML::Value;
  EmitContainer(out, launch, worker_program);
  if (launch.tls_required) {
    out << YAML::Key << "volumes" << YAML::Value << YAML::BeginSeq << YAML::BeginMap;
    out << YAML::Key << "name" << YAML::Value << "tls";
    out << YAML::Key << "secret" << YAML::Value << YAML::BeginMap << YAML::Key << "secretName"
        << YAML::Value << k8s.tls_secret() << YAML::EndMap;
    out << YAML::EndMap << YAML::EndSeq;
  }
  out << YAML::EndMap << YAML::EndMap << YAML::EndMap << YAML::EndMap;
  if (!out.good()) {
    return absl::InternalError(absl::StrCat("Job manifest: ", out.GetLastError()));
  }
  return absl::StrCat("# scalelaw workers for sweep ", launch.sweep_id,
                      ", written by the coordinator (coordinator/kubernetes_launcher.h).\n"
                      "# Apply with `kubectl apply -f` this file; delete the Job to stop them.\n",
                      out.c_str(), "\n");
}

KubernetesLauncher::KubernetesLauncher(KubernetesLauncherOptions options)
    : options_(std::move(options)) {}

std::filesystem::path KubernetesLauncher::ManifestPath(const std::string& sweep_id,
                                                       uint32_t launch_index) const {
  return options_.manifest_dir / sweep_id /
         (launch_index == 0 ? std::string("job.yaml") : absl::StrCat("job-r", launch_index, ".yaml"));
}

absl::StatusOr<std::vector<std::string>> KubernetesLauncher::Launch(const SweepLaunch& launch) {
  SCALELAW_RETURN_IF_ERROR(RequirePlainSweepId(launch.sweep_id));
  SCALELAW_ASSIGN_OR_RETURN(std::string manifest, JobManifest(launch, options_.worker_program));
  const std::filesystem::path path =
      std::filesystem::absolute(ManifestPath(launch.sweep_id, launch.launch_index));
  SCALELAW_RETURN_IF_ERROR(WriteLaunchFile(path, manifest));
  absl::StatusOr<CommandResult> applied =
      RunCommand({options_.kubectl, "apply", "-f", path.string()}, options_.command_timeout);
  if (absl::IsNotFound(applied.status())) {
    spdlog::warn("sweep {}: no {} here; wrote {}: start the workers with `kubectl apply -f {}`",
                 launch.sweep_id, options_.kubectl, path.string(), path.string());
    return std::vector<std::string>{kManifestPrefix + path.string()};
  }
  if (!applied.ok()) return applied.status();
  if (!applied->ok()) {
    return absl::UnavailableError(absl::StrCat("sweep ", launch.sweep_id, ": ",
                                               applied->Describe("kubectl apply"), " (manifest ",
                                               path.string(), ")"));
  }
  const std::string& ns = launch.launcher.kubernetes().namespace_();
  const std::string name = KubernetesJobName(launch.sweep_id, launch.launch_index);
  return std::vector<std::string>{ns.empty() ? name : absl::StrCat(ns, "/", name)};
}

absl::Status KubernetesLauncher::Cancel(const std::vector<std::string>& job_ids) {
  for (const std::string& id : job_ids) {
    if (id.rfind(kManifestPrefix, 0) == 0) {
      spdlog::warn("the coordinator did not apply {}; if you did, stop it with `kubectl delete -f {}`",
                   id.substr(sizeof(kManifestPrefix) - 1), id.substr(sizeof(kManifestPrefix) - 1));
      continue;
    }
    std::vector<std::string> argv = {options_.kubectl, "delete", "job", "--ignore-not-found"};
    const size_t slash = id.find('/');
    if (slash != std::string::npos) {
      argv.push_back("--namespace=" + id.substr(0, slash));
      argv.push_back(id.substr(slash + 1));
    } else {
      argv.push_back(id);
    }
    SCALELAW_ASSIGN_OR_RETURN(CommandResult result, RunCommand(argv, options_.command_timeout));
    if (!result.ok()) {
      return absl::UnavailableError(absl::StrCat(result.Describe("kubectl delete"), " (job ", id, ")"));
    }
  }
  return absl::OkStatus();
}

}  // namespace scalelaw::coordinator

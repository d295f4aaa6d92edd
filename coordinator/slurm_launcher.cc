#include "coordinator/slurm_launcher.h"

#include <algorithm>
#include <cctype>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/status_macros.h"
#include "coordinator/launch_file.h"
#include "coordinator/subprocess.h"
#include "proto/worker_exit.h"

namespace scalelaw::coordinator {
namespace {

// A value that is written into an #SBATCH directive: one word that sbatch
// reads literally.
absl::Status DirectiveWord(const std::string& field, const std::string& value) {
  for (char c : value) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u == 0x7f || c == '\'' || c == '"' || c == '\\' || c == '`' || c == '$') {
      return absl::InvalidArgumentError(
          absl::StrCat(field,
                       ": must be one word without spaces, quotes, '$' or control "
                       "characters, got '",
                       value, "'"));
    }
  }
  return absl::OkStatus();
}

// Single-quotes `value` for bash: 'it'\''s'.
std::string ShellQuote(const std::string& value) {
  std::string quoted = "'";
  for (char c : value) {
    if (c == '\'') {
      quoted += "'\\''";
    } else {
      quoted += c;
    }
  }
  return quoted + "'";
}

absl::Status NoControlCharacters(const std::string& field, const std::string& value) {
  for (char c : value) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      return absl::InvalidArgumentError(
          absl::StrCat(field, ": must not contain control characters"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

SlurmArray ArrayFor(const SweepLaunch& launch) {
  SlurmArray array;
  array.size = std::min(launch.n_trials, kMaxArrayTasks);
  array.parallel = std::min(launch.launcher.workers(), array.size);
  return array;
}

absl::StatusOr<std::string> SbatchScript(const SweepLaunch& launch,
                                         const std::string& scalelaw_binary,
                                         const std::string& log_dir) {
  if (launch.n_trials == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("sweep ", launch.sweep_id, ": no trials, so no workers to start"));
  }
  if (launch.sweep_id.empty()) return absl::InvalidArgumentError("sweep_id: must not be empty");
  if (launch.coordinator_address.empty()) {
    return absl::InvalidArgumentError("coordinator_address: must not be empty");
  }
  if (scalelaw_binary.empty() || scalelaw_binary.front() != '/') {
    return absl::InvalidArgumentError(
        absl::StrCat("scalelaw binary: must be an absolute path (compute nodes run it), got '",
                     scalelaw_binary, "'"));
  }
  if (log_dir.empty() || log_dir.front() != '/') {
    return absl::InvalidArgumentError(
        absl::StrCat("log directory: must be an absolute path, got '", log_dir, "'"));
  }
  if (log_dir.find('%') != std::string::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("log directory: must not contain '%' (sbatch expands it in --output), got '",
                     log_dir, "'"));
  }
  SCALELAW_RETURN_IF_ERROR(DirectiveWord("sweep_id", launch.sweep_id));
  SCALELAW_RETURN_IF_ERROR(DirectiveWord("log directory", log_dir));
  SCALELAW_RETURN_IF_ERROR(
      DirectiveWord("launcher.coordinator_address", launch.coordinator_address));
  SCALELAW_RETURN_IF_ERROR(NoControlCharacters("scalelaw binary", scalelaw_binary));
  SCALELAW_RETURN_IF_ERROR(NoControlCharacters("token file", launch.token_file));
  SCALELAW_ASSIGN_OR_RETURN(const std::vector<std::string> tls_args, WorkerTlsArgs(launch));
  for (const std::string& arg : tls_args) {
    SCALELAW_RETURN_IF_ERROR(NoControlCharacters("TLS file", arg));
  }

  const v1::LauncherConfig& config = launch.launcher;
  const v1::Resources& resources = config.resources();
  const v1::SlurmConfig& slurm = config.slurm();
  const std::string signal = slurm.signal().empty() ? "TERM" : slurm.signal();
  SCALELAW_RETURN_IF_ERROR(DirectiveWord("launcher.slurm.signal", signal));
  SCALELAW_RETURN_IF_ERROR(DirectiveWord("launcher.slurm.partition", slurm.partition()));
  SCALELAW_RETURN_IF_ERROR(DirectiveWord("launcher.slurm.account", slurm.account()));
  SCALELAW_RETURN_IF_ERROR(DirectiveWord("launcher.resources.memory", resources.memory()));
  for (int i = 0; i < slurm.extra_args_size(); ++i) {
    const std::string field = absl::StrCat("launcher.slurm.extra_args[", i, "]");
    SCALELAW_RETURN_IF_ERROR(DirectiveWord(field, slurm.extra_args(i)));
    if (slurm.extra_args(i).empty() || slurm.extra_args(i)[0] != '-') {
      return absl::InvalidArgumentError(absl::StrCat(
          field, ": must be an sbatch option starting with '-', got '", slurm.extra_args(i), "'"));
    }
  }

  const SlurmArray array = ArrayFor(launch);
  const uint32_t cpus = resources.cpus() > 0 ? resources.cpus() : std::max(launch.threads, 1u);
  std::vector<std::string> directives = {
      absl::StrCat("--job-name=scalelaw-", launch.sweep_id),
      array.parallel > 0 ? absl::StrCat("--array=0-", array.size - 1, "%", array.parallel)
                         : absl::StrCat("--array=0-", array.size - 1),
      "--requeue",
  };
  // signal_seconds 0: no warning before the time limit.
  if (slurm.signal_seconds() > 0) {
    directives.push_back(absl::StrCat("--signal=B:", signal, "@", slurm.signal_seconds()));
  }
  directives.push_back(absl::StrCat("--cpus-per-task=", cpus));
  if (resources.gpus() > 0) directives.push_back(absl::StrCat("--gres=gpu:", resources.gpus()));
  if (!resources.memory().empty()) directives.push_back("--mem=" + resources.memory());
  if (resources.time_limit_minutes() > 0) {
    directives.push_back(absl::StrCat("--time=", resources.time_limit_minutes()));
  }
  if (!slurm.partition().empty()) directives.push_back("--partition=" + slurm.partition());
  if (!slurm.account().empty()) directives.push_back("--account=" + slurm.account());
  // A requeued task appends to its log, so one file tells its whole story.
  directives.push_back("--open-mode=append");
  directives.push_back(absl::StrCat("--output=", log_dir, "/worker-%A_%a.log"));
  for (const std::string& arg : slurm.extra_args()) directives.push_back(arg);

  std::string script = absl::StrCat(
      "#!/bin/bash\n"
      "# scalelaw workers for sweep ",
      launch.sweep_id,
      ", written by the coordinator (coordinator/slurm_launcher.h;\n"
      "# deploy/slurm/workers.sbatch is the annotated template). `sbatch` this file\n"
      "# to start more workers for the same sweep.\n"
      "#\n"
      "# Each array task is one worker that leases trials until the sweep has no work\n"
      "# left. SIG",
      signal, " ", slurm.signal_seconds(),
      " s before the time limit (and SIGTERM on preemption or scancel)\n"
      "# stops the worker: it checkpoints its trial, gives it back and exits 75 while\n"
      "# the sweep still has work, and the task then requeues itself unless the job\n"
      "# is being cancelled.\n");
  for (const std::string& directive : directives)
    absl::StrAppend(&script, "#SBATCH ", directive, "\n");
  const std::string traps = signal == "TERM" ? "TERM" : absl::StrCat("TERM ", signal);
  absl::StrAppend(&script, "set -u\n\n",                                         //
                  "scalelaw=", ShellQuote(scalelaw_binary), "\n",                //
                  "coordinator=", ShellQuote(launch.coordinator_address), "\n",  //
                  "sweep=", ShellQuote(launch.sweep_id), "\n");
  // The token's file, never the token: this script sits on a shared disk.
  absl::StrAppend(&script, "token_args=(",
                  launch.token_file.empty() ? "" : absl::StrCat("--token-file ", ShellQuote(launch.token_file)),
                  ")\n");
  // TLS files (paths on the shared disk), for a TLS coordinator.
  std::vector<std::string> quoted_tls_args;
  for (const std::string& arg : tls_args) quoted_tls_args.push_back(ShellQuote(arg));
  absl::StrAppend(&script, "tls_args=(", absl::StrJoin(quoted_tls_args, " "), ")\n\n");
  absl::StrAppend(&script, R"(worker=
stop_worker() {
  if [ -n "$worker" ]; then kill -TERM "$worker" 2>/dev/null; fi
}
trap stop_worker )",
                  traps, R"(

echo "scalelaw: job ${SLURM_JOB_ID:-?} (array task ${SLURM_ARRAY_JOB_ID:-?}_${SLURM_ARRAY_TASK_ID:-?}) on $(hostname), restart ${SLURM_RESTART_COUNT:-0}"
"$scalelaw" worker --coordinator "$coordinator" --sweep "$sweep" --exit-when-idle ${token_args[@]+"${token_args[@]}"} ${tls_args[@]+"${tls_args[@]}"} &
worker=$!
# A trapped signal ends `wait` early (status above 128): keep waiting until
# the worker has really ended, then take its own exit status.
while :; do
  wait "$worker"
  status=$?
  if [ "$status" -le 128 ]; then break; fi
  if ! kill -0 "$worker" 2>/dev/null; then
    wait "$worker" 2>/dev/null
    again=$?
    if [ "$again" -ne 127 ]; then status=$again; fi
    break
  fi
done

if [ "$status" -eq )", worker_exit::kStoppedWithWorkLeft, R"( ]; then
  # scancel leaves the job COMPLETING: requeue only a job that still runs.
  state=$(squeue -h -j "${SLURM_JOB_ID:-0}" -o %T 2>/dev/null)
  if [ "$state" = RUNNING ]; then
    echo "scalelaw: the worker stopped with work left; requeueing job $SLURM_JOB_ID"
    scontrol requeue "$SLURM_JOB_ID"
  else
    echo "scalelaw: the worker stopped; job state '$state', not requeueing"
  fi
fi
exit "$status"
)");
  return script;
}

absl::StatusOr<std::string> ParseSbatchJobId(const std::string& output) {
  const std::string line(absl::StripAsciiWhitespace(output));
  const std::string id = std::vector<std::string>(absl::StrSplit(line, ';')).front();
  if (id.empty() || !std::all_of(id.begin(), id.end(), [](char c) {
        return std::isdigit(static_cast<unsigned char>(c));
      })) {
    return absl::InternalError(absl::StrCat(
        "sbatch --parsable printed no job id (expected e.g. '4711'), got '", line, "'"));
  }
  return id;
}

SlurmLauncher::SlurmLauncher(SlurmLauncherOptions options) : options_(std::move(options)) {}

std::filesystem::path SlurmLauncher::ScriptPath(const std::string& sweep_id) const {
  return options_.job_dir / sweep_id / "workers.sbatch";
}

std::filesystem::path SlurmLauncher::LogDir(const std::string& sweep_id) const {
  return options_.job_dir / sweep_id / "logs";
}

absl::StatusOr<std::vector<std::string>> SlurmLauncher::Launch(const SweepLaunch& launch) {
  SCALELAW_RETURN_IF_ERROR(RequirePlainSweepId(launch.sweep_id));
  const std::filesystem::path log_dir = std::filesystem::absolute(LogDir(launch.sweep_id));
  SCALELAW_ASSIGN_OR_RETURN(std::string script,
                            SbatchScript(launch, options_.scalelaw_binary, log_dir.string()));
  const std::filesystem::path path = std::filesystem::absolute(ScriptPath(launch.sweep_id));
  SCALELAW_RETURN_IF_ERROR(WriteLaunchFile(path, script));
  // Slurm opens the workers' logs there and does not create directories.
  SCALELAW_RETURN_IF_ERROR(CreateLaunchDir(log_dir));
  SCALELAW_ASSIGN_OR_RETURN(
      CommandResult result,
      RunCommand({options_.sbatch, "--parsable", path.string()}, options_.command_timeout));
  if (!result.ok()) {
    return absl::UnavailableError(absl::StrCat("sweep ", launch.sweep_id, ": ",
                                               result.Describe("sbatch"), " (script ",
                                               path.string(), ")"));
  }
  SCALELAW_ASSIGN_OR_RETURN(std::string job_id, ParseSbatchJobId(result.out));
  return std::vector<std::string>{job_id};
}

absl::Status SlurmLauncher::Cancel(const std::vector<std::string>& job_ids) {
  if (job_ids.empty()) return absl::OkStatus();
  std::vector<std::string> argv = {options_.scancel};
  for (const std::string& id : job_ids) {
    if (!ParseSbatchJobId(id).ok()) {
      return absl::InvalidArgumentError(absl::StrCat("not a Slurm job id: '", id, "'"));
    }
    argv.push_back(id);
  }
  SCALELAW_ASSIGN_OR_RETURN(CommandResult result, RunCommand(argv, options_.command_timeout));
  // scancel exits non-zero for jobs that have already ended ("Invalid job
  // id specified"); they are gone, which is what was asked.
  if (!result.ok() && result.err.find("Invalid job id") == std::string::npos) {
    return absl::UnavailableError(
        absl::StrCat(result.Describe("scancel"), " (jobs ", absl::StrJoin(job_ids, " "), ")"));
  }
  return absl::OkStatus();
}

}  // namespace scalelaw::coordinator

// scalelaw-worker: leases trials from a coordinator and trains them.
//
//   scalelaw-worker --coordinator HOST:PORT [--sweep ID] [--threads N]
//                   [--exit-when-idle] [--connect-timeout-s 600]
//                   [--checkpoint-dir DIR]
//   scalelaw-worker train ...   one trial, no coordinator (worker/train_command.h)
//
// Exit status (proto/worker_exit.h): 0 when (with --exit-when-idle) out of
// work, or stopped when its sweep has no work left; 75 (EX_TEMPFAIL) when
// stopped by a signal while its sweep still has work, so a launcher should
// start it again (the Slurm batch script requeues its task on 75); 1 when the
// coordinator could not be reached; 3 when it refused the worker for good
// (wrong token, unknown sweep); 2 on bad flags.
//
// The coordinator token comes from --token-file, $SCALELAW_TOKEN_FILE or
// $SCALELAW_TOKEN (proto/coordinator_token.h). --tls-ca (and --tls-cert,
// --tls-key for mutual TLS) dial a TLS coordinator; a token is never sent in
// clear text off loopback without --insecure-token-over-plaintext
// (proto/coordinator_tls.h).
//
// SIGTERM (a Slurm pre-timeout signal forwarded by the batch script, Slurm
// preemption, scancel, Kubernetes, a launcher's stop) and SIGINT stop the
// worker: a trial in progress checkpoints and is failed as retriable
// ("preempted"), so its next attempt resumes from the checkpoint on whichever
// worker leases it. Repeated SIGTERMs change nothing (Slurm may deliver one
// to the worker and one through the batch script); a second SIGINT (Ctrl-C
// twice) exits at once.
#include <grpcpp/grpcpp.h>
#include <signal.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <thread>

#include "proto/coordinator_tls.h"
#include "common/private_files.h"
#include "proto/coordinator_token.h"
#include "proto/worker_exit.h"
#include "spdlog/cfg/env.h"
#include "spdlog/spdlog.h"
#include "worker/train_command.h"
#include "worker/trainer.h"
#include "worker/worker_client.h"

namespace {

namespace worker_exit = scalelaw::worker_exit;

// Errors a restart cannot cure.
bool IsRefusal(const absl::Status& status) {
  return absl::IsUnauthenticated(status) || absl::IsPermissionDenied(status) ||
         absl::IsNotFound(status) || absl::IsInvalidArgument(status);
}

}  // namespace

int main(int argc, char** argv) {
  scalelaw::MakeNewFilesPrivate();  // checkpoints (model weights) and their directories
  scalelaw::worker::TuneMallocForTraining();
  if (argc > 1 && std::string_view(argv[1]) == "train") {
    spdlog::cfg::load_env_levels();
    return scalelaw::worker::RunTrainCommand(argc - 1, argv + 1);
  }

  CLI::App app{"scalelaw-worker: leases trials from a scalelaw coordinator and trains them"};
  app.footer("\n`scalelaw-worker train --help`: train one trial locally, without a coordinator.");
  std::string coordinator;
  std::string token_file;
  scalelaw::ClientTls tls;
  scalelaw::worker::WorkerOptions options;
  double connect_timeout_s = 600;
  app.add_option("--coordinator", coordinator, "coordinator address, HOST:PORT")->required();
  app.add_option("--sweep", options.sweep_id, "lease only this sweep's trials (default: any)");
  app.add_option("--threads", options.threads,
                 "intra-op threads per trial (default 0: each trial's training.threads)");
  app.add_option("--checkpoint-dir", options.checkpoint_dir,
                 "checkpoint trials under DIR/<trial_id>/ and resume from there "
                 "(default: each trial's training.checkpoint_dir)");
  app.add_option("--token-file", token_file,
                 "file holding the coordinator token (default: $SCALELAW_TOKEN_FILE, "
                 "else $SCALELAW_TOKEN)");
  app.add_option("--tls-ca", tls.ca_file,
                 "PEM CA that verifies a TLS coordinator's certificate (turns TLS on)");
  app.add_option("--tls-cert", tls.cert_file,
                 "PEM client certificate, for a coordinator that requires one (mutual TLS)");
  app.add_option("--tls-key", tls.key_file, "PEM private key of --tls-cert");
  app.add_flag(scalelaw::kInsecureTokenFlag, tls.insecure_token_over_plaintext,
               "send the token without TLS to a non-loopback coordinator (trusted networks only)");
  app.add_flag("--exit-when-idle", options.exit_when_idle,
               "exit once the coordinator has no more work");
  app.add_option("--connect-timeout-s", connect_timeout_s,
                 "give up when the coordinator does not answer for this long; a "
                 "coordinator restart must fit in it (meanwhile trials go on training)")
      ->default_val(600)
      ->check(CLI::PositiveNumber);
  const char* slurm_job = std::getenv("SLURM_JOB_ID");
  options.launcher_tag = slurm_job != nullptr ? std::string("slurm:") + slurm_job : "";
  app.add_option("--launcher-tag", options.launcher_tag,
                 "free text sent at registration (default: slurm:$SLURM_JOB_ID when set)");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? worker_exit::kDone : worker_exit::kBadFlags;  // --help too
  }
  const absl::StatusOr<std::string> token = scalelaw::LoadCoordinatorToken(token_file);
  if (!token.ok()) {
    std::fprintf(stderr, "error: %s\n", std::string(token.status().message()).c_str());
    return worker_exit::kBadFlags;
  }
  options.connect_timeout = absl::Seconds(connect_timeout_s);

  spdlog::cfg::load_env_levels();  // SPDLOG_LEVEL=debug
  spdlog::set_pattern("[%Y-%m-%d %H:%M:%S.%e] [worker %P] [%^%l%$] %v");

  // Signals are taken by one thread with sigwait, so Stop() never runs in a
  // signal handler. Block them before any other thread starts.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  const absl::StatusOr<std::shared_ptr<grpc::Channel>> channel =
      scalelaw::ConnectCoordinator(coordinator, *token, tls);
  if (!channel.ok()) {
    std::fprintf(stderr, "error: %s\n", std::string(channel.status().message()).c_str());
    return worker_exit::kBadFlags;
  }
  scalelaw::worker::WorkerClient client(options, *channel);
  std::atomic<bool> stopped_by_signal{false};
  std::thread([&client, &stopped_by_signal, signals] {
    int interrupts = 0;
    while (true) {
      int signal_number = 0;
      if (sigwait(&signals, &signal_number) != 0) continue;
      if (signal_number == SIGINT && ++interrupts > 1) std::_Exit(128 + signal_number);
      if (stopped_by_signal.exchange(true)) {
        spdlog::info("signal {}: already stopping", signal_number);
        continue;
      }
      spdlog::warn("signal {} ({}): checkpointing and giving the trial back{}", signal_number,
                   strsignal(signal_number),
                   signal_number == SIGINT ? " (Ctrl-C again to exit at once)" : "");
      client.Stop(std::string("SIG") + sigabbrev_np(signal_number));
    }
  }).detach();

  spdlog::info("coordinator {}, sweep {}, threads {}", coordinator,
               options.sweep_id.empty() ? "any" : options.sweep_id, options.threads);
  const absl::Status status = client.Run();
  if (!status.ok() && IsRefusal(status)) {
    spdlog::error("{}; exiting {}: restarting this worker cannot help", status.ToString(),
                  worker_exit::kRefused);
    return worker_exit::kRefused;
  }
  if (!status.ok()) {
    spdlog::error("{}", status.ToString());
    return worker_exit::kUnavailable;
  }
  if (stopped_by_signal.load() && client.WorkRemains()) {
    spdlog::info("stopped with work left in the sweep; exiting {} so a launcher restarts it",
                 worker_exit::kStoppedWithWorkLeft);
    return worker_exit::kStoppedWithWorkLeft;
  }
  if (stopped_by_signal.load()) spdlog::info("stopped; the sweep has no work left, exiting 0");
  return worker_exit::kDone;
}

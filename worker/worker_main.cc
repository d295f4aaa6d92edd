// scalelaw-worker: leases trials from a coordinator and trains them.
//
//   scalelaw-worker --coordinator HOST:PORT [--sweep ID] [--threads N]
//                   [--exit-when-idle] [--connect-timeout-s 60]
//                   [--checkpoint-dir DIR]
//   scalelaw-worker train ...   one trial, no coordinator (worker/train_command.h)
//
// Exit status: 0 when stopped or (with --exit-when-idle) out of work, 1 when
// the coordinator could not be reached or refused the worker, 2 on bad flags.
// SIGINT / SIGTERM stop the worker: a trial in progress is failed as
// retriable so another worker picks it up; a second signal exits at once.
#include <grpcpp/grpcpp.h>
#include <signal.h>

#include <CLI/CLI.hpp>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>
#include <thread>

#include "spdlog/cfg/env.h"
#include "spdlog/spdlog.h"
#include "worker/train_command.h"
#include "worker/trainer.h"
#include "worker/worker_client.h"

int main(int argc, char** argv) {
  scalelaw::worker::TuneMallocForTraining();
  if (argc > 1 && std::string_view(argv[1]) == "train") {
    spdlog::cfg::load_env_levels();
    return scalelaw::worker::RunTrainCommand(argc - 1, argv + 1);
  }

  CLI::App app{"scalelaw-worker: leases trials from a scalelaw coordinator and trains them"};
  app.footer("\n`scalelaw-worker train --help`: train one trial locally, without a coordinator.");
  std::string coordinator;
  scalelaw::worker::WorkerOptions options;
  double connect_timeout_s = 60;
  app.add_option("--coordinator", coordinator, "coordinator address, HOST:PORT")->required();
  app.add_option("--sweep", options.sweep_id, "lease only this sweep's trials (default: any)");
  app.add_option("--threads", options.threads,
                 "intra-op threads per trial (default 0: each trial's training.threads)");
  app.add_option("--checkpoint-dir", options.checkpoint_dir,
                 "checkpoint trials under DIR/<trial_id>/ and resume from there "
                 "(default: each trial's training.checkpoint_dir)");
  app.add_flag("--exit-when-idle", options.exit_when_idle,
               "exit once the coordinator has no more work");
  app.add_option("--connect-timeout-s", connect_timeout_s,
                 "give up when the coordinator does not answer for this long")
      ->default_val(60)
      ->check(CLI::PositiveNumber);
  const char* slurm_job = std::getenv("SLURM_JOB_ID");
  options.launcher_tag = slurm_job != nullptr ? std::string("slurm:") + slurm_job : "";
  app.add_option("--launcher-tag", options.launcher_tag,
                 "free text sent at registration (default: slurm:$SLURM_JOB_ID when set)");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;  // --help is a ParseError too
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

  auto channel = grpc::CreateChannel(coordinator, grpc::InsecureChannelCredentials());
  scalelaw::worker::WorkerClient client(options, channel);
  std::thread([&client, signals] {
    for (int received = 0;; ++received) {
      int signal_number = 0;
      if (sigwait(&signals, &signal_number) != 0) continue;
      if (received > 0) std::_Exit(128 + signal_number);
      spdlog::warn("signal {}: stopping (again to exit at once)", signal_number);
      client.Stop();
    }
  }).detach();

  spdlog::info("coordinator {}, sweep {}, threads {}", coordinator,
               options.sweep_id.empty() ? "any" : options.sweep_id, options.threads);
  const absl::Status status = client.Run();
  if (!status.ok()) {
    spdlog::error("{}", status.ToString());
    return 1;
  }
  return 0;
}

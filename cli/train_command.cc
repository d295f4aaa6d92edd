// `scalelaw train`: trains one trial locally without a coordinator. Training
// needs libtorch, which this binary never loads, so the command execs
// `scalelaw-worker train` with the same arguments (see worker/train_command.h).
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "cli/worker_binary.h"

namespace scalelaw::cli {

void AddTrainCommand(CLI::App& app, int* exit_code) {
  CLI::App* cmd = AddSubcommand(
      app, "train", "Train one trial locally (no coordinator) and print a summary",
      "Train one trial locally, without a coordinator, to check a configuration: plans the\n"
      "trial as a sweep would (shape rule, sweep defaults), trains it with libtorch and prints\n"
      "params, non-embedding params, tokens, FLOPs, final validation loss, the validation\n"
      "split's unigram entropy, the noise scale B_simple and tokens/s (--json: one object).\n"
      "All arguments go to `scalelaw-worker train` (see `scalelaw train --help`).\n\n"
      "Example: scalelaw train --corpus /usr/share/doc/python3.11/html/_sources --params 1e6 \\\n"
      "           --tokens 2e7 --threads 2 --json");
  cmd->prefix_command();
  cmd->set_help_flag();  // --help goes to scalelaw-worker train
  cmd->callback([cmd, exit_code] {
    const std::string binary = WorkerBinaryPath();
    std::vector<std::string> args = cmd->remaining();
    std::string train = "train";
    std::vector<char*> argv;
    argv.push_back(const_cast<char*>(binary.c_str()));
    argv.push_back(train.data());
    for (std::string& arg : args) argv.push_back(arg.data());
    argv.push_back(nullptr);
    ::execv(binary.c_str(), argv.data());
    std::fprintf(stderr, "error: cannot start %s: %s\n", binary.c_str(), std::strerror(errno));
    *exit_code = 1;
  });
}

}  // namespace scalelaw::cli

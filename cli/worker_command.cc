// `scalelaw worker`: runs the libtorch worker, a separate executable so that
// this binary (and the coordinator in it) never loads libtorch.
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "cli/worker_binary.h"

namespace scalelaw::cli {

void AddWorkerCommand(CLI::App& app, int* exit_code) {
  CLI::App* cmd = AddSubcommand(
      app, "worker", "Run a training worker (libtorch) against a coordinator",
      "Run a training worker: registers with a coordinator, leases trials, trains them with\n"
      "libtorch and streams loss points back until there is no work left.\n"
      "All arguments go to scalelaw-worker (see `scalelaw worker --help`).\n\n"
      "Example: scalelaw worker --coordinator 127.0.0.1:50051 --threads 2");
  cmd->prefix_command();
  cmd->set_help_flag();  // --help goes to scalelaw-worker
  cmd->callback([cmd, exit_code] {
    const std::string binary = WorkerBinaryPath();
    std::vector<std::string> args = cmd->remaining();
    std::vector<char*> argv;
    argv.push_back(const_cast<char*>(binary.c_str()));
    for (std::string& arg : args) argv.push_back(arg.data());
    argv.push_back(nullptr);
    ::execv(binary.c_str(), argv.data());
    std::fprintf(stderr, "error: cannot start %s: %s\n", binary.c_str(), std::strerror(errno));
    *exit_code = 1;
  });
}

}  // namespace scalelaw::cli

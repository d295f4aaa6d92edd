// Runs a program to completion with an argument vector (never a shell
// string), capturing its stdout and stderr: how launchers call cluster tools
// such as sbatch and scancel.
//
// Thread safety: RunCommand may be called from any thread; the pipes it
// creates are close-on-exec, so processes started concurrently elsewhere do
// not inherit them.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace scalelaw::coordinator {

struct CommandResult {
  int exit_code = -1;  // the exit status; -1 when killed by a signal
  int signal = 0;      // the signal that killed it, or 0
  std::string out;     // everything written to stdout
  std::string err;     // everything written to stderr

  bool ok() const { return exit_code == 0; }
  // "sbatch exited 1: <stderr, trimmed>" for messages.
  std::string Describe(const std::string& program) const;
};

// Runs argv[0] (looked up in PATH when it has no '/') with stdin from
// /dev/null. Returns the result whatever the exit status; NOT_FOUND when the
// program cannot be started, DEADLINE_EXCEEDED (after killing it) when it
// runs longer than `timeout`.
absl::StatusOr<CommandResult> RunCommand(const std::vector<std::string>& argv,
                                         std::chrono::milliseconds timeout);

}  // namespace scalelaw::coordinator

#include "coordinator/subprocess.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"

extern char** environ;

namespace scalelaw::coordinator {
namespace {

// Closes the descriptors it holds when it goes out of scope.
struct Fds {
  int fd[4] = {-1, -1, -1, -1};  // out read, out write, err read, err write
  ~Fds() {
    for (int f : fd) {
      if (f >= 0) ::close(f);
    }
  }
  void Close(int i) {
    if (fd[i] >= 0) ::close(fd[i]);
    fd[i] = -1;
  }
};

}  // namespace

std::string CommandResult::Describe(const std::string& program) const {
  std::string what = signal != 0 ? absl::StrCat(program, " was killed by signal ", signal)
                                 : absl::StrCat(program, " exited ", exit_code);
  std::string detail(absl::StripAsciiWhitespace(err.empty() ? out : err));
  return detail.empty() ? what : absl::StrCat(what, ": ", detail);
}

absl::StatusOr<CommandResult> RunCommand(const std::vector<std::string>& argv,
                                         std::chrono::milliseconds timeout) {
  if (argv.empty() || argv[0].empty()) {
    return absl::InvalidArgumentError("RunCommand: empty command");
  }
  Fds fds;
  if (::pipe2(&fds.fd[0], O_CLOEXEC) != 0 || ::pipe2(&fds.fd[2], O_CLOEXEC) != 0) {
    return absl::InternalError(absl::StrCat("pipe: ", strerror(errno)));
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, fds.fd[1], STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, fds.fd[3], STDERR_FILENO);
  std::vector<std::string> args = argv;
  std::vector<char*> cargs;
  for (std::string& arg : args) cargs.push_back(arg.data());
  cargs.push_back(nullptr);
  pid_t pid = 0;
  const int rc = posix_spawnp(&pid, args[0].c_str(), &actions, nullptr, cargs.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) {
    return absl::NotFoundError(
        absl::StrCat("cannot run '", absl::StrJoin(argv, " "), "': ", strerror(rc)));
  }
  fds.Close(1);
  fds.Close(3);

  CommandResult result;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  bool timed_out = false;
  while (fds.fd[0] >= 0 || fds.fd[2] >= 0) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      timed_out = true;
      break;
    }
    pollfd polls[2] = {{fds.fd[0], POLLIN, 0}, {fds.fd[2], POLLIN, 0}};
    const int ready = ::poll(polls, 2, static_cast<int>(std::min<int64_t>(left.count(), 1000)));
    if (ready < 0 && errno != EINTR) break;
    for (int i = 0; i < 2; ++i) {
      if (polls[i].fd < 0 || polls[i].revents == 0) continue;
      char buffer[4096];
      const ssize_t n = ::read(polls[i].fd, buffer, sizeof(buffer));
      if (n > 0) {
        (i == 0 ? result.out : result.err).append(buffer, static_cast<size_t>(n));
      } else if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
        fds.Close(2 * i);
      }
    }
  }
  if (timed_out) ::kill(pid, SIGKILL);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (timed_out) {
    return absl::DeadlineExceededError(absl::StrCat("'", absl::StrJoin(argv, " "),
                                                    "' did not finish within ", timeout.count(),
                                                    " ms and was killed"));
  }
  if (WIFEXITED(status)) {
    result.exit_code = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    result.signal = WTERMSIG(status);
  }
  return result;
}

}  // namespace scalelaw::coordinator

#include "bench/coordinator_process.h"

#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <fstream>
#include <random>
#include <sstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace scalelaw::bench {
namespace {

constexpr std::chrono::milliseconds kPoll{20};

std::string RandomToken() {
  std::random_device random;  // /dev/urandom on Linux
  std::string token;
  for (int i = 0; i < 8; ++i) absl::StrAppendFormat(&token, "%08x", random());
  return token;
}

absl::Status WritePrivateFile(const std::filesystem::path& path, const std::string& text) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return absl::InternalError(absl::StrCat("cannot create ", path.string()));
  const std::string line = text + "\n";
  const bool written = ::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size());
  ::close(fd);
  if (!written) return absl::InternalError(absl::StrCat("cannot write ", path.string()));
  return absl::OkStatus();
}

std::string ReadFile(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string DescribeWait(int status) {
  if (WIFEXITED(status)) return absl::StrCat("exit ", WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return absl::StrCat("killed by signal ", WTERMSIG(status));
  return absl::StrCat("wait status ", status);
}

// The gRPC address from the coordinator's "coordinator listening on ADDR ..." line.
std::string ListeningAddress(const std::string& log) {
  constexpr char kPrefix[] = "coordinator listening on ";
  const size_t at = log.find(kPrefix);
  if (at == std::string::npos) return "";
  const size_t begin = at + sizeof(kPrefix) - 1;
  const size_t end = log.find_first_of(" \n", begin);
  if (end == std::string::npos) return "";  // the line is still being written
  return log.substr(begin, end - begin);
}

}  // namespace

CoordinatorProcess::CoordinatorProcess(CoordinatorProcessOptions options)
    : options_(std::move(options)) {}

absl::StatusOr<std::unique_ptr<CoordinatorProcess>> CoordinatorProcess::Start(
    const CoordinatorProcessOptions& options) {
  if (::access(options.scalelaw_binary.c_str(), X_OK) != 0) {
    return absl::NotFoundError(
        absl::StrCat("--scalelaw: '", options.scalelaw_binary, "' is not an executable"));
  }
  std::unique_ptr<CoordinatorProcess> process(new CoordinatorProcess(options));
  process->token_ = RandomToken();
  const std::filesystem::path token_file = options.dir / "token";
  if (absl::Status s = WritePrivateFile(token_file, process->token_); !s.ok()) return s;

  std::vector<std::string> args = {options.scalelaw_binary,
                                   "coordinator",
                                   "--listen",
                                   "127.0.0.1:0",
                                   "--db",
                                   process->db_path().string(),
                                   "--metrics-listen",
                                   "127.0.0.1:0",
                                   "--jobs-dir",
                                   (options.dir / "jobs").string(),
                                   "--token-file",
                                   token_file.string()};
  args.insert(args.end(), options.extra_args.begin(), options.extra_args.end());
  std::vector<char*> argv;
  for (std::string& arg : args) argv.push_back(arg.data());
  argv.push_back(nullptr);
  const std::string log = process->log_path().string();
  const pid_t parent = ::getpid();

  const pid_t pid = ::fork();
  if (pid < 0) return absl::InternalError("fork failed");
  if (pid == 0) {
    // Child: only async-signal-safe calls until exec.
    ::prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (::getppid() != parent) ::_exit(127);  // the parent died before prctl
    const int in = ::open("/dev/null", O_RDONLY);
    const int out = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (in < 0 || out < 0) ::_exit(127);
    ::dup2(in, STDIN_FILENO);
    ::dup2(out, STDOUT_FILENO);
    ::dup2(out, STDERR_FILENO);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  process->pid_ = pid;

  const auto give_up = std::chrono::steady_clock::now() + options.start_timeout;
  while (true) {
    process->address_ = ListeningAddress(ReadFile(process->log_path()));
    if (!process->address_.empty()) return process;
    int status = 0;
    if (::waitpid(pid, &status, WNOHANG) == pid) {
      process->stopped_ = true;
      process->stop_status_ = absl::InternalError(DescribeWait(status));
      return absl::InternalError(absl::StrCat("the coordinator ended at start (",
                                              DescribeWait(status), "); its log:\n",
                                              process->LogTail()));
    }
    if (std::chrono::steady_clock::now() > give_up) {
      return absl::DeadlineExceededError(
          absl::StrCat("the coordinator did not log its address within ",
                       options.start_timeout.count(), " ms; its log:\n", process->LogTail()));
    }
    std::this_thread::sleep_for(kPoll);
  }
}

CoordinatorProcess::~CoordinatorProcess() { Stop().IgnoreError(); }

absl::Status CoordinatorProcess::Stop() {
  if (stopped_ || pid_ <= 0) return stop_status_;
  stopped_ = true;
  ::kill(pid_, SIGTERM);
  const auto give_up = std::chrono::steady_clock::now() + options_.stop_grace;
  int status = 0;
  while (::waitpid(pid_, &status, WNOHANG) != pid_) {
    if (std::chrono::steady_clock::now() > give_up) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, &status, 0);
      stop_status_ = absl::InternalError(absl::StrCat("the coordinator did not stop within ",
                                                      options_.stop_grace.count(),
                                                      " ms of SIGTERM and was killed"));
      return stop_status_;
    }
    std::this_thread::sleep_for(kPoll);
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    stop_status_ = absl::InternalError(
        absl::StrCat("the coordinator ended with ", DescribeWait(status), " after SIGTERM"));
  }
  return stop_status_;
}

absl::StatusOr<double> CoordinatorProcess::RssMb() const {
  std::ifstream in(absl::StrCat("/proc/", pid_, "/status"));
  std::string line;
  while (std::getline(in, line)) {
    double kib = 0;
    if (std::sscanf(line.c_str(), "VmRSS: %lf kB", &kib) == 1) return kib / 1024.0;
  }
  return absl::NotFoundError(absl::StrCat("/proc/", pid_, "/status: no VmRSS line"));
}

absl::StatusOr<double> CoordinatorProcess::CpuSeconds() const {
  const std::string stat = ReadFile(absl::StrCat("/proc/", pid_, "/stat"));
  // Fields after the parenthesised command name: state (3) ... utime (14), stime (15).
  const size_t close = stat.rfind(')');
  if (close == std::string::npos) {
    return absl::NotFoundError(absl::StrCat("/proc/", pid_, "/stat: unreadable"));
  }
  std::istringstream fields(stat.substr(close + 2));
  std::string field;
  unsigned long long utime = 0, stime = 0;
  for (int i = 3; i <= 15 && fields >> field; ++i) {
    if (i == 14) utime = std::stoull(field);
    if (i == 15) stime = std::stoull(field);
  }
  return static_cast<double>(utime + stime) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

std::string CoordinatorProcess::LogTail(size_t bytes) const {
  const std::string log = ReadFile(log_path());
  return log.size() <= bytes ? log : log.substr(log.size() - bytes);
}

}  // namespace scalelaw::bench

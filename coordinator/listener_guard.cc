#include "coordinator/listener_guard.h"

#include <grpc/support/log.h>
#include <sys/resource.h>

#include <atomic>
#include <cstdio>
#include <cstring>
#include <mutex>

namespace scalelaw::coordinator {
namespace {

std::atomic<uint64_t> accept_failures{0};

void CountingLog(gpr_log_func_args* args) {
  // The message tcp_server_posix.cc logs just before it stops listening.
  if (args->message != nullptr && std::strncmp(args->message, "Failed accept4", 14) == 0) {
    accept_failures.fetch_add(1, std::memory_order_relaxed);
  }
  // gRPC 1.51 exports no default logger to forward to; this is its format
  // less the time and thread (gpr_log has applied GRPC_VERBOSITY already).
  const char* file = args->file != nullptr ? std::strrchr(args->file, '/') : nullptr;
  std::fprintf(stderr, "%s %s:%d] %s\n", gpr_log_severity_string(args->severity),
               file != nullptr ? file + 1 : (args->file != nullptr ? args->file : "?"),
               args->line, args->message != nullptr ? args->message : "");
}

}  // namespace

uint64_t RaiseOpenFileLimit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return 0;
  if (limit.rlim_cur < limit.rlim_max) {
    rlimit raised = limit;
    raised.rlim_cur = limit.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &raised) == 0) limit = raised;
  }
  return static_cast<uint64_t>(limit.rlim_cur);
}

void WatchAcceptFailures() {
  static std::once_flag once;
  std::call_once(once, [] { gpr_set_log_function(CountingLog); });
}

uint64_t AcceptFailures() { return accept_failures.load(std::memory_order_relaxed); }

}  // namespace scalelaw::coordinator

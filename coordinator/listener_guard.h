// Keeps the coordinator's gRPC port answering through a flood of idle
// connections (issue 20).
//
// gRPC 1.51 (Debian bookworm) stops listening for good when accept4 fails
// with anything but EAGAIN, e.g. EMFILE once idle connections have taken
// every file descriptor: the port still completes TCP handshakes in the
// kernel but no HTTP/2 handshake ever follows, until a restart. Three things
// stand against that:
//   * RaiseOpenFileLimit: the soft RLIMIT_NOFILE goes up to the hard limit
//     (often 1024 -> 524288), so a flood must be far larger to hit EMFILE;
//   * the server's handshake timeout (coordinator_server.cc) drops a
//     connection that has not sent HTTP/2 SETTINGS within 10 s;
//   * WatchAcceptFailures: gRPC's "Failed accept4" log line is counted
//     (AcceptFailures()), and CoordinatorServer rebuilds its gRPC server on
//     the same port when the count moves. Workers reconnect by themselves.
#pragma once

#include <cstdint>

namespace scalelaw::coordinator {

// Raises the soft open-file limit to the hard one; returns the soft limit in
// force afterwards (0 when it cannot be read).
uint64_t RaiseOpenFileLimit();

// Installs (once per process) a gRPC log function that writes every
// message to stderr, as gRPC's own does, and counts failed accepts. Thread-safe.
void WatchAcceptFailures();

// Failed accepts seen by the log function since the process started.
uint64_t AcceptFailures();

}  // namespace scalelaw::coordinator

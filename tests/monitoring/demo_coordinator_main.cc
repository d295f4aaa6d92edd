// scalelaw_monitoring_demo: a real coordinator (gRPC and /metrics on
// 127.0.0.1, free ports) that drives DemoSweep and then DemoForecast through
// itself and then keeps serving, so a real Prometheus can scrape a sweep in
// every state and a forecast beside its outcome. Used by
// prometheus_dashboards_test.sh.
//
//   scalelaw_monitoring_demo --db FILE --info FILE [--seconds N]
//
// Once both sweeps are driven it writes FILE (--info) with lines
// "metrics_port=…", "sweep=…", "trial=…" (the RUNNING trial),
// "forecast_sweep=…", "forecast_target=…" and "forecast_predicted_loss=…"
// (the stored forecast), then serves until SIGINT/SIGTERM or N seconds
// (default 120).
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>

#include "coordinator/coordinator_server.h"
#include "tests/monitoring/demo_sweep.h"

namespace {

volatile std::sig_atomic_t g_stop = 0;

void OnSignal(int) { g_stop = 1; }

}  // namespace

int main(int argc, char** argv) {
  std::string db, info;
  int seconds = 120;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--db") == 0) {
      db = argv[i + 1];
    } else if (std::strcmp(argv[i], "--info") == 0) {
      info = argv[i + 1];
    } else if (std::strcmp(argv[i], "--seconds") == 0) {
      seconds = std::atoi(argv[i + 1]);
    }
  }
  if (db.empty() || info.empty()) {
    std::fprintf(stderr, "usage: %s --db FILE --info FILE [--seconds N]\n", argv[0]);
    return 2;
  }
  std::signal(SIGINT, OnSignal);
  std::signal(SIGTERM, OnSignal);

  scalelaw::coordinator::CoordinatorOptions options;
  options.db_path = db;
  options.metrics_listen_address = "127.0.0.1:0";
  options.lease_timeout = std::chrono::milliseconds(3000);
  options.heartbeat_interval = std::chrono::milliseconds(600);
  options.expiry_scan_interval = std::chrono::milliseconds(100);
  auto server = scalelaw::coordinator::CoordinatorServer::Start(options);
  if (!server.ok()) {
    std::fprintf(stderr, "error: %s\n", server.status().ToString().c_str());
    return 1;
  }
  scalelaw::monitoring_testing::DemoSweepDriver driver((*server)->address());
  auto demo = driver.Run();
  if (!demo.ok()) {
    std::fprintf(stderr, "error: %s\n", demo.status().ToString().c_str());
    return 1;
  }
  auto forecast = driver.RunForecast();
  if (!forecast.ok()) {
    std::fprintf(stderr, "error: %s\n", forecast.status().ToString().c_str());
    return 1;
  }
  {
    const std::string partial = info + ".partial";
    std::ofstream out(partial);
    out.precision(17);
    out << "metrics_port=" << (*server)->metrics_port() << "\n"
        << "sweep=" << demo->sweep_id << "\n"
        << "trial=" << demo->running_trial << "\n"
        << "forecast_sweep=" << forecast->sweep_id << "\n"
        << "forecast_target=" << forecast->target << "\n"
        << "forecast_predicted_loss=" << forecast->forecast.predicted_loss() << "\n";
    out.close();
    std::rename(partial.c_str(), info.c_str());
  }
  std::fprintf(stderr,
               "demo: sweep %s driven; forecast sweep %s: target %s predicted %.4f [%.4f, %.4f], "
               "reached %.4f; metrics on 127.0.0.1:%d\n",
               demo->sweep_id.c_str(), forecast->sweep_id.c_str(), forecast->target.c_str(),
               forecast->forecast.predicted_loss(), forecast->forecast.prediction_interval().lo(),
               forecast->forecast.prediction_interval().hi(), forecast->actual_loss,
               (*server)->metrics_port());
  for (int tick = 0; tick < seconds * 10 && !g_stop; ++tick) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return 0;
}

// `scalelaw coordinator backup`: an online, checked copy of a store.
#include <cstdio>

#include "cli/commands.h"
#include "common/private_files.h"
#include "coordinator/store_backup.h"

namespace scalelaw::cli {

CLI::App* AddCoordinatorBackupCommand(CLI::App& coordinator, int* exit_code) {
  struct Args {
    std::string db;
    std::string out;
  };
  auto args = std::make_shared<Args>();
  CLI::App* cmd = AddSubcommand(
      coordinator, "backup", "Copy a store, safely while its coordinator runs",
      "Copy the store with SQLite's backup API, in one read transaction: the copy is the\n"
      "store as of one commit, while the coordinator goes on writing. The copy is checked\n"
      "(PRAGMA integrity_check), made durable and renamed to OUT only then; OUT must not\n"
      "exist. Restore by stopping the coordinator and starting it on the copy.\n\n"
      "Example: scalelaw coordinator backup --db /shared/scalelaw.db --out /backup/scalelaw-$(date +%F).db");
  cmd->add_option("--db", args->db, "the coordinator's SQLite store")->required();
  cmd->add_option("--out", args->out, "where to write the copy (must not exist)")->required();
  cmd->callback([args, exit_code] {
    MakeNewFilesPrivate();  // the copy holds what the store holds: 0600
    absl::StatusOr<coordinator::BackupStats> stats = coordinator::BackupStore(args->db, args->out);
    if (!stats.ok()) {
      std::fprintf(stderr, "error: %s\n", std::string(stats.status().message()).c_str());
      *exit_code = 1;
      return;
    }
    std::printf("copied %s to %s: %lld pages, %lld bytes, schema version %lld, %.2f s\n",
                args->db.c_str(), args->out.c_str(), static_cast<long long>(stats->pages),
                static_cast<long long>(stats->bytes),
                static_cast<long long>(stats->schema_version), stats->seconds);
  });
  return cmd;
}

}  // namespace scalelaw::cli

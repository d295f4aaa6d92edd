#include "coordinator/store_backup.h"

#include <atomic>
#include <filesystem>
#include <fstream>
#include <thread>

#include "coordinator/store.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace scalelaw::coordinator {
namespace {

using ::testing::HasSubstr;

std::string FreshDir(const std::string& name) {
  const std::filesystem::path dir = std::filesystem::path(testing::TempDir()) / name;
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir.string();
}

v1::RegisterWorkerRequest Worker() {
  v1::RegisterWorkerRequest info;
  info.set_hostname("node-1");
  info.set_device("cpu");
  return info;
}

// A writer on its own connection commits all along, as the coordinator does;
// the copy is the store as of one of its commits, whole and checked.
TEST(StoreBackupTest, CopiesAConsistentStoreWhileAnotherConnectionWrites) {
  const std::string dir = FreshDir("backup_live");
  const std::string db = dir + "/state.db";
  absl::StatusOr<std::unique_ptr<Store>> store = Store::Open(db);
  ASSERT_TRUE(store.ok()) << store.status();
  for (int i = 0; i < 2000; ++i) {
    ASSERT_TRUE((*store)->InsertWorker("seed-" + std::to_string(i), Worker(), i).ok());
  }
  std::atomic<bool> stop{false};
  std::atomic<int> written{0};
  std::thread writer([&] {
    while (!stop.load()) {
      const int i = written.load();
      if (!(*store)->InsertWorker("live-" + std::to_string(i), Worker(), i).ok()) return;
      written.store(i + 1);
    }
  });
  while (written.load() < 50) std::this_thread::yield();
  absl::StatusOr<BackupStats> stats = BackupStore(db, dir + "/copy.db");
  const int after = written.load();
  stop = true;
  writer.join();
  ASSERT_TRUE(stats.ok()) << stats.status();
  EXPECT_EQ(stats->schema_version, Store::kSchemaVersion);
  EXPECT_GT(stats->pages, 0);
  EXPECT_GT(stats->bytes, 0);
  EXPECT_FALSE(std::filesystem::exists(dir + "/copy.db.partial"));

  absl::StatusOr<std::unique_ptr<Store>> copy = Store::OpenForReading(dir + "/copy.db");
  ASSERT_TRUE(copy.ok()) << copy.status();
  absl::StatusOr<int64_t> workers = (*copy)->CountWorkers();
  ASSERT_TRUE(workers.ok()) << workers.status();
  EXPECT_GE(*workers, 2000 + 50);
  EXPECT_LE(*workers, 2000 + after + 1);
}

TEST(StoreBackupTest, RefusesToOverwriteAndNamesTheFlag) {
  const std::string dir = FreshDir("backup_refusals");
  const std::string db = dir + "/state.db";
  ASSERT_TRUE(Store::Open(db).ok());
  std::ofstream(dir + "/exists.db") << "keep me";
  absl::StatusOr<BackupStats> stats = BackupStore(db, dir + "/exists.db");
  ASSERT_FALSE(stats.ok());
  EXPECT_THAT(stats.status().message(), HasSubstr("--out"));
  std::ifstream kept(dir + "/exists.db");
  std::string text((std::istreambuf_iterator<char>(kept)), std::istreambuf_iterator<char>());
  EXPECT_EQ(text, "keep me");

  stats = BackupStore(dir + "/missing.db", dir + "/copy.db");
  ASSERT_FALSE(stats.ok());
  EXPECT_THAT(stats.status().message(), HasSubstr("--db: no store"));
  EXPECT_FALSE(std::filesystem::exists(dir + "/missing.db"));

  std::ofstream(dir + "/empty.db").close();
  stats = BackupStore(dir + "/empty.db", dir + "/copy.db");
  ASSERT_FALSE(stats.ok());
  EXPECT_THAT(stats.status().message(), HasSubstr("not a scalelaw store"));
  EXPECT_FALSE(std::filesystem::exists(dir + "/copy.db"));
}

}  // namespace
}  // namespace scalelaw::coordinator

namespace scalelaw::coordinator {
namespace {

// A damaged store is refused at start, with what to do about it.
TEST(StoreQuickCheckTest, RefusesADamagedStoreAndPointsToBackups) {
  const std::string dir = FreshDir("quick_check");
  const std::string db = dir + "/state.db";
  {
    absl::StatusOr<std::unique_ptr<Store>> store = Store::Open(db);
    ASSERT_TRUE(store.ok()) << store.status();
    for (int i = 0; i < 3000; ++i) {
      ASSERT_TRUE((*store)->InsertWorker("w-" + std::to_string(i), Worker(), i).ok());
    }
  }
  ASSERT_TRUE(Store::Open(db).ok());  // closed cleanly: the WAL is folded in
  const auto size = std::filesystem::file_size(db);
  ASSERT_GT(size, 8 * 4096u);
  {
    std::fstream file(db, std::ios::in | std::ios::out | std::ios::binary);
    file.seekp(static_cast<std::streamoff>(size / 2));
    const std::string garbage(3 * 4096, '\xA5');
    file.write(garbage.data(), static_cast<std::streamsize>(garbage.size()));
  }
  absl::StatusOr<std::unique_ptr<Store>> damaged = Store::Open(db);
  ASSERT_FALSE(damaged.ok());
  EXPECT_EQ(damaged.status().code(), absl::StatusCode::kDataLoss) << damaged.status();
  EXPECT_THAT(damaged.status().message(), HasSubstr("quick_check"));
  EXPECT_THAT(damaged.status().message(), HasSubstr("coordinator backup"));
}

}  // namespace
}  // namespace scalelaw::coordinator

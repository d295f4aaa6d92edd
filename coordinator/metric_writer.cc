#include "coordinator/metric_writer.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <utility>

namespace scalelaw::coordinator {
namespace {

absl::Status ShuttingDown() {
  return absl::UnavailableError(
      "the coordinator is shutting down; the point was not stored (send it again)");
}

}  // namespace

MetricWriter::MetricWriter(Store* store, OnStored on_stored, MetricWriterOptions options)
    : store_(store), on_stored_(std::move(on_stored)), options_(options) {
  thread_ = std::thread([this] { Run(); });
}

MetricWriter::~MetricWriter() { Shutdown(); }

bool MetricWriter::Enqueue(v1::MetricPoint point, Done done, std::function<void()> on_space) {
  {
    std::lock_guard lock(mu_);
    if (!stopping_) {
      queue_.push_back(Item{std::move(point), std::move(done)});
      work_cv_.notify_one();
      if (queue_.size() < options_.max_queued_points) return true;
      waiting_for_space_.push_back(std::move(on_space));
      return false;
    }
  }
  done(ShuttingDown());
  return true;
}

void MetricWriter::Shutdown() {
  std::lock_guard shutdown_lock(shutdown_mu_);
  std::deque<Item> unwritten;
  std::vector<std::function<void()>> waiting;
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    unwritten.swap(queue_);
    waiting.swap(waiting_for_space_);
    work_cv_.notify_all();
  }
  // The batch being written completes first, so `done` keeps queue order.
  if (thread_.joinable() && thread_.get_id() != std::this_thread::get_id()) thread_.join();
  for (Item& item : unwritten) item.done(ShuttingDown());
  for (auto& on_space : waiting) on_space();
}

size_t MetricWriter::queued() const {
  std::lock_guard lock(mu_);
  return queue_.size();
}

void MetricWriter::Run() {
  std::vector<Item> batch;
  while (true) {
    std::vector<std::function<void()>> room;
    {
      std::unique_lock lock(mu_);
      work_cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping: Shutdown fails what is left
      const size_t n = std::min(queue_.size(), options_.max_batch_points);
      batch.clear();
      for (size_t i = 0; i < n; ++i) {
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
      if (queue_.size() <= options_.max_queued_points / 2) room.swap(waiting_for_space_);
    }
    // Streams read on while this batch is written: the next batch fills.
    for (auto& on_space : room) on_space();
    WriteBatch(batch);
  }
}

void MetricWriter::WriteBatch(std::vector<Item>& batch) {
  std::vector<v1::MetricPoint> points;
  points.reserve(batch.size());
  for (const Item& item : batch) points.push_back(item.point);
  absl::StatusOr<AppendedMetrics> appended = store_->AppendMetrics(points);
  if (!appended.ok()) {
    spdlog::warn("storing a batch of {} metric point(s) failed: {}", batch.size(),
                 appended.status().ToString());
    for (Item& item : batch) item.done(appended.status());
    return;
  }
  const std::vector<absl::StatusOr<bool>>& results = appended->points;
  std::vector<v1::MetricPoint> stored;
  for (size_t i = 0; i < batch.size(); ++i) {
    if (results[i].ok() && *results[i]) stored.push_back(std::move(points[i]));
  }
  if (on_stored_ && !stored.empty()) on_stored_(stored, appended->started);
  for (size_t i = 0; i < batch.size(); ++i) {
    if (!results[i].ok()) {
      batch[i].done(results[i].status());
    } else {
      batch[i].done(*results[i] ? MetricWrite::kStored : MetricWrite::kDuplicate);
    }
  }
}

}  // namespace scalelaw::coordinator

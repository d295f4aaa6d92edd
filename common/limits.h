// The sizes one request, spec or flag may ask for. Each exists because
// something unbounded let one caller exhaust the coordinator's (or the CLI's)
// memory or disk: a `GetFit` with 2e9 bootstrap resamples and a 28 KB spec
// planning 1e7 trials both ended in std::bad_alloc, and a 3.9 MB hostname
// was stored as given (issue 20). A limit is checked before the work it
// bounds is allocated, and refused with INVALID_ARGUMENT naming the field.
//
// The values are far above any real use, so no sweep should meet them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>

namespace scalelaw::limits {

// Trials one sweep may plan, counted from the grid's sizes before any trial
// is built (models x budgets x seeds, isoflop budgets x sizes x seeds, plus
// forecast targets). 100,000 trials is years of a large cluster; a plan
// that size is ~50 MB of TrialSpecs and one store transaction.
inline constexpr uint64_t kMaxTrialsPerSweep = 100'000;

// Bootstrap resamples of one fit (GetFit, `scalelaw fit --bootstrap`,
// forecast.bootstrap): each is a refit and a vector of weights.
inline constexpr uint32_t kMaxBootstrapResamples = 100'000;

// Entries of a repeated number field of one request (GetFitRequest's
// compute_budgets and exclude_sizes): each becomes a row of the answer.
inline constexpr int kMaxRequestListEntries = 10'000;

// Bytes of string fields of RPCs: ids (worker, trial, sweep), a host name
// (RFC 1035's 255), short labels (device, law, launcher tag), free-text
// reasons and a sweep's YAML kept for provenance.
inline constexpr size_t kMaxIdBytes = 256;
inline constexpr size_t kMaxHostnameBytes = 255;
inline constexpr size_t kMaxLabelBytes = 256;
inline constexpr size_t kMaxReasonBytes = 4096;
inline constexpr size_t kMaxSpecYamlBytes = 1 << 20;
inline constexpr size_t kMaxSweepNameBytes = 128;

// The largest message the coordinator's gRPC server reads (gRPC's own
// default, stated so it is a decision): a spec_yaml at its limit plus the
// spec fits with room to spare.
inline constexpr int kMaxReceiveMessageBytes = 4 << 20;

// Counts stored in SQLite INTEGER columns (tokens, sequence numbers, steps,
// parameter counts) must fit int64: a uint64 above this would read back
// negative.
inline constexpr uint64_t kMaxStoredCount =
    static_cast<uint64_t>(std::numeric_limits<int64_t>::max());

// Bytes of a caller's value echoed in an error message: a long id echoed
// whole made the error itself too large for gRPC's metadata
// (RESOURCE_EXHAUSTED at the client).
inline constexpr size_t kMaxEchoBytes = 64;

// `value` for an error message: at most kMaxEchoBytes bytes, "…" marking a cut.
inline std::string Echo(std::string_view value) {
  if (value.size() <= kMaxEchoBytes) return std::string(value);
  // Cut on a UTF-8 character boundary so the message stays valid UTF-8.
  size_t cut = kMaxEchoBytes;
  while (cut > 0 && (static_cast<unsigned char>(value[cut]) & 0xC0) == 0x80) --cut;
  return std::string(value.substr(0, cut)) + "\xE2\x80\xA6";
}

}  // namespace scalelaw::limits

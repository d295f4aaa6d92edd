// The values a sweep spec field takes when the YAML leaves it out. They are
// set before the YAML is read, so a user's explicit 0 (e.g. min_lr_ratio: 0,
// decay to zero) is kept.
#pragma once

#include "scalelaw/v1/coordinator.pb.h"

namespace scalelaw::sweeps {

// Byte-level text from Debian's python3.11-doc (installed by scripts/setup.sh).
inline constexpr char kDefaultCorpus[] = "/usr/share/doc/python3.11/html/_sources";

v1::SweepSpec DefaultSweepSpec();

// The defaults of a `forecast:` block, set only when a spec has one (a spec
// without it stores no forecast plan): approach 3 on total parameters, 200
// bootstrap resamples, 90% prediction intervals.
v1::ForecastPlan DefaultForecastPlan();

// Vocabulary size of a tokenizer name ("byte" -> 256); 0 for an unknown name.
uint32_t VocabSizeOf(const std::string& tokenizer);

// Vocabulary size of a sweep's data: a prepared directory's (data.corpus
// holding train.bin: meta.json's vocab_size, data/token_dataset.h), else the
// tokenizer's. When this machine cannot read the directory's meta.json it
// falls back to the tokenizer's; the worker that loads the data then fails
// the trial with the reason.
uint32_t VocabSizeOf(const v1::DataConfig& data);

}  // namespace scalelaw::sweeps

// The worker's name for its training data. The data library owns datasets
// (data/token_dataset.h: prepared token files, nanoGPT train.bin / val.bin,
// or a text directory read as bytes); these aliases keep worker code that
// says Corpus reading as before.
#pragma once

#include <cstdint>

#include "data/token_dataset.h"

namespace scalelaw::worker {

using Corpus = data::TokenDataset;
using CorpusStats = data::DatasetStats;
inline constexpr uint32_t kByteVocabSize = data::kByteVocabSize;

}  // namespace scalelaw::worker

// The values a sweep spec field takes when the YAML leaves it out. They are
// set before the YAML is read, so a user's explicit 0 (e.g. min_lr_ratio: 0,
// decay to zero) is kept.
#pragma once

#include "scalelaw/v1/coordinator.pb.h"

namespace scalelaw::sweeps {

// Byte-level text from Debian's python3.11-doc (installed by scripts/setup.sh).
inline constexpr char kDefaultCorpus[] = "/usr/share/doc/python3.11/html/_sources";

v1::SweepSpec DefaultSweepSpec();

// Vocabulary size of a tokenizer name ("byte" -> 256); 0 for an unknown name.
uint32_t VocabSizeOf(const std::string& tokenizer);

}  // namespace scalelaw::sweeps

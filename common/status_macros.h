// Status helpers missing from Debian's abseil 20220623.
#pragma once

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define SCALELAW_CONCAT_INNER_(a, b) a##b
#define SCALELAW_CONCAT_(a, b) SCALELAW_CONCAT_INNER_(a, b)

// Returns from the enclosing function when `expr` (an absl::Status) is not OK.
#define SCALELAW_RETURN_IF_ERROR(expr)                   \
  do {                                                   \
    ::absl::Status scalelaw_status_ = (expr);            \
    if (!scalelaw_status_.ok()) return scalelaw_status_; \
  } while (0)

// `SCALELAW_ASSIGN_OR_RETURN(auto x, MakeX());` — unwraps an absl::StatusOr or
// returns its error.
#define SCALELAW_ASSIGN_OR_RETURN(lhs, expr) \
  SCALELAW_ASSIGN_OR_RETURN_IMPL_(SCALELAW_CONCAT_(scalelaw_statusor_, __LINE__), lhs, expr)
#define SCALELAW_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                                    \
  if (!tmp.ok()) return tmp.status();                   \
  lhs = std::move(tmp).value()

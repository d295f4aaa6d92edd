// A test's view of a /metrics endpoint: a plain HTTP GET over a real socket,
// and a parser of Prometheus' text exposition format.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace scalelaw::monitoring_testing {

struct HttpResponse {
  int status = 0;
  std::string content_type;
  std::string www_authenticate;
  std::string body;
};

// GET http://127.0.0.1:port/target (HTTP/1.1, connection closed after),
// with an Authorization header when `authorization` is not empty.
absl::StatusOr<HttpResponse> HttpGet(int port, const std::string& target,
                                     const std::string& authorization = "");

struct Sample {
  std::string name;
  std::map<std::string, std::string> labels;
  double value = 0;
};

struct Exposition {
  std::vector<Sample> samples;
  std::map<std::string, std::string> types;  // family name -> "counter", "gauge", ...

  // Samples named `name` whose labels include every pair of `labels`.
  std::vector<Sample> Find(const std::string& name,
                           const std::map<std::string, std::string>& labels = {}) const;
  // The value of the one sample that matches, or nullopt when none or several do.
  std::optional<double> Value(const std::string& name,
                              const std::map<std::string, std::string>& labels = {}) const;
  // Samples with label `key` equal to `value`.
  size_t CountWithLabel(const std::string& key, const std::string& value) const;
};

// Parses text format 0.0.4 (label values with \\, \" and \n escapes).
absl::StatusOr<Exposition> ParseExposition(const std::string& text);

}  // namespace scalelaw::monitoring_testing

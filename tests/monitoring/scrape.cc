#include "tests/monitoring/scrape.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cmath>
#include <cstdlib>
#include <sstream>

#include "absl/strings/str_cat.h"

namespace scalelaw::monitoring_testing {

namespace beast = boost::beast;
namespace http = boost::beast::http;
using tcp = boost::asio::ip::tcp;

absl::StatusOr<HttpResponse> HttpGet(int port, const std::string& target,
                                     const std::string& authorization) {
  boost::asio::io_context io;
  beast::tcp_stream stream(io);
  beast::error_code error;
  stream.expires_after(std::chrono::seconds(30));
  stream.connect(tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), uint16_t(port)), error);
  if (error) return absl::UnavailableError(absl::StrCat("connect: ", error.message()));
  http::request<http::empty_body> request(http::verb::get, target, 11);
  request.set(http::field::host, absl::StrCat("127.0.0.1:", port));
  request.keep_alive(false);
  if (!authorization.empty()) request.set(http::field::authorization, authorization);
  http::write(stream, request, error);
  if (error) return absl::UnavailableError(absl::StrCat("write: ", error.message()));
  beast::flat_buffer buffer;
  http::response<http::string_body> response;
  http::read(stream, buffer, response, error);
  if (error) return absl::UnavailableError(absl::StrCat("read: ", error.message()));
  HttpResponse out;
  out.status = int(response.result_int());
  out.content_type = std::string(response[http::field::content_type]);
  out.www_authenticate = std::string(response[http::field::www_authenticate]);
  out.body = std::move(response.body());
  return out;
}

std::vector<Sample> Exposition::Find(const std::string& name,
                                     const std::map<std::string, std::string>& labels) const {
  std::vector<Sample> found;
  for (const Sample& sample : samples) {
    if (sample.name != name) continue;
    bool match = true;
    for (const auto& [key, value] : labels) {
      auto it = sample.labels.find(key);
      match = match && it != sample.labels.end() && it->second == value;
    }
    if (match) found.push_back(sample);
  }
  return found;
}

std::optional<double> Exposition::Value(const std::string& name,
                                        const std::map<std::string, std::string>& labels) const {
  std::vector<Sample> found = Find(name, labels);
  if (found.size() != 1) return std::nullopt;
  return found[0].value;
}

size_t Exposition::CountWithLabel(const std::string& key, const std::string& value) const {
  size_t n = 0;
  for (const Sample& sample : samples) {
    auto it = sample.labels.find(key);
    if (it != sample.labels.end() && it->second == value) ++n;
  }
  return n;
}

absl::StatusOr<Exposition> ParseExposition(const std::string& text) {
  Exposition out;
  std::istringstream lines(text);
  std::string line;
  int number = 0;
  while (std::getline(lines, line)) {
    ++number;
    if (line.empty()) continue;
    auto bad = [&](const char* why) {
      return absl::InvalidArgumentError(absl::StrCat("line ", number, ": ", why, ": ", line));
    };
    if (line[0] == '#') {
      std::istringstream words(line);
      std::string hash, kind, name, type;
      words >> hash >> kind >> name >> type;
      if (kind == "TYPE") out.types[name] = type;
      continue;
    }
    Sample sample;
    size_t i = 0;
    while (i < line.size() && line[i] != '{' && line[i] != ' ') ++i;
    sample.name = line.substr(0, i);
    if (i < line.size() && line[i] == '{') {
      ++i;
      while (i < line.size() && line[i] != '}') {
        const size_t eq = line.find('=', i);
        if (eq == std::string::npos || eq + 1 >= line.size() || line[eq + 1] != '"') {
          return bad("malformed label");
        }
        std::string key = line.substr(i, eq - i);
        std::string value;
        size_t j = eq + 2;
        for (; j < line.size() && line[j] != '"'; ++j) {
          if (line[j] == '\\' && j + 1 < line.size()) {
            ++j;
            value += line[j] == 'n' ? '\n' : line[j];
          } else {
            value += line[j];
          }
        }
        if (j >= line.size()) return bad("unterminated label value");
        sample.labels[key] = value;
        i = j + 1;
        if (i < line.size() && line[i] == ',') ++i;
      }
      if (i >= line.size()) return bad("unterminated label set");
      ++i;
    }
    while (i < line.size() && line[i] == ' ') ++i;
    const std::string value = line.substr(i, line.find(' ', i) - i);
    if (value == "NaN") {
      sample.value = std::nan("");
    } else if (value == "+Inf") {
      sample.value = HUGE_VAL;
    } else if (value == "-Inf") {
      sample.value = -HUGE_VAL;
    } else {
      char* end = nullptr;
      sample.value = std::strtod(value.c_str(), &end);
      if (value.empty() || *end != '\0') return bad("malformed value");
    }
    out.samples.push_back(std::move(sample));
  }
  return out;
}

}  // namespace scalelaw::monitoring_testing

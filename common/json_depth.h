// How deeply a JSON text nests, found before it is parsed. nlohmann::json
// parses without recursion, but copying, comparing and dumping a value
// recurse once per level: a runs file or meta.json of 100,000 '[' overflowed
// the stack (issue 20; found again by fuzz/runs_json_fuzzer.cc). Readers
// refuse a text nested deeper than kMaxJsonDepth instead.
#pragma once

#include <cstddef>
#include <string_view>

namespace scalelaw {

// Far deeper than any file scalelaw reads (a runs record is 2 levels, an
// extra field of it a few more), far shallower than a stack overflow.
inline constexpr size_t kMaxJsonDepth = 256;

// The deepest nesting of arrays and objects in `text`, brackets inside
// strings not counted. Works on any text, valid JSON or not (unbalanced
// closers count as 0), so it can run before the parser.
inline size_t JsonNestingDepth(std::string_view text) {
  size_t depth = 0, deepest = 0;
  bool in_string = false, escaped = false;
  for (char c : text) {
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > deepest) deepest = depth;
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return deepest;
}

}  // namespace scalelaw

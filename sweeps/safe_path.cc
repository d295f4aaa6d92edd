#include "sweeps/safe_path.h"

#include <algorithm>
#include <filesystem>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace scalelaw::sweeps {
namespace {

namespace fs = std::filesystem;

bool IsNameChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '_' || c == '-';
}

// Lexically normalised, without a trailing separator ("/a/b/" -> "/a/b").
fs::path Normal(const fs::path& path) {
  fs::path normal = path.lexically_normal();
  if (normal.has_relative_path() && normal.filename().empty()) normal = normal.parent_path();
  if (normal == ".") return fs::path();  // "./x" normalises to "x": "." is no prefix
  return normal;
}

bool StartsWithComponents(const fs::path& path, const fs::path& prefix) {
  auto p = path.begin();
  for (auto r = prefix.begin(); r != prefix.end(); ++r, ++p) {
    if (p == path.end() || *p != *r) return false;
  }
  return true;
}

}  // namespace

bool IsSafeName(const std::string& name) {
  return !name.empty() && name.size() <= kMaxNameLength && name.front() != '.' &&
         std::all_of(name.begin(), name.end(), IsNameChar);
}

std::string Printable(const std::string& value, size_t max_chars) {
  if (value.size() <= max_chars) return absl::CHexEscape(value);
  // A cut never splits an escape: the cut happens before escaping.
  return absl::StrCat(absl::CHexEscape(value.substr(0, max_chars)), "...");
}

absl::Status CheckSafeName(const std::string& field, const std::string& value) {
  if (IsSafeName(value)) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(
      field, ": must be a plain name (1 to ", kMaxNameLength,
      " letters, digits, '.', '_' or '-', not starting with '.'), got '", Printable(value), "'"));
}

absl::Status CheckPathText(const std::string& field, const std::string& path) {
  if (path.find('\0') != std::string::npos || path.find('\n') != std::string::npos) {
    return absl::InvalidArgumentError(absl::StrCat(
        field, ": must be a path without NUL or newline characters, got '", Printable(path), "'"));
  }
  for (const fs::path& component : fs::path(path)) {
    if (component == "..") {
      return absl::InvalidArgumentError(
          absl::StrCat(field,
                       ": must not contain a '..' component (give the directory itself), "
                       "got '",
                       Printable(path), "'"));
    }
  }
  return absl::OkStatus();
}

const std::vector<std::string>& SystemDirectories() {
  static const std::vector<std::string> kDirectories = {
      "/bin",  "/boot", "/dev",  "/etc", "/lib", "/lib32",   "/lib64",     "/libx32",
      "/proc", "/root", "/sbin", "/sys", "/usr", "/var/lib", "/var/spool",
  };
  return kDirectories;
}

absl::Status CheckWritableDirectory(const std::string& field, const std::string& path) {
  if (absl::Status text = CheckPathText(field, path); !text.ok()) return text;
  const fs::path normal = Normal(fs::path(path));
  if (!normal.is_absolute()) return absl::OkStatus();
  if (normal == normal.root_path()) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": must not be the root directory, got '", Printable(path), "'"));
  }
  for (const std::string& system : SystemDirectories()) {
    if (StartsWithComponents(normal, system)) {
      return absl::InvalidArgumentError(
          absl::StrCat(field, ": must not be in the system directory ", system,
                       " (workers write there; use a scratch or shared directory), got '",
                       Printable(path), "'"));
    }
  }
  return absl::OkStatus();
}

bool IsUnder(const std::string& path, const std::string& root, const std::string& base) {
  fs::path absolute(path);
  if (absolute.is_relative()) absolute = fs::path(base) / absolute;
  return StartsWithComponents(Normal(absolute), Normal(fs::path(root)));
}

absl::Status CheckUnderRoots(const std::string& field, const std::string& path,
                             const std::vector<std::string>& roots, const std::string& base) {
  if (roots.empty()) return absl::OkStatus();
  for (const std::string& root : roots) {
    if (IsUnder(path, root, base)) return absl::OkStatus();
  }
  return absl::InvalidArgumentError(absl::StrCat(
      field, ": must lie under ", roots.size() == 1 ? "" : "one of ", absl::StrJoin(roots, ", "),
      " (this coordinator's --allow-path-root), got '", Printable(path), "'"));
}

absl::StatusOr<std::string> JoinSafeName(const std::string& field, const std::string& root,
                                         const std::string& name) {
  if (absl::Status safe = CheckSafeName(field, name); !safe.ok()) return safe;
  const fs::path joined = fs::path(root) / fs::path(name);
  // A safe name cannot climb out; this guards the join itself.
  if (!StartsWithComponents(Normal(joined), Normal(fs::path(root))) ||
      Normal(joined) == Normal(fs::path(root))) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": '", Printable(name), "' does not stay under '", root, "'"));
  }
  return joined.string();
}

}  // namespace scalelaw::sweeps

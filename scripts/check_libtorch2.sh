#!/usr/bin/env bash
# Compiles the worker's sources (syntax and types, no linking) against
# libtorch 2.x headers, so the `TORCH_VERSION_MAJOR >= 2` branches that GPU
# machines build (fused attention, bf16 autocast API) are checked on a machine
# that has only Debian 12's libtorch 1.13. The headers come from Debian 13's
# libtorch-dev (2.6), fetched with apt into .debs/ and unpacked into
# build-torch2/: nothing is installed and the system's apt state is untouched.
#
#   bash scripts/check_libtorch2.sh          # prints "libtorch 2.6.0: N files OK"
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
apt_dir=$root/.debs/trixie
prefix=$root/build-torch2
mkdir -p "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial" "$prefix"
echo "deb http://deb.debian.org/debian trixie main" > "$apt_dir/sources.list"
apt_opts=(-o "Dir::Etc::sourcelist=$apt_dir/sources.list" -o "Dir::Etc::sourceparts=-"
          -o "Dir::State::Lists=$apt_dir/lists" -o "Dir::Cache=$apt_dir/cache"
          -o "APT::Get::List-Cleanup=0")
if ! compgen -G "$apt_dir/libtorch-dev_2*.deb" > /dev/null; then
  apt-get -qq "${apt_opts[@]}" update
  (cd "$apt_dir" && apt-get -qq "${apt_opts[@]}" download libtorch-dev 2>/dev/null)
fi
deb=$(compgen -G "$apt_dir/libtorch-dev_2*.deb" | head -1)
[ -n "$deb" ] || { echo "no libtorch-dev 2.x package could be fetched" >&2; exit 1; }
dpkg -x "$deb" "$prefix"
include=$prefix/usr/include
version=$(grep -A1 'define TORCH_VERSION \\' "$include/torch/csrc/api/include/torch/version.h" |
          sed -n 's/.*"\(.*\)".*/\1/p')

# The generated proto headers come from the normal build.
[ -f build/scalelaw/v1/coordinator.pb.h ] || bash scripts/build.sh > /dev/null
files=(worker/*.cc bench/worker_throughput.cc)
failed=0
for file in "${files[@]}"; do
  if ! g++ -std=c++20 -fsyntax-only -Wall -Wextra -Wno-unused-parameter -Werror \
      -isystem "$include" -isystem "$include/torch/csrc/api/include" -I. -Ibuild \
      -isystem /usr/include/eigen3 -DSPDLOG_FMT_EXTERNAL -DFMT_SHARED "$file"; then
    echo "FAIL: $file" >&2
    failed=$((failed + 1))
  fi
done
[ $failed -eq 0 ] || { echo "libtorch $version: $failed of ${#files[@]} files failed" >&2; exit 1; }
echo "libtorch $version: ${#files[@]} files OK"

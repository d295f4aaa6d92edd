#!/usr/bin/env bash
# Builds bench/worker_throughput against a GPU machine's own libtorch (a CUDA
# PyTorch 2.x wheel) and runs it with --device cuda, on a machine that has no
# network and none of the Debian -dev packages scalelaw needs. The packages
# travel as .deb files, fetched here (Debian 12) and unpacked there with
# `dpkg -x` into a private prefix: nothing is installed and `/` is untouched.
#
#   bash scripts/gpu_bench.sh fetch          # here (Debian 12 bookworm, network):
#                                            # .debs + corpus into .debs/gpu/ (~23 MiB)
#   bash scripts/gpu_bench.sh build          # there: unpack into the prefix, configure
#                                            # build-gpu/ (SCALELAW_WORKER_ONLY), build
#   bash scripts/gpu_bench.sh run [FLAGS...] # there: build, then
#                                            # build-gpu/bin/worker_throughput --device cuda FLAGS
#
# With no FLAGS, `run` passes DEFAULT_FLAGS (defined just below):
#   --params 1.25e8 --precision bf16 --ctx 1024 --batch 32 --micro-batches 2
#   --repeats 3 --peak-tflops 989
# i.e. one ~125M-parameter model at bf16, context 1024, 32 sequences in 2
# micro-batches, 3 C++/Python repeats, and MFU against 989 TFLOP/s (the H100
# SXM's dense bf16 datasheet figure; the H200's is the same). Given FLAGS
# replace them all. Either way `run` adds --device cuda, --python (the
# interpreter that holds torch, for the Python peer; the binary's default is
# Debian's /usr/bin/python3) and --corpus (the bundled corpus: the default,
# Debian's python3.11-doc, is not on the GPU machine) unless FLAGS name them.
# Build and run belong in one call: a fresh machine starts without build-gpu/.
#
# On the device tool (the repository is copied to the GPU machine; .debs/ is
# git-ignored, so its gpu/ folder must be named in `carry`):
#
#   run(command="bash scripts/gpu_bench.sh run", carry=[".debs/gpu"], timeout_s=600)
#
# Environment:
#   SCALELAW_PREFIX        where the .debs are unpacked (default /tmp/scalelaw-prefix)
#   SCALELAW_PYTHON        interpreter that holds torch (default python3)
#   SCALELAW_TORCH_PREFIX  Torch's CMake prefix (default: SCALELAW_PYTHON's
#                          torch.utils.cmake_prefix_path)
#   SCALELAW_CMAKE_ARGS    extra configure arguments (split on spaces)
#
# Tested only on Debian 12 (CPU): `fetch`, and `build` against Debian's
# libtorch 1.13 (SCALELAW_TORCH_PREFIX=/usr/lib/x86_64-linux-gnu/cmake/Torch,
# SCALELAW_PYTHON=/usr/bin/python3), then a CPU `--quick --skip-peer` run of
# the result. Never run on a GPU: the CUDA libtorch's CMake config, CUDA 13
# and the `run` defaults are unverified.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

DEFAULT_FLAGS=(--params 1.25e8 --precision bf16 --ctx 1024 --batch 32 --micro-batches 2
               --repeats 3 --peak-tflops 989)

# What the worker-only configure needs (CMakeLists.txt with
# SCALELAW_WORKER_ONLY=ON), by Debian 12 package. gRPC's CMake config checks
# that every file it exports exists, all its plugins included, hence
# protobuf-compiler-grpc; its find_dependency calls need the headers and
# link names of zlib, OpenSSL, c-ares and re2 (libgrpc-dev depends on them).
PACKAGES=(
  libgrpc++-dev protobuf-compiler-grpc    # gRPC (CONFIG) and grpc_cpp_plugin
  libprotobuf-dev protobuf-compiler       # FindProtobuf and protoc
  libabsl-dev                             # absl (CONFIG)
  libyaml-cpp-dev libspdlog-dev libfmt-dev libcli11-dev nlohmann-json3-dev
)
# Packages the resolver treats as installed, so that neither they nor their
# own dependencies are fetched:
# - libc6, libc6-dev, libgcc-s1, libstdc++6, gcc-12-base: every machine with
#   g++ has them, and an Ubuntu 24.04 image has newer ones (glibc 2.39, GCC 13's
#   libstdc++) that run bookworm's binaries (built against glibc 2.36 and GCC
#   12). Bookworm's libc6-dev would even be harmful: the prefix's include/
#   is on the compile line (gRPC's targets put it there) and its glibc
#   headers would shadow the system's.
# - catch2: libspdlog-dev depends on it for its tests; nothing here uses it.
# - pkgconf: libgrpc-dev depends on it for its .pc files; the only pkg-config
#   user in the configure is gRPC's Findre2, which this script satisfies with a
#   re2 CMake config instead (write_re2_config).
# zlib1g, libssl3, libc-ares2 and libre2-9 ARE fetched: the target may lack
# c-ares, Ubuntu 24.04's re2 has another SONAME (libre2.so.10), and the -dev
# packages' link names point at bookworm's exact files (libz.so ->
# libz.so.1.2.13), which a newer zlib does not provide. They cost ~2.3 MB.
PROVIDED=(libc6 libc6-dev libgcc-s1 libstdc++6 gcc-12-base catch2 pkgconf)
# The benchmark's default corpus (sweeps::kDefaultCorpus) is Debian's
# python3.11-doc; only its reST sources travel, as a tarball (3 MB, not 12).
CORPUS_PACKAGE=python3.11-doc
CORPUS_PATH=usr/share/doc/python3.11/html/_sources

ARCH=x86_64-linux-gnu  # the .debs are amd64; the GPU machine is x86-64
deb_dir=$root/.debs/gpu
manifest=$deb_dir/MANIFEST
corpus_tar=$deb_dir/corpus.tar.gz
prefix=${SCALELAW_PREFIX:-/tmp/scalelaw-prefix}
build_dir=$root/build-gpu
python=${SCALELAW_PYTHON:-python3}

die() { echo "gpu_bench: $*" >&2; exit 1; }
say() { echo "gpu_bench: $*"; }

# apt options that leave the system's apt state alone: its (bookworm) package
# lists are read, but no binary cache is written under /var/cache/apt, and
# downloads run as the caller (root may not hand them to the _apt user).
APT_OPTS=(-o Dir::Cache::pkgcache= -o Dir::Cache::srcpkgcache= -o APT::Sandbox::User="$(id -un)")

# --- fetch (Debian 12) ---------------------------------------------------------

# First line of MANIFEST: what was asked for, so that editing the lists above
# makes `fetch` start over.
request_line() { echo "# request: ${PACKAGES[*]} | provided: ${PROVIDED[*]} | corpus: $CORPUS_PACKAGE"; }

# True when MANIFEST matches the request and each package in it has its .deb.
fetched() {
  [ -f "$manifest" ] && [ -f "$corpus_tar" ] || return 1
  [ "$(head -1 "$manifest")" = "$(request_line)" ] || return 1
  check_debs
}

# Every `name=version` line of MANIFEST has a .deb (a carry that lost files
# shows up here rather than as a missing library in the configure).
check_debs() {
  local line name missing=0
  while IFS= read -r line; do
    case $line in '#'*|'') continue ;; esac
    name=${line%%=*}
    if ! compgen -G "$deb_dir/${name}_*.deb" > /dev/null; then
      echo "gpu_bench: missing $deb_dir/${name}_*.deb" >&2
      missing=1
    fi
  done < "$manifest"
  return $missing
}

# A dpkg status file that marks PROVIDED installed at their candidate
# versions, with no Depends (so the resolver does not follow them).
fake_status() {
  local package
  for package in "${PROVIDED[@]}"; do
    apt-cache "${APT_OPTS[@]}" show --no-all-versions "$package" |
      grep -E '^(Package|Version|Architecture|Multi-Arch|Provides):'
    printf 'Status: install ok installed\n\n'
  done
}

# The recursive Depends closure of PACKAGES (no Recommends), as name=version:
# apt resolves an install of them onto a system that holds PROVIDED alone.
resolve() {
  local status=$1
  apt-get "${APT_OPTS[@]}" -s -o Dir::State::status="$status" --no-install-recommends \
    install "${PACKAGES[@]}" | awk '/^Inst /{ sub(/^\(/, "", $3); print $2 "=" $3 }'
}

# python3.11-doc's reST sources, repacked as corpus.tar.gz (_sources/...).
fetch_corpus() {
  local tmp=$1
  (cd "$tmp" && apt-get -qq "${APT_OPTS[@]}" download "$CORPUS_PACKAGE")
  mkdir -p "$tmp/x"
  dpkg-deb --fsys-tarfile "$tmp/${CORPUS_PACKAGE}"_*.deb | tar -x -C "$tmp/x" "./$CORPUS_PATH"
  tar -czf "$corpus_tar" -C "$tmp/x/$(dirname "$CORPUS_PATH")" "$(basename "$CORPUS_PATH")"
  apt-cache "${APT_OPTS[@]}" show --no-all-versions "$CORPUS_PACKAGE" |
    awk -v p="$CORPUS_PACKAGE" '/^Version:/{ print "# corpus: " p "=" $2 }'
}

report_size() {
  local debs
  debs=$(compgen -G "$deb_dir/*.deb" | wc -l)
  say "$debs .debs + corpus in .debs/gpu: $(du -cb "$deb_dir"/*.deb "$corpus_tar" |
    awk 'END { printf "%.1f MiB", $1 / 1048576 }')"
}

fetch() {
  if fetched; then
    say "already fetched (delete .debs/gpu/MANIFEST to fetch again)"
    report_size
    return
  fi
  # The .debs must be bookworm's: their glibc (2.36) and libstdc++ (GCC 12)
  # needs are what an Ubuntu 24.04 image satisfies.
  grep -qx 'VERSION_CODENAME=bookworm' /etc/os-release ||
    die "fetch needs Debian 12 (bookworm): the packages come from its apt lists"
  mkdir -p "$deb_dir"
  rm -f "$deb_dir"/*.deb "$manifest" "$corpus_tar"
  local tmp
  tmp=$(mktemp -d)
  # shellcheck disable=SC2064  # expand $tmp now: it is local
  trap "rm -rf '$tmp'" EXIT
  fake_status > "$tmp/status"
  local packages
  mapfile -t packages < <(resolve "$tmp/status")
  [ ${#packages[@]} -gt 0 ] || die "apt resolved no packages (are the bookworm lists there? apt-get update)"
  say "downloading ${#packages[@]} packages: ${packages[*]%%=*}"
  (cd "$deb_dir" && apt-get -qq "${APT_OPTS[@]}" download "${packages[@]}")
  local corpus_line
  corpus_line=$(fetch_corpus "$tmp")
  # MANIFEST last: its presence means the fetch completed.
  { request_line; printf '%s\n' "${packages[@]}"; echo "$corpus_line"; } > "$manifest.tmp"
  mv "$manifest.tmp" "$manifest"
  report_size
}

# --- unpack (GPU machine) ------------------------------------------------------

# Rewrites the prefix's absolute symlinks to point inside it: some -dev link
# names are absolute (e.g. zlib1g-dev's /usr/lib/<arch>/libz.so ->
# /lib/<arch>/libz.so.1.2.13) and would otherwise reach the system's files.
relocate_symlinks() {
  local link target
  while IFS= read -r -d '' link; do
    target=$(readlink "$link")
    ln -sfnr "$prefix$target" "$link"
  done < <(find "$prefix" -type l -lname '/*' -print0)
}

# gRPC's CMake config looks for re2 through its Findre2 module, which takes a
# re2 CMake config when there is one and otherwise needs pkg-config and
# re2.pc, whose prefix=/usr points out of the prefix. Debian 12's libre2-dev
# ships no CMake config, so one is written beside the library.
write_re2_config() {
  local dir=$prefix/usr/lib/$ARCH/cmake/re2
  mkdir -p "$dir"
  cat > "$dir/re2Config.cmake" <<'EOF'
# Written by scripts/gpu_bench.sh for Debian 12's libre2-dev (which has no
# CMake config) unpacked into a private prefix.
get_filename_component(_re2_prefix "${CMAKE_CURRENT_LIST_DIR}/../../../.." ABSOLUTE)
if(NOT TARGET re2::re2)
  add_library(re2::re2 SHARED IMPORTED)
  set_target_properties(re2::re2 PROPERTIES
    IMPORTED_LOCATION "${_re2_prefix}/lib/x86_64-linux-gnu/libre2.so"
    INTERFACE_INCLUDE_DIRECTORIES "${_re2_prefix}/include")
endif()
set(re2_FOUND TRUE)
unset(_re2_prefix)
EOF
}

# protoc and grpc_cpp_plugin are bookworm binaries whose libraries
# (libprotoc, libgrpc, absl, ...) exist only in the prefix. The wrapper gives
# protoc the prefix's libraries; protoc starts the plugin, which inherits them.
# The compiler and linker never see that LD_LIBRARY_PATH (bookworm's zlib
# under the system's ld, say).
write_protoc_wrapper() {
  mkdir -p "$prefix/wrap"
  cat > "$prefix/wrap/protoc" <<EOF
#!/bin/sh
LD_LIBRARY_PATH="$(prefix_libs)\${LD_LIBRARY_PATH:+:\$LD_LIBRARY_PATH}" exec "$prefix/usr/bin/protoc" "\$@"
EOF
  chmod +x "$prefix/wrap/protoc"
}

prefix_libs() { echo "$prefix/usr/lib/$ARCH:$prefix/lib/$ARCH"; }

# Unpacks every .deb and the corpus into the prefix, once per MANIFEST: the
# prefix keeps a copy of the MANIFEST it was made from.
unpack() {
  [ -f "$manifest" ] ||
    die "no .debs/gpu/MANIFEST: run 'bash scripts/gpu_bench.sh fetch' on Debian 12 and carry .debs/gpu"
  check_debs || die "some .debs of MANIFEST are missing (carry .debs/gpu whole)"
  local stamp=$prefix/.scalelaw-gpu-manifest
  if [ -f "$stamp" ] && cmp -s "$stamp" "$manifest"; then
    say "prefix $prefix is up to date"
    return
  fi
  # Start afresh, but only in a folder this script made (or an empty one):
  # SCALELAW_PREFIX=/usr must not be wiped.
  if [ -e "$prefix" ] && [ ! -f "$stamp" ] && [ -n "$(ls -A "$prefix")" ]; then
    die "$prefix exists, is not empty and was not made by this script"
  fi
  rm -rf "$prefix"
  mkdir -p "$prefix/corpus"
  local deb
  for deb in "$deb_dir"/*.deb; do dpkg -x "$deb" "$prefix"; done
  tar -xzf "$corpus_tar" -C "$prefix/corpus"
  relocate_symlinks
  write_re2_config
  write_protoc_wrapper
  cp "$manifest" "$stamp"
  say "unpacked $(compgen -G "$deb_dir/*.deb" | wc -l) .debs into $prefix"
}

# --- build and run (GPU machine) -------------------------------------------------

torch_prefix() {
  if [ -n "${SCALELAW_TORCH_PREFIX:-}" ]; then
    echo "$SCALELAW_TORCH_PREFIX"
  else
    "$python" -c 'import torch; print(torch.utils.cmake_prefix_path)' ||
      die "$python cannot import torch: set SCALELAW_PYTHON or SCALELAW_TORCH_PREFIX"
  fi
}

configure() {
  local torch
  torch=$(torch_prefix)
  # Torch's CUDA config finds the toolkit through nvcc; images often leave
  # /usr/local/cuda/bin off PATH.
  if ! command -v nvcc > /dev/null && [ -x /usr/local/cuda/bin/nvcc ]; then
    export PATH=/usr/local/cuda/bin:$PATH
  fi
  # No CUDA sources are built, but without an arch list Torch's CMake config
  # compiles and runs a probe to detect the GPU's. 9.0: H100 and H200.
  export TORCH_CUDA_ARCH_LIST=${TORCH_CUDA_ARCH_LIST:-9.0}
  # A configure made against another prefix keeps stale found paths.
  if [ -f "$build_dir/CMakeCache.txt" ] &&
     ! grep -q "^gRPC_DIR:PATH=$prefix/usr/" "$build_dir/CMakeCache.txt"; then
    rm -f "$build_dir/CMakeCache.txt"
  fi
  local args=(-S "$root" -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release
              -DSCALELAW_WORKER_ONLY=ON
              "-DCMAKE_PREFIX_PATH=$prefix/usr;$torch"
              "-DProtobuf_PROTOC_EXECUTABLE=$prefix/wrap/protoc")
  # CMake 4 (pip's `cmake`, say) refuses configs that declare compatibility
  # with CMake < 3.5; some packages' config files still do.
  if [ "$(cmake --version | sed -n '1s/[^0-9]*\([0-9]*\).*/\1/p')" -ge 4 ]; then
    args+=(-DCMAKE_POLICY_VERSION_MINIMUM=3.5)
  fi
  # shellcheck disable=SC2206  # SCALELAW_CMAKE_ARGS is split on purpose
  args+=(${SCALELAW_CMAKE_ARGS:-})
  cmake "${args[@]}"
}

build() {
  unpack
  configure
  cmake --build "$build_dir" --target worker_throughput -j "$(nproc)"
}

# True when FLAGS (after the first argument) contain option $1.
has_flag() {
  local flag=$1 arg
  shift
  for arg in "$@"; do
    case $arg in "$flag"|"$flag"=*) return 0 ;; esac
  done
  return 1
}

run() {
  build
  local flags=("$@")
  [ ${#flags[@]} -gt 0 ] || flags=("${DEFAULT_FLAGS[@]}")
  has_flag --device "${flags[@]}" || flags=(--device cuda "${flags[@]}")
  # The peer must run on the interpreter that holds torch (the default,
  # /usr/bin/python3, is Debian's), on the corpus the C++ side reads.
  if ! has_flag --python "${flags[@]}" && command -v "$python" > /dev/null; then
    flags+=(--python "$(command -v "$python")")
  fi
  has_flag --corpus "${flags[@]}" || flags+=(--corpus "$prefix/corpus/$(basename "$CORPUS_PATH")")
  say "worker_throughput ${flags[*]}"
  # The worker's gRPC, absl, protobuf... live only in the prefix; the binary's
  # RUNPATH names them, but their own dependencies are found through this.
  LD_LIBRARY_PATH="$(prefix_libs)${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" \
    "$build_dir/bin/worker_throughput" "${flags[@]}"
}

usage() {
  sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'
  exit 2
}

case ${1:-} in
  fetch) fetch ;;
  build) build ;;
  run) shift; run "$@" ;;
  *) usage ;;
esac

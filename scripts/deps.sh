# Sourced by the scripts: installs the Debian packages Braid builds and tests with, when missing.
# Required: a C++20 compiler, CMake, Ninja, GoogleTest. Optional (detected by CMake, reported,
# never required): hwloc, ibverbs, UCX, PMIx, Google Benchmark, Open MPI and Gloo (the peers
# the benchmarks compare against), matplotlib (plots), graphviz (braid-topo --svg), iproute2 (network namespaces), numpy and
# torch (the Python package's tests and the PyTorch DDP hook; tests skip without them, and the
# skips show as skips in ctest). Every package listed here is installed, or the set-up fails
# naming the ones apt-get could not install.

braid_packages=(build-essential cmake ninja-build pkg-config googletest libgtest-dev libgmock-dev
  libbenchmark-dev libhwloc-dev libibverbs-dev libucx-dev libpmix-dev openmpi-bin libopenmpi-dev
  libgloo-dev python3-matplotlib iproute2 python3-numpy python3-torch iptables
  libnetfilter-queue-dev graphviz)

braid_install_deps() {
  local missing=()
  local p
  for p in "${braid_packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if ((${#missing[@]} == 0)); then
    return 0
  fi
  echo "braid: installing missing Debian packages: ${missing[*]}"
  local sudo=""
  if [ "$(id -u)" != 0 ]; then sudo="sudo"; fi
  $sudo apt-get update -q || { echo "braid: apt-get update failed" >&2; return 1; }
  # A package that cannot be installed fails the set-up by name: going on without it would turn
  # the tests that need it into silent skips.
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}" ||
    true
  local still=()
  for p in "${missing[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || still+=("$p")
  done
  if ((${#still[@]} > 0)); then
    echo "braid: apt-get could not install: ${still[*]}" >&2
    return 1
  fi
}

# Configures (once) and builds into $BRAID_BUILD_DIR (default: build).
braid_build() {
  local dir="${BRAID_BUILD_DIR:-build}"
  local gen=()
  command -v ninja >/dev/null && gen=(-G Ninja)
  if [ ! -f "$dir/CMakeCache.txt" ]; then
    cmake -S . -B "$dir" "${gen[@]}" -DCMAKE_BUILD_TYPE=Release "$@" || return 1
  elif (($# > 0)); then
    cmake -S . -B "$dir" "$@" >/dev/null || return 1
  fi
  cmake --build "$dir" -j "$(nproc)" || return 1
}

#!/usr/bin/env bash
# Installs the build into a temporary prefix, then builds and runs a consumer with CMake's
# find_package(braid) and another with pkg-config, as a downstream user would.
set -euo pipefail
build="$1"
src="$(cd "$(dirname "$0")" && pwd)"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
cmake --install "$build" --prefix "$tmp/prefix" >/dev/null
cmake -S "$src/consumer" -B "$tmp/consumer" -DCMAKE_PREFIX_PATH="$tmp/prefix" >/dev/null
cmake --build "$tmp/consumer" >/dev/null
LD_LIBRARY_PATH="$tmp/prefix/lib:$tmp/prefix/lib64:${LD_LIBRARY_PATH:-}" "$tmp/consumer/consumer_c"
LD_LIBRARY_PATH="$tmp/prefix/lib:$tmp/prefix/lib64:${LD_LIBRARY_PATH:-}" "$tmp/consumer/consumer_cxx"
if command -v pkg-config >/dev/null; then
  libdir=$(ls -d "$tmp"/prefix/lib*/pkgconfig | head -n 1)
  flags=$(PKG_CONFIG_PATH="$libdir" pkg-config --cflags --libs braid)
  cc "$src/consumer/main.c" $flags -o "$tmp/pc_consumer"
  LD_LIBRARY_PATH="$tmp/prefix/lib:$tmp/prefix/lib64:${LD_LIBRARY_PATH:-}" "$tmp/pc_consumer"
fi
echo "install test: OK"

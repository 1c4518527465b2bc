#!/usr/bin/env bash
# benchmarks/compare's verdict, against fake peers (fake_perf: writes the harness's JSON, with
# wrong values or a failing exit on request): a clean run exits 0; a peer with wrong values, or
# one that exits non-zero, fails the run, is reported, and its wrong rows stay out of the
# medians while the CSV's #wrong column counts them. Takes about a second.
#   compare_test.sh SOURCE_DIR
set -uo pipefail
src="$1"
here="$(cd "$(dirname "$0")" && pwd)"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/build/tools/braid-run" "$tmp/build/tools/braid-perf" "$tmp/build/benchmarks/peers"
printf '#!/bin/sh\nwhile [ "$1" != --no-prefix ]; do shift; done; shift; exec "$@"\n' \
  >"$tmp/build/tools/braid-run/braid-run"
chmod +x "$tmp/build/tools/braid-run/braid-run"
for p in tools/braid-perf/braid-perf benchmarks/peers/mpi-perf benchmarks/peers/gloo-perf; do
  cp "$here/fake_perf" "$tmp/build/$p"
  chmod +x "$tmp/build/$p"
done
# mpi-perf runs under mpirun; without Open MPI compare leaves it out, and this test does too.
libs=braid,gloo
command -v mpirun >/dev/null && libs=braid,mpi,gloo
fail=0
run() {  # run NAME EXPECTED_STATUS ENV...
  local name="$1" want="$2"
  shift 2
  env "$@" "$src/benchmarks/compare" --build-dir "$tmp/build" --out "$tmp/$name" --libs "$libs" \
    --min 16 --max 256 --factor 4 --reps 2 --warmup 1 --iters 1 >"$tmp/$name.log" 2>&1
  local rc=$?
  if ((rc != want)); then
    echo "FAIL: $name: exit $rc, expected $want"
    cat "$tmp/$name.log"
    fail=1
  else
    echo "ok: $name: exit $rc"
  fi
}
run clean 0
run wrong 1 FAKE_BAD=gloo
grep -q "problem gloo: rep 0: 5 wrong values at 64 bytes" "$tmp/wrong.log" ||
  { echo "FAIL: the wrong values are not reported"; fail=1; }
csv="$(ls "$tmp"/wrong/*.csv)"
head -n 1 "$csv" | grep -q "gloo_#wrong" || { echo "FAIL: no #wrong column in $csv"; fail=1; }
# the 64-byte row: gloo's median empty (its wrong rows left out), its #wrong 10 (5 per rep)
awk -F, '{ sub(/\r$/, "") } NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i }
         $1 == 64 { exit !($col["gloo_busbw_median"] == "" && $col["gloo_#wrong"] == 10) }' "$csv" ||
  { echo "FAIL: the 64-byte row of $csv: $(grep '^64,' "$csv")"; fail=1; }
run exit 1 FAKE_EXIT=braid
grep -q "problem braid: rep 0: exit 1" "$tmp/exit.log" ||
  { echo "FAIL: the failing exit is not reported"; fail=1; }
exit $fail

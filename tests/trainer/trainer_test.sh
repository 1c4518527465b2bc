#!/usr/bin/env bash
# The trainer example on N ranks, each with 1/N of the global batch, against one rank on the
# whole batch: after K steps the weights match to float32 round-off, and they are bitwise
# identical across the N ranks. Runs the flat (in-place buckets) and the separate-buffer
# (fused buckets) layouts, with overlap on and off.
# Usage: trainer_test.sh BRAID_RUN TRAINER
set -euo pipefail
run=$1
trainer=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
common=(--steps 8 --batch 48 --in 32 --hidden 96 --layers 3 --lr 0.1 --quiet)

compare() {  # compare DIR_REF DIR N: ranks bitwise equal, and close to the reference
  local ref=$1 dir=$2 n=$3
  for ((r = 1; r < n; r++)); do
    cmp -s "$dir/weights.rank0.bin" "$dir/weights.rank$r.bin" || {
      echo "FAIL: $dir: rank $r's weights differ from rank 0's (must be bitwise identical)"
      exit 1
    }
  done
  python3 - "$ref/weights.rank0.bin" "$dir/weights.rank0.bin" <<'PY'
import array, sys
a, b = array.array("f"), array.array("f")
a.frombytes(open(sys.argv[1], "rb").read()); b.frombytes(open(sys.argv[2], "rb").read())
assert len(a) == len(b) and len(a) > 0, (len(a), len(b))
scale = max(abs(x) for x in a)
worst = max(abs(x - y) for x, y in zip(a, b))
ident = sum(1 for x, y in zip(a, b) if x == y)
print(f"  {sys.argv[2]}: max |diff| {worst:.3g} (max |w| {scale:.3g}), {ident}/{len(a)} equal")
# float32 round-off: a few ulps of the largest weight, accumulated over the steps.
if worst > 1e-5 * scale:
    sys.exit(f"FAIL: weights differ from the single-rank run by {worst} > 1e-5 * {scale}")
if ident == len(a):
    print("  (bitwise equal to the single-rank run)")
PY
}

for layout in flat separate; do
  extra=()
  [ "$layout" = separate ] && extra=(--separate --bucket-kb 16)
  mkdir -p "$work/$layout.1"
  "$run" -n 1 "$trainer" "${common[@]}" "${extra[@]}" --overlap on --dump "$work/$layout.1" >/dev/null
  for n in 2 3 4; do
    for ov in on off; do
      d="$work/$layout.$n.$ov"
      mkdir -p "$d"
      "$run" -n "$n" "$trainer" "${common[@]}" "${extra[@]}" --overlap "$ov" --dump "$d" >/dev/null
      echo "$layout layout, $n ranks, overlap $ov:"
      compare "$work/$layout.1" "$d" "$n"
    done
  done
done
echo "PASS"

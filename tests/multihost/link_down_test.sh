#!/usr/bin/env bash
# A link cut mid-AllReduce: TCP reports nothing, the peer just goes silent. Every rank must
# fail within BRAID_TIMEOUT_MS (plus slack) with a message naming a rank - never hang - and
# once the link is back, a new communicator works.
#   link_down_test.sh BUILD_DIR
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
build="$1"
perf="$build/tools/braid-perf/braid-perf"
[ -x "$perf" ] || { echo "skip: $perf not built"; exit 77; }
id="bl$$"
trap '"$here/netns_cluster.sh" down "$id"' EXIT
"$here/netns_cluster.sh" up "$id" 3 || exit $?
export BRAID_SOCKET_IFNAME=eth0 BRAID_TIMEOUT_MS=3000
log="$(mktemp)"
trap 'rm -f "$log"; "$here/netns_cluster.sh" down "$id"' EXIT
# Many large AllReduces, so the cut lands mid-operation.
"$here/run_ranks.sh" "$id" 3 1 60 "$perf" -b 16M -e 16M -n 100000 -w 1 -c 0 >"$log" 2>&1 &
runner=$!
sleep 3
cut_at=$SECONDS
ip -n "$id-h2" link set eth0 down
wait "$runner"
rc=$?
elapsed=$((SECONDS - cut_at))
fail=0
if ((rc == 0 || rc == 124)); then
  echo "FAIL: the job did not fail after the link cut (exit $rc)"
  fail=1
elif ((elapsed > 15)); then
  echo "FAIL: ranks took ${elapsed}s to fail (BRAID_TIMEOUT_MS=3000)"
  fail=1
elif ! grep -qE "rank [0-9]+.*(no progress|lost|closed|failed)" "$log"; then
  echo "FAIL: no error naming a rank"
  fail=1
else
  echo "ok: ranks failed ${elapsed}s after the cut: $(grep -m1 -oE 'rank [0-9]+: .*' "$log" | cut -c1-160)"
fi
ip -n "$id-h2" link set eth0 up
sleep 1
if "$here/run_ranks.sh" "$id" 3 1 60 "$perf" -b 8 -e 1M -f 32 -n 5 -w 1 -c 1 >"$log" 2>&1 &&
   grep -q "Out of bounds values : 0 OK" "$log"; then
  echo "ok: a new communicator works once the link is back"
else
  echo "FAIL: a new communicator failed after the link came back"
  tail -n 20 "$log"
  fail=1
fi
exit $fail

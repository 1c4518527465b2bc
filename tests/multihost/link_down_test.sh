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
# Many large AllReduces, so the cut lands mid-operation. RUN_RANKS_ALL: no rank is killed
# because another failed first; each must fail by itself.
RUN_RANKS_ALL=1 "$here/run_ranks.sh" "$id" 3 1 60 "$perf" -b 16M -e 16M -n 100000 -w 1 -c 0 \
  >"$log" 2>&1 &
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
else
  # A rank's last lines pass through run_ranks.sh's output filters, which may write them just
  # after the rank's exit: wait (up to 10 s) for the line, not for a guessed time.
  wait_for_line() {
    local i
    for ((i = 0; i < 100; i++)); do
      grep -qE "$1" "$log" && return 0
      sleep 0.1
    done
    return 1
  }
  # Every rank, not just the first: its own exit status and time, and an error of its own that
  # names another rank (every message starts with "rank <own rank>:", so that alone proves
  # nothing).
  for r in 0 1 2; do
    line="$(grep -m1 -oE "run_ranks: rank $r exit [0-9]+ at [0-9]+" "$log")"
    rrc="$(awk '{print $5}' <<<"$line")"
    at="$(awk '{print $7}' <<<"$line")"
    if [ -z "$line" ] || ((rrc == 0)); then
      echo "FAIL: rank $r did not fail after the link cut (${line:-no exit seen})"
      fail=1
    elif ((at - cut_at > 15)); then
      echo "FAIL: rank $r took $((at - cut_at))s to fail (BRAID_TIMEOUT_MS=3000)"
      fail=1
    elif ! wait_for_line "^\[$r\] .*rank $r: " ||
         ! grep -E "^\[$r\] .*rank $r: .*(no progress|lost|closed|failed|reset|timed out)" "$log" |
           sed "s/^\[$r\] //; s/rank $r: //" | grep -qE "rank [0-9]+"; then
      echo "FAIL: rank $r has no error naming another rank:"
      grep -E "^\[$r\] " "$log" | tail -n 3
      fail=1
    else
      echo "ok: rank $r failed $((at - cut_at))s after the cut: $(grep -m1 -oE "rank $r: .*" "$log" | cut -c1-160)"
    fi
  done
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

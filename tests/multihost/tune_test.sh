#!/usr/bin/env bash
# braid-tune on a cluster with one slow link: 4 namespaces x 1 rank. Every host's egress goes
# through htb at FAST (default 1gbit), except the traffic between h0 and h1 (ranks 0 and 1,
# adjacent in the identity ring 0 1 2 3), which gets SLOW (default 100mbit) in both
# directions. (This kernel has no netem; htb + a u32 filter on the destination address shapes
# one pair of a bridged star, and the traffic never leaves the namespaces.)
#
# Asserts: braid-tune's ring file avoids the 0 <-> 1 hop; its AllReduce busbw with the tuned
# ring beats the identity ring's (both measured in the same run, printed); and every
# collective gives correct results with BRAID_RING_FILE set to the tuned ring.
#   tune_test.sh BUILD_DIR
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
build="$1"
tune="$build/tools/braid-tune/braid-tune"
perf="$build/tools/braid-perf/braid-perf"
[ -x "$tune" ] && [ -x "$perf" ] || { echo "skip: braid-tune or braid-perf not built"; exit 77; }
command -v tc >/dev/null || { echo "skip: tc (iproute2) not found"; exit 77; }
fast="${BRAID_TUNE_TEST_FAST:-1gbit}" slow="${BRAID_TUNE_TEST_SLOW:-100mbit}"
id="tt$$"
work="$(mktemp -d)"
trap '"$here/netns_cluster.sh" down "$id"; rm -rf "$work"' EXIT
"$here/netns_cluster.sh" up "$id" 4 || exit $?

shape() {  # shape HOST SLOW_PEER
  local h="$1" peer="$2" ns="${id}-h$1"
  ip netns exec "$ns" tc qdisc add dev eth0 root handle 1: htb default 10 r2q 1000 || return 1
  ip netns exec "$ns" tc class add dev eth0 parent 1: classid 1:10 htb rate "$fast" || return 1
  ip netns exec "$ns" tc class add dev eth0 parent 1: classid 1:20 htb rate "$slow" || return 1
  [ -z "$peer" ] && return 0
  ip netns exec "$ns" tc filter add dev eth0 parent 1: protocol ip prio 1 u32 \
    match ip dst "$("$here/netns_cluster.sh" addr "$id" "$peer")/32" flowid 1:20
}
if ! { shape 0 1 && shape 1 0 && shape 2 "" && shape 3 ""; }; then
  echo "skip: cannot shape with tc htb here"
  exit 77
fi
echo "shaped: every host at $fast, h0 <-> h1 at $slow"

export BRAID_SOCKET_IFNAME=eth0 BRAID_TIMEOUT_MS=60000
unset BRAID_RING_FILE
out="$("$here/run_ranks.sh" "$id" 4 1 300 "$tune" --bytes 2M --iters 2 --busbw-bytes 16M \
  --busbw-iters 3 -o "$work/ring.txt" 2>&1)"
rc=$?
echo "$out"
if ((rc != 0)); then
  echo "FAIL: braid-tune exited with $rc"
  exit 1
fi
ring="$(grep '^ring' "$work/ring.txt" | head -n 1)"
echo "ring file: $ring"
fail=0
# The ring as a cycle must not put 0 and 1 next to each other.
if awk '{ n = NF - 1; for (i = 2; i <= NF; i++) { a = $i; b = (i == NF) ? $2 : $(i + 1);
          if ((a == 0 && b == 1) || (a == 1 && b == 0)) bad = 1 } } END { exit bad ? 0 : 1 }' \
     <<<"$ring"; then
  echo "FAIL: the tuned ring still uses the slow 0 <-> 1 link"
  fail=1
fi
before="$(grep 'current ring' <<<"$out" | grep 'GB/s' | tail -n 1 | awk '{print $(NF-1)}')"
after="$(grep 'tuned ring' <<<"$out" | grep 'GB/s' | tail -n 1 | awk '{for (i = 1; i <= NF; i++) if ($i == "GB/s") print $(i-1)}')"
echo "AllReduce busbw: identity ring $before GB/s, tuned ring $after GB/s"
if [ -z "$before" ] || [ -z "$after" ] || ! awk -v a="$after" -v b="$before" 'BEGIN { exit !(a > b) }'; then
  echo "FAIL: the tuned ring's busbw ($after) does not beat the identity ring's ($before)"
  fail=1
fi
for coll in allreduce reducescatter allgather broadcast reduce; do
  res="$(BRAID_RING_FILE="$work/ring.txt" BRAID_ALGO=ring "$here/run_ranks.sh" "$id" 4 1 120 \
    "$perf" --coll "$coll" -b 4 -e 1M -f 16 -n 2 -w 1 -c 1 -d int32 2>&1)"
  if ! grep -q "Out of bounds values : 0 OK" <<<"$res"; then
    echo "FAIL: $coll with the tuned ring"
    tail -n 15 <<<"$res"
    fail=1
  else
    echo "ok: $coll correct with the tuned ring"
  fi
done
exit $fail

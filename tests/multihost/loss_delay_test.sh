#!/usr/bin/env bash
# 2% packet loss (iptables statistic) on one host's incoming packets and 2 ms of added delay
# (an NFQUEUE delayer: this kernel has no netem) on its outgoing ones: every collective and
# dtype still gives exactly the right result, just slower.
#   loss_delay_test.sh BUILD_DIR
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
build="$1"
perf="$build/tools/braid-perf/braid-perf"
delayer="$build/tests/multihost/nfq_delay"
[ -x "$perf" ] || { echo "skip: $perf not built"; exit 77; }
[ -x "$delayer" ] || { echo "skip: nfq_delay not built (libnetfilter-queue-dev missing)"; exit 77; }
command -v iptables >/dev/null || { echo "skip: iptables missing"; exit 77; }
id="bq$$"
trap '"$here/netns_cluster.sh" down "$id"' EXIT
"$here/netns_cluster.sh" up "$id" 3 || exit $?
h="$id-h1"
ip netns exec "$h" iptables -A INPUT -i eth0 -m statistic --mode random --probability 0.02 -j DROP ||
  { echo "skip: iptables statistic match unavailable"; exit 77; }
ip netns exec "$h" iptables -A OUTPUT -o eth0 -j NFQUEUE --queue-num 7 --queue-bypass ||
  { echo "skip: NFQUEUE unavailable"; exit 77; }
ip netns exec "$h" "$delayer" 7 2000 600 2>/dev/null &
disown $!
sleep 0.3
export BRAID_SOCKET_IFNAME=eth0 BRAID_TIMEOUT_MS=60000
fail=0
start=$SECONDS
for coll in allreduce reducescatter allgather broadcast reduce; do
  out="$("$here/run_ranks.sh" "$id" 3 1 300 "$perf" --coll "$coll" -b 4 -e 2M -f 32 -n 2 -w 1 -c 1 \
    -d all -o sum 2>&1)"
  rc=$?
  if ((rc != 0)) || ! grep -q "Out of bounds values : 0 OK" <<<"$out"; then
    echo "FAIL: $coll under 2% loss + 2 ms delay (exit $rc)"
    tail -n 15 <<<"$out"
    fail=1
  else
    echo "ok: $coll, every dtype, exact under 2% loss + 2 ms delay"
  fi
done
# And AllReduce with every op.
out="$("$here/run_ranks.sh" "$id" 3 1 300 "$perf" -b 1K -e 4M -f 64 -n 3 -w 1 -c 1 -o all 2>&1)"
rc=$?
if ((rc == 0)) && grep -q "Out of bounds values : 0 OK" <<<"$out"; then
  echo "ok: allreduce, every op"
else
  echo "FAIL: allreduce with every op (exit $rc)"
  tail -n 15 <<<"$out"
  fail=1
fi
# The delay is really there: an 8-byte AllReduce crosses host 1's delayed output at least
# once, so it takes 2 ms or more (it takes tens of microseconds on a clean cluster).
out="$("$here/run_ranks.sh" "$id" 3 1 120 "$perf" -b 8 -e 8 -n 20 -w 2 -c 1 2>&1)"
rc=$?
us=$(awk '$1 == "[0]" && $2 == "8" {print int($7)}' <<<"$out")
if ((rc != 0)); then
  echo "FAIL: the 8-byte AllReduce run failed (exit $rc)"
  tail -n 15 <<<"$out"
  fail=1
elif [ -z "$us" ] || ((us < 2000)); then
  echo "FAIL: an 8-byte AllReduce took ${us:-?} us: the delayer is not in the path"
  fail=1
else
  echo "ok: 8-byte AllReduce takes $us us with the delay (so the delayer is in the path)"
fi
echo "took $((SECONDS - start)) s"
exit $fail

#!/usr/bin/env bash
# Every collective, checked element by element, between ranks on different simulated hosts
# (network namespaces joined by a bridge): TCP over veth, interface chosen by
# BRAID_SOCKET_IFNAME, each namespace a distinct host to Braid.
#   collectives_test.sh BUILD_DIR HOSTS RANKS_PER_HOST
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
build="$1" hosts="$2" per="$3"
perf="$build/tools/braid-perf/braid-perf"
[ -x "$perf" ] || { echo "skip: $perf not built"; exit 77; }
id="bt$$"
trap '"$here/netns_cluster.sh" down "$id"' EXIT
"$here/netns_cluster.sh" up "$id" "$hosts" || exit $?
export BRAID_SOCKET_IFNAME=eth0 BRAID_TIMEOUT_MS=20000
fail=0
for coll in allreduce reducescatter allgather broadcast reduce; do
  for algo in ring direct; do
    [ "$coll" != allreduce ] && [ "$algo" = direct ] && continue
    out="$(BRAID_ALGO=$algo "$here/run_ranks.sh" "$id" "$hosts" "$per" 120 \
      "$perf" --coll "$coll" -b 4 -e 4M -f 16 -n 3 -w 1 -c 1 -d all -o sum 2>&1)"
    rc=$?
    if ((rc != 0)) || ! grep -q "Out of bounds values : 0 OK" <<<"$out"; then
      echo "FAIL: $coll (BRAID_ALGO=$algo) on $hosts hosts x $per ranks (exit $rc)"
      tail -n 20 <<<"$out"
      fail=1
    else
      echo "ok: $coll (BRAID_ALGO=$algo) on $hosts hosts x $per ranks, every dtype, 0 wrong"
    fi
  done
done
# Ranks on different hosts must have used the namespace's eth0, not loopback.
out="$(BRAID_DEBUG=INFO "$here/run_ranks.sh" "$id" "$hosts" "$per" 60 "$perf" -b 1M -e 1M -n 1 -w 0 -c 1 2>&1)"
if ! grep -q "listening for peers on 10.213" <<<"$out"; then
  echo "FAIL: ranks did not listen on the cluster network"
  grep "listening" <<<"$out" | head
  fail=1
fi
exit $fail

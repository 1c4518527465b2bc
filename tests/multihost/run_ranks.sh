#!/usr/bin/env bash
# Runs a Braid program across the hosts of a netns cluster:
#   run_ranks.sh ID HOSTS RANKS_PER_HOST TIMEOUT_S program args...
# Rank r runs on host r / RANKS_PER_HOST; rank 0's host serves the rendezvous. Every rank gets
# the braid-run variables (rank, size, root address, a random secret); output lines are
# prefixed "[rank] ". Exits with the first failing rank's status (after killing the others),
# or 124 when TIMEOUT_S passes. With RUN_RANKS_ALL=1 the others are not killed: every rank runs
# to its own end, and each one's exit is reported as "run_ranks: rank R exit S at T" (T: $SECONDS
# of this script), so a test can check every rank.
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
id="$1" hosts="$2" per="$3" limit="$4"
shift 4
nranks=$((hosts * per))
root="$("$here/netns_cluster.sh" addr "$id" 0)"
port=$(( 20000 + RANDOM % 20000 ))
secret="$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')"
pids=()
for ((r = 0; r < nranks; r++)); do
  h=$((r / per))
  # sed -u: line by line, so the lines of the ranks and of this script never mix mid-line.
  "$here/netns_cluster.sh" exec "$id" "$h" env BRAID_RANK=$r BRAID_NRANKS=$nranks \
    BRAID_LOCAL_RANK=$((r % per)) BRAID_ROOT_ADDR="$root:$port" BRAID_SECRET="$secret" \
    "$@" > >(sed -u "s/^/[$r] /") 2> >(sed -u "s/^/[$r] /" >&2) &
  pids+=($!)
done
deadline=$((SECONDS + limit))
status=0
remaining=$nranks
while ((remaining > 0)); do
  for i in "${!pids[@]}"; do
    pid="${pids[$i]}"
    [ -n "$pid" ] || continue
    if ! kill -0 "$pid" 2>/dev/null; then
      wait "$pid"
      rc=$?
      pids[$i]=""
      remaining=$((remaining - 1))
      [ "${RUN_RANKS_ALL:-0}" = 1 ] && echo "run_ranks: rank $i exit $rc at $SECONDS" >&2
      if ((rc != 0 && status == 0)); then
        status=$rc
        echo "run_ranks: rank $i exited with status $rc" >&2
        if [ "${RUN_RANKS_ALL:-0}" != 1 ]; then
          for p in "${pids[@]}"; do [ -n "$p" ] && kill "$p" 2>/dev/null; done
        fi
      fi
    fi
  done
  if ((SECONDS >= deadline)); then
    echo "run_ranks: timed out after ${limit}s" >&2
    for p in "${pids[@]}"; do [ -n "$p" ] && kill -9 "$p" 2>/dev/null; done
    wait
    exit 124
  fi
  sleep 0.1
done
wait
exit $status

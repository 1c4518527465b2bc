#!/usr/bin/env bash
# A simulated cluster on one machine: N network namespaces ("hosts") whose eth0 is a veth
# plugged into a bridge that lives in its own "switch" namespace, so the machine's own network
# is never touched. Addresses (10.213.<id>.0/24) exist only inside these namespaces.
#
#   netns_cluster.sh up ID N        create hosts <ID>-h0 .. <ID>-h<N-1> (ID: a short tag)
#   netns_cluster.sh down ID        delete them (idempotent; safe to call after a failure)
#   netns_cluster.sh addr ID I      print host I's address
#   netns_cluster.sh exec ID I cmd  run cmd inside host I
# Needs root and iproute2. Exit 77 (skip) when namespaces cannot be made here.
set -euo pipefail

sub="${1:-}"
id="${2:-}"
[ -n "$sub" ] && [ -n "$id" ] || { echo "usage: $0 up|down|addr|exec ID ..." >&2; exit 2; }
# The third octet is derived from the tag so parallel clusters do not collide.
octet=$(( $(printf '%s' "$id" | cksum | cut -d' ' -f1) % 200 + 20 ))
sw="${id}-sw"

addr() { echo "10.213.${octet}.$(( $1 + 1 ))"; }

case "$sub" in
  up)
    n="${3:?number of hosts}"
    if [ "$(id -u)" != 0 ] || ! command -v ip >/dev/null; then
      echo "netns_cluster: needs root and iproute2" >&2
      exit 77
    fi
    if ! ip netns add "$sw" 2>/dev/null; then
      echo "netns_cluster: cannot create network namespaces here" >&2
      exit 77
    fi
    ip -n "$sw" link set lo up
    ip -n "$sw" link add br0 type bridge
    ip -n "$sw" link set br0 up
    for ((i = 0; i < n; i++)); do
      h="${id}-h$i"
      ip netns add "$h"
      ip -n "$h" link set lo up
      ip link add "${id}v$i" type veth peer name eth0 netns "$h"
      ip link set "${id}v$i" netns "$sw"
      ip -n "$sw" link set "${id}v$i" master br0 up
      ip -n "$h" addr add "$(addr "$i")/24" dev eth0
      ip -n "$h" link set eth0 up
    done
    ;;
  down)
    for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep -E "^${id}-(sw|h[0-9]+)$" || true); do
      # Kill anything still running inside, then delete.
      for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$pid" 2>/dev/null || true; done
      ip netns delete "$ns" 2>/dev/null || true
    done
    ;;
  addr)
    addr "${3:?host index}"
    ;;
  exec)
    i="${3:?host index}"
    shift 3
    exec ip netns exec "${id}-h$i" "$@"
    ;;
  *)
    echo "usage: $0 up|down|addr|exec ID ..." >&2
    exit 2
    ;;
esac

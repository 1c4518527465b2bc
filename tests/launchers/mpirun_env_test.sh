#!/bin/sh
# braidCommInitFromEnv under Open MPI's mpirun with no address given: the rendezvous must come
# through PMIx. Usage: mpirun_env_test.sh PROGRAM [NP]. Exit 77 (skipped) without mpirun, without
# the program, or when this build has no PMIx.
prog=$1
np=${2:-3}
if ! command -v mpirun >/dev/null 2>&1; then
  echo "mpirun not found: skipped"
  exit 77
fi
if [ ! -x "$prog" ]; then
  echo "$prog not built: skipped"
  exit 77
fi
if [ "${BRAID_TEST_HAVE_PMIX:-1}" = 0 ]; then
  echo "Braid was built without PMIx: skipped"
  exit 77
fi
unset BRAID_ROOT_ADDR MASTER_ADDR MASTER_PORT BRAID_SECRET BRAID_RANK BRAID_NRANKS RANK WORLD_SIZE
out=$(mktemp)
trap 'rm -f "$out"' EXIT
BRAID_DEBUG=INFO mpirun --allow-run-as-root --oversubscribe -np "$np" "$prog" >"$out" 2>&1
rc=$?
cat "$out"
if [ "$rc" -ne 0 ]; then
  echo "FAIL: mpirun exited with $rc"
  exit 1
fi
ok=$(grep -c "env_allreduce: rank .* OK" "$out")
if [ "$ok" -ne "$np" ]; then
  echo "FAIL: $ok of $np ranks reported OK"
  exit 1
fi
if ! grep -q "PMIx rendezvous" "$out"; then
  echo "FAIL: the rendezvous did not go through PMIx"
  exit 1
fi
echo "PASS"

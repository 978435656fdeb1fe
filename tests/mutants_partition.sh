#!/bin/bash
# Usage: bash tests/mutants_partition.sh  (each mutant must FAIL a test; the file is restored after each)
# Apply each mutant named in issue 12, run the unit tests it should fail, restore the file.
cd "$(dirname "$0")/.."
run() {  # name file old new
  python3 - "$2" "$3" "$4" <<'PY'
import sys
p, old, new = sys.argv[1:]
s = open(p).read()
assert s.count(old) == 1, (p, old)
open(p, "w").write(s.replace(old, new))
PY
  echo "== mutant: $1"
  # a fresh numba cache: a kernel cached from another file keeps the callee it was compiled with
  NUMBA_CACHE_DIR=$(mktemp -d) timeout 900 .venv/bin/pytest tests/unit/test_partition.py tests/unit/test_certificate.py -q -x -p no:cacheprovider 2>&1 | grep -E "^(FAILED|[0-9]+ (passed|failed))" | head -3
  git checkout -q -- "$2"
}
run "tau = max over calls" workflow/scripts/layerwise/submodular/hierarchy.py \
  "st.tau = res.t if st.tau < 0 else min(st.tau, res.t)" "st.tau = res.t if st.tau < 0 else max(st.tau, res.t)"
run "Theorem 2 exponent r-1" workflow/scripts/layerwise/submodular/hierarchy.py \
  "return ((tau - 1) / (2 * tau - 1)) ** r * batch_size / n" "return ((tau - 1) / (2 * tau - 1)) ** (r - 1) * batch_size / n"
run "certificate = 10 * sum of singletons" workflow/scripts/layerwise/submodular/certificate.py \
  "    return min(certificate_parts(fl, caps).values())" "    return 10 * float(fl.singletons().sum())"
run "certificate parts = 10 * sum of singletons" workflow/scripts/layerwise/submodular/certificate.py \
  '            parts = {"topm": t, "kmin": a.result()}' '            parts = {"topm": 10 * float(fl.singletons().sum()), "kmin": 10 * float(fl.singletons().sum())}'
run "class-top tree: stop the replay at an unchanged winner even if it is the changed group" workflow/scripts/layerwise/submodular/queues.py \
  "        if w == tree[i] and w != g:" "        if w == tree[i]:"
run "class-top tree: a taken item's exact leaf is not refreshed" workflow/scripts/layerwise/submodular/minblock.py \
  "        if u < 0 or (exact[g] and block_of[u] < 0):" "        if u < 0 or exact[g]:"
run "per-class queues: a class split in two (a missed union)" workflow/scripts/layerwise/submodular/queues.py \
  "                        parent[b] = a" "                        parent[b] = b"
git status --short

#!/bin/bash
# Usage: bash tests/mutants_partition.sh   (run by `make test` after pytest)
# Applies one-line mutants of the functions behind the reported numbers (issues 12 and 21),
# one at a time, runs the tests that must kill each, and restores the file from a copy
# (not from git: uncommitted work in the file survives). Exits 1 if any mutant survives
# or no longer applies (the code moved: update the mutant), 0 when every mutant is killed.
cd "$(dirname "$0")/.." || exit 2
PYTEST=${PYTEST:-.venv/bin/pytest}
survived=()
run() {  # name file old new test...
  local name=$1 file=$2 old=$3 new=$4
  shift 4
  local backup
  backup=$(mktemp)
  cp -p "$file" "$backup"
  if ! python3 - "$file" "$old" "$new" <<'PY'
import sys
p, old, new = sys.argv[1:]
s = open(p).read()
if s.count(old) != 1:
    sys.exit(f"mutant does not apply: {old!r} occurs {s.count(old)} times in {p}")
open(p, "w").write(s.replace(old, new))
PY
  then
    survived+=("$name (does not apply)")
    rm -f "$backup"
    return
  fi
  echo "== mutant: $name"
  # a fresh numba cache: a kernel cached from another file keeps the callee it was compiled with
  NUMBA_CACHE_DIR=$(mktemp -d) timeout 900 "$PYTEST" "$@" -q -x -p no:cacheprovider >/tmp/mutant.$$.log 2>&1
  local rc=$?
  grep -E "^(FAILED|[0-9]+ (passed|failed))" /tmp/mutant.$$.log | head -3
  cp -p "$backup" "$file" && rm -f "$backup"
  if [ "$rc" -eq 0 ]; then
    echo "   SURVIVED"
    survived+=("$name")
  elif [ "$rc" -ne 1 ]; then  # 1: tests failed (killed); anything else: the suite did not run
    echo "   pytest exit $rc (not a test failure): see /tmp/mutant.$$.log"
    survived+=("$name (pytest exit $rc)")
  fi
}
PART="tests/unit/test_partition.py tests/unit/test_certificate.py"
SUB=workflow/scripts/layerwise/submodular
# shellcheck disable=SC2086
{
run "tau = max over calls" $SUB/hierarchy.py \
  "st.tau = res.t if st.tau < 0 else min(st.tau, res.t)" "st.tau = res.t if st.tau < 0 else max(st.tau, res.t)" $PART
run "Theorem 2 exponent r-1" $SUB/hierarchy.py \
  "return ((tau - 1) / (2 * tau - 1)) ** r * batch_size / n" "return ((tau - 1) / (2 * tau - 1)) ** (r - 1) * batch_size / n" $PART
run "certificate = 10 * sum of singletons" $SUB/certificate.py \
  "    return min(certificate_parts(fl, caps).values())" "    return 10 * float(fl.singletons().sum())" $PART
run "certificate parts = 10 * sum of singletons" $SUB/certificate.py \
  '            parts = {"topm": t, "kmin": a.result()}' '            parts = {"topm": 10 * float(fl.singletons().sum()), "kmin": 10 * float(fl.singletons().sum())}' $PART
run "class-top tree: stop the replay at an unchanged winner even if it is the changed group" $SUB/queues.py \
  "        if w == tree[i] and w != g:" "        if w == tree[i]:" $PART
run "class-top tree: a taken item's exact leaf is not refreshed" $SUB/minblock.py \
  "        if u < 0 or (exact[g] and block_of[u] < 0):" "        if u < 0 or exact[g]:" $PART
run "per-class queues: a class split in two (a missed union)" $SUB/queues.py \
  "                        parent[b] = a" "                        parent[b] = b" $PART
# issue 21: the wiring between the formulas and the reported numbers
run "certificate top-m sums take m + 1 items" $SUB/certificate.py \
  "srt[len(col) - ms[i] :]" "srt[len(col) - ms[i] - 1 :]" tests/unit/test_certificate.py -k known_value
run "table ensemble from the layers in reverse order" workflow/scripts/layerwise/training/tables.py \
  'z = ensemble([e["logits"] for e in evals], kind)' 'z = ensemble([e["logits"] for e in evals[::-1]], kind)' \
  tests/unit/test_layerwise_tables.py
run "parsimonious R normalised by rows, not N C H W" workflow/scripts/layerwise/parsimonious/regulariser.py \
  "value = penalty(x, self.centers, z, y.numel())" "value = penalty(x, self.centers, z, x.shape[0])" \
  tests/unit/test_parsimonious.py
run "schedule rate never written to the optimiser" workflow/scripts/layerwise/training/loop.py \
  'group["lr"] = lr' 'group["lr"] = group["lr"]' tests/unit/test_layerwise_failures.py -k schedules_rate
}
rm -f /tmp/mutant.$$.log
if [ ${#survived[@]} -gt 0 ]; then
  printf 'error: mutant survived: %s\n' "${survived[@]}" >&2
  exit 1
fi
echo "every mutant was killed"

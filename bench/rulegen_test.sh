#!/bin/bash
# bench/rulegen.py writes valid rule files: 1,000 generated rules pass both
# Debian's `promtool check rules` (Prometheus 2.42 is the reference) and
# `vigil check rules`; the output is deterministic per seed, has exactly the
# requested number of rules, groups and kinds, and bad parameters are refused
# with an error naming the parameter.
set -euo pipefail
vigil="$(pwd)/$1"
rulegen="$(pwd)/$2"
series_cc="$(pwd)/$3"
if ! command -v promtool >/dev/null; then
  echo "promtool not found: install Debian's prometheus package (tools/install_deps.sh)" >&2
  exit 1
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

mix=threshold=30,rate=20,ratio=15,histogram_quantile=10,absent=5,over_time=20
python3 "$rulegen" --rules 1000 --groups 10 --interval 15s --mix "$mix" \
  --seed 7 --out "$tmp/a.yml"
python3 "$rulegen" --rules 1000 --groups 10 --interval 15s --mix "$mix" \
  --seed 7 --out "$tmp/b.yml"
python3 "$rulegen" --rules 1000 --groups 10 --interval 15s --mix "$mix" \
  --seed 8 --out "$tmp/c.yml"

cmp -s "$tmp/a.yml" "$tmp/b.yml" || fail "same seed gave different files"
cmp -s "$tmp/a.yml" "$tmp/c.yml" && fail "different seeds gave the same file"

n=$(grep -cE '^      - (alert|record): ' "$tmp/a.yml")
[ "$n" -eq 1000 ] || fail "expected 1000 rules, found $n"
g=$(grep -cE '^  - name: bench_' "$tmp/a.yml")
[ "$g" -eq 10 ] || fail "expected 10 groups, found $g"
[ "$(grep -c '^    interval: 15s$' "$tmp/a.yml")" -eq 10 ] || fail "interval not on every group"
for want in threshold=300 rate=200 ratio=150 histogram_quantile=100 absent=50 over_time=200; do
  k=${want%=*}
  c=$(grep -c "rule_kind: $k\$" "$tmp/a.yml")
  [ "$c" -eq "${want#*=}" ] || fail "kind $k: expected ${want#*=} rules, found $c"
done
for fn in 'rate(' 'histogram_quantile(' 'absent(' '_over_time(' ') / sum by'; do
  grep -qF "$fn" "$tmp/a.yml" || fail "no rule uses '$fn'"
done
grep -q '^      - record: ' "$tmp/a.yml" || fail "no recording rules"

# Every metric a rule selects is one loadgen sends (series.cc spells the names
# as string literals; histogram series are base + "_bucket"), so a renamed
# metric there cannot silently leave rules selecting nothing.
python3 - "$tmp/a.yml" "$series_cc" <<'PY' || fail "rules select metrics loadgen does not send"
import re, sys
rules, src = open(sys.argv[1]).read(), open(sys.argv[2]).read()
literals = set(re.findall(r'"([a-zA-Z_:][a-zA-Z0-9_:]*)"', src))
exprs = re.findall(r"^        expr: '(.*)'$", rules, re.M)
assert len(exprs) == 1000, len(exprs)
names = set()
for e in exprs:
    names |= set(re.findall(r"([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{|\[)", e))
bad = sorted(n for n in names
             if n not in literals and re.sub(r"_bucket$", "", n) not in literals)
if bad:
    print("not in bench/loadgen/series.cc:", bad, file=sys.stderr)
    sys.exit(1)
print(f"{len(names)} metric names, all sent by loadgen")
PY

out=$(promtool check rules "$tmp/a.yml" "$tmp/c.yml" 2>&1) || { echo "$out"; fail "promtool check rules"; }
echo "$out"
grep -q "SUCCESS: 1000 rules found" <<<"$out" || fail "promtool did not count 1000 rules"
"$vigil" check rules "$tmp/a.yml" "$tmp/c.yml" || fail "vigil check rules"

# A mix with a single kind gives only that kind; small sets still valid.
python3 "$rulegen" --rules 37 --groups 4 --interval 1m --mix absent=1 \
  --seed 1 --out "$tmp/d.yml"
[ "$(grep -c 'rule_kind: absent$' "$tmp/d.yml")" -eq 37 ] || fail "absent-only mix"
promtool check rules "$tmp/d.yml"
"$vigil" check rules "$tmp/d.yml"

# Bad parameters: exit 2 and the offending parameter named.
check_refused() {
  local want=$1; shift
  set +e
  err=$(python3 "$rulegen" "$@" --out "$tmp/bad.yml" 2>&1)
  rc=$?
  set -e
  [ "$rc" -eq 2 ] || fail "'$*' exited $rc, want 2"
  grep -qF -- "$want" <<<"$err" || fail "'$*': error '$err' lacks '$want'"
}
check_refused "unknown kind 'bogus'" --mix bogus=1
check_refused "--rules" --rules 0
check_refused "--interval" --interval 15
check_refused "--mix: all weights are zero" --mix rate=0
echo "rulegen: 1000 rules valid for promtool and vigil; deterministic; errors OK"

#!/bin/bash
# Every shipped rule file passes `vigil check rules`, and every rule unit test
# passes `vigil test rules` (pending, firing and resolving at the right
# times). When Debian's promtool is installed, it must agree on the unit
# tests too, so the expectations are Prometheus' and not only ours.
set -euo pipefail
vigil="$(pwd)/$1"
cd testdata/rules
rules=$(ls *.yml | grep -v '_test\.yml$')
tests=$(ls *_test.yml)
"$vigil" check rules $rules
"$vigil" test rules $tests
if command -v promtool >/dev/null; then
  promtool test rules $tests
fi
# A broken rule file is reported with file, line, group and rule; exit 1.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cat > "$tmp/bad.yml" <<'YAML'
groups:
  - name: broken
    rules:
      - alert: BadExpr
        expr: sum(rate(x[5m])
YAML
set +e
out=$("$vigil" check rules "$tmp/bad.yml" 2>&1)
rc=$?
set -e
echo "$out"
if [ "$rc" -ne 1 ]; then
  echo "expected exit 1 for a broken rule file, got $rc" >&2
  exit 1
fi
for want in "bad.yml:" 'group "broken"' "BadExpr" "parse error"; do
  if ! grep -qF "$want" <<<"$out"; then
    echo "error output lacks '$want'" >&2
    exit 1
  fi
done
echo "rule files: check, unit tests and error reporting OK"

#!/usr/bin/env bash
# Cut SCTP out of a writable copy of the network-policy-api module before its conformance suite is
# compiled (the manifests are embedded at compile time), because this machine's kernel has no SCTP:
# the base pods' SCTP servers (agnhost porter) exit, so the pods never become Ready, and every
# SCTP probe would fail.
#
#   cnp-patch.sh MODULE_DIR RECORD_JSON
#
# 1. base/manifests.yaml (a Go template, edited as text): every container that serves SCTP
# 2. tests/*-sctp-rules.go: the SCTP-only tests (each only appends itself to ConformanceTests)
# 3. every kubernetes.PokeServer(...) call whose protocol is "sctp" (two lines each in v0.3.0)
#
# The counts are asserted, so a release that changes any of this fails here rather than running a
# suite that silently lost (or kept) something. RECORD_JSON gets what was removed, for the report.
# build.sh keys the compiled binary by this file's hash: editing it rebuilds.
set -euo pipefail

mod=$1 record=$2
conf=$mod/conformance
die() { echo "cnp-patch: ERROR: $*" >&2; exit 1; }

# The counts of v0.3.0 (cnp-design.md §3.4-3.5).
EXPECT_TESTS_BEFORE=30 EXPECT_TESTS_AFTER=26 EXPECT_CONTAINERS=10 EXPECT_PROBES=58

short_names() { sed -nE 's/^[[:space:]]*ShortName:[[:space:]]*"([^"]+)".*/\1/p' "$@"; }
count() { local n; n=$(grep -c "$@" || true); echo "${n:-0}"; }

[[ $(short_names "$conf"/tests/*.go | wc -l) == "$EXPECT_TESTS_BEFORE" ]] ||
  die "expected $EXPECT_TESTS_BEFORE tests before the cut, found $(short_names "$conf"/tests/*.go | wc -l)"

# 1. Containers: a container starts with "        - name:" (8 spaces) and owns every deeper-indented
# line after it; a block that sets SERVE_SCTP_PORT_* is dropped.
manifest=$conf/base/manifests.yaml
containers=$(count -E '^        - name: ' "$manifest")
awk '
  function flush() { if (buf !~ /SERVE_SCTP_PORT_/) printf "%s", buf; buf = "" }
  /^        - name: / { flush(); buf = $0 "\n"; next }
  buf != "" && /^          / { buf = buf $0 "\n"; next }
  { flush(); print }
  END { flush() }
' "$manifest" >"$manifest.new"
mv "$manifest.new" "$manifest"
removed_containers=$((containers - $(count -E '^        - name: ' "$manifest")))
[[ $removed_containers == "$EXPECT_CONTAINERS" ]] ||
  die "removed $removed_containers SCTP containers from base/manifests.yaml, expected $EXPECT_CONTAINERS"
[[ $(count -i sctp "$manifest") == 0 ]] || die "base/manifests.yaml still mentions SCTP: $(grep -in sctp "$manifest")"

# 2. The SCTP-only tests.
sctp_files=("$conf"/tests/*-sctp-rules.go)
[[ -f ${sctp_files[0]} ]] || die "no tests/*-sctp-rules.go"
mapfile -t removed_tests < <(short_names "${sctp_files[@]}")
rm -f "${sctp_files[@]}"

# 3. The SCTP probes, counted per test (the ShortName above the call) before they go.
probes_json=$(awk '
  /ShortName:/ { match($0, /"[^"]+"/); cur = substr($0, RSTART + 1, RLENGTH - 2) }
  /kubernetes\.PokeServer\(.*"sctp",/ { n[cur]++ }
  END { for (t in n) print t, n[t] }
' "$conf"/tests/*.go | sort | jq -Rn '[inputs | split(" ") | {test: .[0], probes: (.[1] | tonumber)}]')
calls=$(cat "$conf"/tests/*.go | count 'kubernetes\.PokeServer(')
perl -0pi -e 's/^[ \t]*kubernetes\.PokeServer\([^\n]*"sctp",\n[^\n]*\n//mg' "$conf"/tests/*.go
removed_probes=$((calls - $(cat "$conf"/tests/*.go | count 'kubernetes\.PokeServer(')))

left=$(cat "$conf"/tests/*.go | count '"sctp"')
[[ $left == 0 ]] || die "$left \"sctp\" left in tests/: $(grep -n '"sctp"' "$conf"/tests/*.go | head -n 5)"
[[ $removed_probes == "$EXPECT_PROBES" ]] || die "removed $removed_probes SCTP probes, expected $EXPECT_PROBES"
[[ $(jq '[.[].probes] | add' <<<"$probes_json") == "$removed_probes" ]] || die "SCTP probes per test do not add up"
tests_after=$(short_names "$conf"/tests/*.go | wc -l)
[[ $tests_after == "$EXPECT_TESTS_AFTER" ]] || die "$tests_after tests left, expected $EXPECT_TESTS_AFTER"
unformatted=$(gofmt -l "$conf/tests")
[[ -z $unformatted ]] || die "gofmt after the cut: $unformatted"

jq -n --argjson tests "$(printf '%s\n' "${removed_tests[@]}" | jq -Rn '[inputs]')" \
  --argjson probes "$probes_json" --argjson containers "$removed_containers" --argjson left "$tests_after" \
  '{removedTests: $tests, removedProbes: $probes, removedContainers: $containers, tests: $left}' >"$record"
echo "cnp-patch: removed ${#removed_tests[@]} SCTP tests, $removed_probes SCTP probes, $removed_containers SCTP containers; $tests_after tests left" >&2

#!/usr/bin/env bash
# Run the upstream Kubernetes conformance tests (by default the [sig-network] ones) against an
# existing kind cluster and write a report.
#
#   run.sh               build (cached, build.sh), load the test images into cluster $KIND_CLUSTER
#                        (default from e2e/kind/paths.sh), run e2e.test with ginkgo in parallel,
#                        report; exit non-zero when a selected test failed
#   run.sh --has-cluster only tell (exit status) whether that cluster exists
#
# Environment: CONFORMANCE_PROCS (parallel processes, 4), CONFORMANCE_FOCUS (a regular expression on
# the test names, '\[sig-network\].*\[Conformance\]'), CONFORMANCE_SKIP (one to leave out, none),
# CONFORMANCE_TIMEOUT (for the whole run, 2h). Output in <repo>/.e2e/conformance/<cluster>/:
# junit_01.xml (the Kubernetes JUnit report), ginkgo/report.json and report.xml (Ginkgo's complete
# reports), ginkgo.log (the run's output) and report.md (one row per selected test: result and
# duration; totals and wall time; the failures' messages).
set -euo pipefail

# shellcheck source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
PROCS=${CONFORMANCE_PROCS:-4}
FOCUS=${CONFORMANCE_FOCUS:-'\[sig-network\].*\[Conformance\]'}
SKIP=${CONFORMANCE_SKIP:-}
TIMEOUT=${CONFORMANCE_TIMEOUT:-2h}
OUT=$REPO/.e2e/conformance/$CLUSTER

log() { echo "conformance/run: $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

has_cluster() {
  docker info >/dev/null 2>&1 && [[ -x $KIND ]] && "$KIND" get clusters 2>/dev/null | grep -qx "$CLUSTER"
}

# What networks the cluster: the DaemonSets besides kube-proxy, and gingham's backend if it runs.
describe_cni() {
  local ds backend
  ds=$("$KUBECTL" --kubeconfig "$KUBECONFIG_OUT" get ds -A --no-headers \
    -o custom-columns=NS:.metadata.namespace,NAME:.metadata.name 2>/dev/null |
    awk '$2 != "kube-proxy" {print $2}' | paste -sd ',' -) || true
  backend=$("$KUBECTL" --kubeconfig "$KUBECONFIG_OUT" -n kube-system get cm gingham \
    -o jsonpath='{.data.config\.json}' 2>/dev/null | jq -r '.backend // "vxlan"' 2>/dev/null) || true
  echo "${ds:-unknown}${backend:+ (backend $backend)}"
}

# The underlay's answer for cluster addresses. Packets to a ClusterIP port the Service no longer
# has are not translated by kube-proxy and leave the node by its default route; on a real network
# nothing answers there, but some machines (this VM class) intercept every outbound TCP connection
# and answer it, which makes "Services should serve endpoints on same port and different protocols"
# see the removed TCP port as still served. Probed from this host (the nodes' router) with one TCP
# connection to the Service CIDR's first address, port 80; prints a note when it is answered.
underlay_note() {
  local ip=${SERVICE_SUBNET%%,*}
  ip=${ip%/*}
  if timeout 3 bash -c "exec 3<>/dev/tcp/$ip/80" 2>/dev/null; then
    echo "Note: this machine's network accepts TCP connections to cluster addresses that left the nodes (tried $ip:80 from the host): a test expecting a removed Service port to refuse TCP fails here whatever the CNI."
  fi
}

# report WALL CNI NOTE: report.md from Ginkgo's JSON report. A selected test is an It that ran, or one
# that skipped itself (it then has a message); suite-level nodes count only when they failed.
report() {
  local wall=$1 cni=$2 note=$3 json=$OUT/ginkgo/report.json md=$OUT/report.md
  if [[ ! -f $json ]]; then
    printf '# Conformance on %s\n\nNo Ginkgo report was written: see ginkgo.log.\n' "$CLUSTER" >"$md"
    return 1
  fi
  jq -r --arg cluster "$CLUSTER" --arg cni "$cni" --arg wall "$wall" --arg procs "$PROCS" \
    --arg focus "$FOCUS" --arg skip "$SKIP" --arg note "$note" '
    def name: (((.ContainerHierarchyTexts // []) + [.LeafNodeText]) | map(select(. != "")) | join(" ")) as $n
      | if $n == "" then "[" + .LeafNodeType + "]" else $n end;
    def result: if .State == "passed" then "pass" elif .State == "skipped" then "skipped"
      else "FAIL (" + .State + ")" end;
    def secs: ((.RunTime // 0) / 1e9 * 10 | round / 10 | tostring) + " s";
    def cell: gsub("\\|"; "\\|") | gsub("\n"; " ");
    [.[].SpecReports[]
      | select((.LeafNodeType == "It" and (.State != "skipped" or ((.Failure.Message // "") != "")))
               or (.LeafNodeType != "It" and .State != "passed" and .State != "skipped"))]
    | sort_by(name) as $specs
    | ($specs | map(select(.State == "passed")) | length) as $pass
    | ($specs | map(select(.State == "skipped")) | length) as $skipped
    | ($specs | map(select(.State != "passed" and .State != "skipped"))) as $failed
    | "# Conformance on \($cluster)",
      "",
      "CNI: \($cni). Focus `\($focus)`\(if $skip != "" then ", skip `\($skip)`" else "" end), \($procs) processes.",
      "",
      "| test | result | duration |",
      "| --- | --- | --- |",
      ($specs[] | "| \(name | cell) | \(result) | \(secs) |"),
      "",
      "**Totals: \($pass) passed, \($failed | length) failed, \($skipped) skipped of \($specs | length) selected; wall time \($wall) s.**",
      (if $note != "" then "", $note else empty end),
      (if ($failed | length) > 0 then
        "", "## Failures",
        ($failed[] | "", "### \(name)", "", "at `\(.Failure.Location.FileName // "?"):\(.Failure.Location.LineNumber // "?")`", "",
          "```", ((.Failure.Message // "(no message)") | split("\n") | .[:15] | join("\n")), "```")
      else empty end)
  ' "$json" >"$md"
  jq -e '[.[].SpecReports[] | select(.State != "passed" and .State != "skipped")] | length == 0' "$json" >/dev/null
}

main() {
  has_cluster || die "no kind cluster $CLUSTER: create it first (make kind-up, KIND_CLUSTER=$CLUSTER)"
  [[ -f $KUBECONFIG_OUT ]] || "$KIND" export kubeconfig --name "$CLUSTER" --kubeconfig "$KUBECONFIG_OUT"
  bash "$CONF_DIR/build.sh"
  log "loading ${TEST_IMAGES[*]} into $CLUSTER"
  "$KIND" load docker-image --name "$CLUSTER" "${TEST_IMAGES[@]}"

  rm -rf "$OUT"
  mkdir -p "$OUT"
  local cni note args t0 rc=0 wall
  cni=$(describe_cni)
  note=$(underlay_note)
  [[ -z $note ]] || log "$note"
  args=(--provider=local --kubeconfig="$KUBECONFIG_OUT" --kubectl-path="$KUBECTL"
    --ginkgo.focus="$FOCUS" --report-dir="$OUT" --report-complete-ginkgo)
  [[ -z $SKIP ]] || args+=(--ginkgo.skip="$SKIP")
  log "cluster $CLUSTER ($cni): $PROCS processes, focus $FOCUS${SKIP:+, skip $SKIP}"
  t0=$SECONDS
  "$GINKGO" -p --procs="$PROCS" --no-color --timeout="$TIMEOUT" "$E2E_TEST" -- "${args[@]}" 2>&1 |
    tee "$OUT/ginkgo.log" || rc=$?
  wall=$((SECONDS - t0))
  if ! report "$wall" "$cni" "$note" && [[ $rc == 0 ]]; then rc=1; fi
  log "report: $OUT/report.md"
  grep -E '^\*\*Totals' "$OUT/report.md" >&2 || true
  log "wall time: $wall s; exit $rc"
  return "$rc"
}

if [[ ${1:-} == --has-cluster ]]; then has_cluster; exit; fi
main "$@"

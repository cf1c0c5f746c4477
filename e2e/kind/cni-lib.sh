# shellcheck shell=bash
# Sourced by the installers of the CNIs that run beside gingham for the class (e2e/flannel/,
# e2e/bridge/) after paths.sh: what every one of them does around its own part.
export KUBECONFIG=$KUBECONFIG_OUT
kubectl() { "$KUBECTL" "$@"; }

# load_images IMAGE...: into every node of the cluster, with the gingham image when bin/gingham is
# built (the test pods of make compare and the benches run `gingham probe` from it).
load_images() {
  local images=("$@") t0=$SECONDS
  [[ ! -x $REPO/bin/gingham ]] || images+=("$(bash "$REPO/e2e/images/build-gingham-image.sh")")
  [[ ${#images[@]} -gt 0 ]] || return 0
  "$KIND" load docker-image "${images[@]}" --name "$CLUSTER" >/dev/null
  log "images ${images[*]} loaded in $((SECONDS - t0)) s"
}

# The cluster is usable: every node Ready (it has a CNI config) and CoreDNS running.
wait_ready() {
  kubectl wait --for=condition=Ready nodes --all --timeout=300s >&2
  kubectl -n kube-system rollout status deployment/coredns --timeout=300s >&2
}

#!/usr/bin/env bash
# Delete the e2e kind cluster $KIND_CLUSTER (default gingham; gingham-ipv6 or
# gingham-dual with IP_FAMILY=ipv6 or dual; paths.sh), and only it, its kubeconfig
# (<repo>/.e2e/kubeconfig[-<name>], or $KIND_KUBECONFIG) and its rendered kind
# config. The Docker engine, the "kind" network (shared by every kind cluster
# on this engine) and the build cache stay.
set -euo pipefail

# shellcheck source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/paths.sh"

log() { echo "down.sh: $*" >&2; }

if ! docker info >/dev/null 2>&1; then
  log "no Docker engine answers: no cluster to delete"
elif [[ ! -x $KIND ]]; then
  log "no kind CLI at $KIND: no cluster was created with it"
elif "$KIND" get clusters 2>/dev/null | grep -x "$CLUSTER" >/dev/null; then
  t0=$SECONDS
  "$KIND" delete cluster --name "$CLUSTER" --kubeconfig "$KUBECONFIG_OUT"
  log "deleted cluster $CLUSTER in $((SECONDS - t0)) s"
else
  log "no cluster $CLUSTER"
fi
rm -f "$KUBECONFIG_OUT" "$CLUSTER_CONFIG"

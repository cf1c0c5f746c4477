#!/usr/bin/env bash
# Install gingham on the kind cluster the way users do: build the image, load it into every node,
# apply the ClusterNetworkPolicy CRD (conf/kube/clusternetworkpolicies-*.yaml) and
# conf/kube/gingham.yaml, then the agent's ConfigMap for this cluster (BACKEND, DATAPLANE, and the
# pod CIDRs of IP_FAMILY; see e2e/kind/paths.sh), and wait until the DaemonSet runs everywhere, every
# node is Ready and CoreDNS runs. Re-running it rolls out a new binary and config.
set -euo pipefail
cd "$(dirname "$0")/.."
source e2e/kind/paths.sh
export KUBECONFIG=$KUBECONFIG_OUT
kubectl() { "$KUBECTL" "$@"; }
t0=$SECONDS

image=$(bash e2e/images/build-gingham-image.sh)
"$KIND" load docker-image "$image" --name "$CLUSTER" >/dev/null
echo "install.sh: image $image loaded in $((SECONDS - t0)) s" >&2

# The CRD first, established before the agents start, so they list ClusterNetworkPolicies at once.
# Server-side: the object is ~144 KB, which client-side apply would copy into an annotation too.
kubectl apply --server-side -f conf/kube/clusternetworkpolicies-v0.3.0-experimental.yaml >/dev/null
kubectl wait --for=condition=Established crd/clusternetworkpolicies.policy.networking.k8s.io --timeout=60s >/dev/null
kubectl apply -f conf/kube/gingham.yaml >/dev/null
# After the yaml, so that its default config does not win.
# json_list A,B: ["A","B"]
json_list() {
  local items
  IFS=, read -ra items <<<"$1"
  items=$(printf '"%s",' "${items[@]}")
  echo "[${items%,}]"
}
# Verdict events on: the suite checks them (and everything else works with them on).
config="{\"backend\":\"$BACKEND\",\"dataplane\":\"$DATAPLANE\",\"policyLogDrops\":true,\"vni\":1,\"port\":8472,\"directRouting\":false,\"mtu\":0,\"clusterCIDRs\":$(json_list "$POD_SUBNET"),\"serviceCIDRs\":$(json_list "$SERVICE_SUBNET")}"
kubectl -n kube-system create configmap gingham --from-literal=config.json="$config" --dry-run=client -o yaml |
  kubectl apply -f - >/dev/null
echo "install.sh: config.json $config" >&2
# A new binary under the same tag, or a new config: restart the pods so they run it.
kubectl -n kube-system rollout restart daemonset/gingham >/dev/null
kubectl -n kube-system rollout status daemonset/gingham --timeout=180s >&2
kubectl wait --for=condition=Ready nodes --all --timeout=180s >&2
kubectl -n kube-system rollout status deployment/coredns --timeout=180s >&2
echo "install.sh: gingham installed, nodes Ready, CoreDNS running, in $((SECONDS - t0)) s" >&2

#!/usr/bin/env bash
# Install gingham on the kind cluster the way users do: build the image, load it into every node,
# apply conf/kube/gingham.yaml, and wait until the DaemonSet runs everywhere, every node is Ready
# and CoreDNS runs. Re-running it rolls out a new binary.
set -euo pipefail
cd "$(dirname "$0")/.."
source e2e/kind/paths.sh
export KUBECONFIG=$KUBECONFIG_OUT
kubectl() { "$KUBECTL" "$@"; }
t0=$SECONDS

image=$(bash e2e/images/build-gingham-image.sh)
"$KIND" load docker-image "$image" --name "$CLUSTER" >/dev/null
echo "install.sh: image $image loaded in $((SECONDS - t0)) s" >&2

kubectl apply -f conf/kube/gingham.yaml >/dev/null
# A new binary under the same tag: restart the pods so they run it.
kubectl -n kube-system rollout restart daemonset/gingham >/dev/null
kubectl -n kube-system rollout status daemonset/gingham --timeout=180s >&2
kubectl wait --for=condition=Ready nodes --all --timeout=180s >&2
kubectl -n kube-system rollout status deployment/coredns --timeout=180s >&2
echo "install.sh: gingham installed, nodes Ready, CoreDNS running, in $((SECONDS - t0)) s" >&2

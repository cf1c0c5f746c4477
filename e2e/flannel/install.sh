#!/usr/bin/env bash
# Install Flannel on the kind cluster (gingham-flannel by default; env.sh) the way
# e2e/install.sh installs gingham: build the image gingham-e2e/flannel:<version>, load it into every
# node, apply conf/kube/flannel.yaml, then net-conf.json for this cluster (the pod CIDRs of
# IP_FAMILY, paths.sh; Flannel's backend named by BACKEND: vxlan or host-gw), and wait until the
# DaemonSet runs everywhere, every node is Ready and CoreDNS runs. The gingham image is loaded too
# when bin/gingham exists: the suite's test pods run `gingham probe` from it. Re-running rolls out.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
# shellcheck source-path=SCRIPTDIR/../kind
source "$HERE/cni-lib.sh"
log() { echo "flannel/install.sh: $*" >&2; }
t0=$SECONDS

load_images "$(bash "$FLANNEL_DIR/build-flannel-image.sh")"

kubectl apply -f "$REPO/conf/kube/flannel.yaml" >/dev/null
# After the yaml, so that its IPv4 default does not win. Flannel takes one IPv4 and one IPv6 network.
net4='' net6=''
IFS=, read -ra pod_cidrs <<<"$POD_SUBNET"
for c in "${pod_cidrs[@]}"; do
  if [[ $c == *:* ]]; then net6=$c; else net4=$c; fi
done
netconf="{\"Network\":\"$net4\""
[[ -z $net6 ]] || netconf+=",\"EnableIPv6\":true,\"IPv6Network\":\"$net6\""
netconf+=",\"Backend\":{\"Type\":\"$BACKEND\"}}"
kubectl -n kube-flannel create configmap kube-flannel-cfg --from-literal=net-conf.json="$netconf" \
  --dry-run=client -o yaml | kubectl apply -f - >/dev/null
log "net-conf.json $netconf"
# flanneld reads net-conf.json when it starts: restart the pods so they run this one.
kubectl -n kube-flannel rollout restart daemonset/kube-flannel >/dev/null
kubectl -n kube-flannel rollout status daemonset/kube-flannel --timeout=300s >&2
wait_ready
log "Flannel installed on $CLUSTER, nodes Ready, CoreDNS running, in $((SECONDS - t0)) s"

# shellcheck shell=bash disable=SC2034  # the variables are for the scripts that source this
# Sourced by the kind scripts and e2e/install.sh: the pinned versions and where everything lives.
# HERE is e2e/kind, REPO the repository; the cache, the kind CLI, the cluster's flavour, name,
# address plan and kubeconfig, each with its override. e2e/lib/env.ts computes the same defaults:
# change both together.
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
# shellcheck source-path=SCRIPTDIR
source "$HERE/versions.env"
CACHE=${GINGHAM_E2E_CACHE:-/var/cache/gingham-e2e}
KIND=$CACHE/bin/kind-$KIND_VERSION/kind
KUBECTL=$CACHE/bin/kubernetes-$K8S_VERSION/kubectl

# BACKEND: how the agent carries pod traffic between nodes (its ConfigMap, written by install.sh).
# IP_FAMILY: the cluster's families; names the default cluster, so both kinds can exist at once.
BACKEND=${BACKEND:-vxlan}
IP_FAMILY=${IP_FAMILY:-ipv4}
case $BACKEND in
  vxlan | host-gw) ;;
  *) echo "${0##*/}: ERROR: BACKEND=$BACKEND: must be vxlan or host-gw" >&2; exit 2 ;;
esac
# Pod and Service CIDRs (the address plan in ARCHITECTURE.md), one per family, comma-separated, IPv4 first;
# an IPv6-only cluster takes the dual-stack cluster's IPv6 ranges.
case $IP_FAMILY in
  ipv4)
    DEFAULT_CLUSTER=gingham
    POD_SUBNET=198.18.128.0/17
    SERVICE_SUBNET=198.18.64.0/20
    ;;
  dual)
    DEFAULT_CLUSTER=gingham-dual
    POD_SUBNET=198.18.128.0/17,fd42:18:8000::/56
    SERVICE_SUBNET=198.18.64.0/20,fd42:18:6400::/112
    ;;
  ipv6)
    DEFAULT_CLUSTER=gingham-ipv6
    POD_SUBNET=fd42:18:8000::/56
    SERVICE_SUBNET=fd42:18:6400::/112
    ;;
  *) echo "${0##*/}: ERROR: IP_FAMILY=$IP_FAMILY: must be ipv4, ipv6 or dual" >&2; exit 2 ;;
esac
# KUBE_PROXY_MODE: kube-proxy's mode, kind's networking.kubeProxyMode (up.sh writes it; it does not
# name the cluster: one made in the other mode is refused, not reused). DATAPLANE: the agent's
# packet filter, the ConfigMap key dataplane (install.sh writes it).
KUBE_PROXY_MODE=${KUBE_PROXY_MODE:-iptables}
DATAPLANE=${DATAPLANE:-iptables}
case $KUBE_PROXY_MODE in
  iptables | nftables) ;;
  *) echo "${0##*/}: ERROR: KUBE_PROXY_MODE=$KUBE_PROXY_MODE: must be iptables or nftables" >&2; exit 2 ;;
esac
case $DATAPLANE in
  iptables | nftables) ;;
  *) echo "${0##*/}: ERROR: DATAPLANE=$DATAPLANE: must be iptables or nftables" >&2; exit 2 ;;
esac
# CNI: what the cluster runs: gingham, or for the class beside it Flannel (e2e/flannel/) or the
# reference bridge + host-local with static routes and no agent (e2e/bridge/). It names the default
# cluster too (gingham-flannel, gingham-bridge), so one of each can be up at once.
CNI=${CNI:-gingham}
case $CNI in
  gingham) ;;
  flannel | bridge) DEFAULT_CLUSTER=${DEFAULT_CLUSTER/#gingham/gingham-$CNI} ;;
  *) echo "${0##*/}: ERROR: CNI=$CNI: must be gingham, flannel or bridge" >&2; exit 2 ;;
esac
CLUSTER=${KIND_CLUSTER:-$DEFAULT_CLUSTER}
# One kubeconfig per cluster: .e2e/kubeconfig for gingham, .e2e/kubeconfig-NAME for any other.
if [[ $CLUSTER == gingham ]]; then
  KUBECONFIG_OUT=${KIND_KUBECONFIG:-$REPO/.e2e/kubeconfig}
else
  KUBECONFIG_OUT=${KIND_KUBECONFIG:-$REPO/.e2e/kubeconfig-$CLUSTER}
fi
# The kind config up.sh renders for this cluster (down.sh removes it).
CLUSTER_CONFIG=$REPO/.e2e/cluster-$CLUSTER.yaml

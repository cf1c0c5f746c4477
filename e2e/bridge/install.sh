#!/usr/bin/env bash
# The reference CNI plugins and nothing else (CNI=bridge, cluster gingham-bridge by default;
# KIND_CLUSTER overrides): the baseline for the class, a cluster networked with no agent at all.
# Run after e2e/kind/up.sh (make kind-up CNI=bridge); per node, through `docker exec`:
#   - /etc/cni/net.d/10-bridge.conflist: the Debian reference `bridge` (cni0, gateway, default
#     route, hairpin) with `host-local` on the node's pod CIDRs (spec.podCIDRs, one range per
#     family) and `portmap` chained; the plugins are in the node image's /opt/cni/bin already;
#   - host-gw style static routes: every other node's pod CIDRs via that node's InternalIP of the
#     same family (the nodes share one Docker network);
#   - one masquerade rule per family for pod traffic that leaves the pod CIDR (as Flannel's
#     --ip-masq), so pods reach the nodes' DNS and the outside; between pods the source stays.
# Then waits until every node is Ready and CoreDNS runs. Re-running rewrites all of it in place.
# Nothing repairs this state: a node container restarted loses its routes until the next run.
set -euo pipefail
export CNI=bridge
# shellcheck source-path=SCRIPTDIR/../kind
source "$(dirname "${BASH_SOURCE[0]}")/../kind/paths.sh"
# shellcheck source-path=SCRIPTDIR/../kind
source "$HERE/cni-lib.sh"
log() { echo "bridge/install.sh: $*" >&2; }
die() { log "ERROR: $*"; exit 1; }
CONFLIST=/etc/cni/net.d/10-bridge.conflist
t0=$SECONDS

# shellcheck disable=SC2119  # no image of its own: only the gingham image
load_images

# name, pod CIDRs, InternalIPs (both comma-separated), one node a line, once every node has its pod
# CIDRs (kube-controller-manager gives them soon after the node registers).
nodes=
for _ in $(seq 60); do
  nodes=$(kubectl get nodes -o json | jq -r 'if all(.items[]; (.spec.podCIDRs // []) != []) then .items[] |
    [.metadata.name, (.spec.podCIDRs | join(",")),
     ([.status.addresses[] | select(.type == "InternalIP") | .address] | join(","))] | @tsv else empty end')
  [[ -z $nodes ]] || break
  sleep 2
done
[[ -n $nodes ]] || die "nodes without pod CIDRs after 120 s"
names=() cidrs=() ips=()
while IFS=$'\t' read -r n c i; do names+=("$n") cidrs+=("$c") ips+=("$i"); done <<<"$nodes"

# same_family ADDRESSES CIDR: the one of ADDRESSES (comma-separated) in CIDR's family.
family() { if [[ $1 == *:* ]]; then echo 6; else echo 4; fi; }
same_family() {
  local a
  for a in ${1//,/ }; do
    [[ $(family "$a") != "$(family "$2")" ]] || { echo "$a"; return; }
  done
  return 1
}

for k in "${!names[@]}"; do
  node=${names[k]}
  jq -n --arg cidrs "${cidrs[k]}" '{cniVersion: "1.0.0", name: "bridge", plugins: [
      {type: "bridge", bridge: "cni0", isGateway: true, isDefaultGateway: true, ipMasq: false,
       hairpinMode: true, ipam: {type: "host-local", ranges: ($cidrs | split(",") | map([{subnet: .}]))}},
      {type: "portmap", capabilities: {portMappings: true}}]}' |
    docker exec -i "$node" sh -c "cat >$CONFLIST.tmp && mv $CONFLIST.tmp $CONFLIST"
  script=
  for m in "${!names[@]}"; do
    [[ $m != "$k" ]] || continue
    for c in ${cidrs[m]//,/ }; do
      via=$(same_family "${ips[m]}" "$c") || die "node ${names[m]} has no InternalIP in the family of $c"
      script+="ip route replace $c via $via"$'\n'
    done
  done
  for c in ${POD_SUBNET//,/ }; do
    ipt=iptables
    [[ $c != *:* ]] || ipt=ip6tables
    rule="POSTROUTING -s $c ! -d $c -m comment --comment gingham-e2e-bridge -j MASQUERADE"
    script+="$ipt -t nat -C $rule 2>/dev/null || $ipt -t nat -A $rule"$'\n'
  done
  docker exec "$node" sh -ec "$script"
  log "$node: $CONFLIST on ${cidrs[k]}, $(grep -c '^ip route' <<<"$script") routes"
done

wait_ready
log "reference bridge on $CLUSTER, nodes Ready, CoreDNS running, in $((SECONDS - t0)) s"

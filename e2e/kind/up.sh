#!/usr/bin/env bash
# Create the e2e kind cluster (or reuse it) and write its kubeconfig.
#
#   up.sh      cluster $KIND_CLUSTER (default gingham; gingham-ipv6 with
#              IP_FAMILY=ipv6, gingham-dual with dual) from cluster.yaml with the family's networking
#              (paths.sh) and kube-proxy in $KUBE_PROXY_MODE (iptables or nftables), node image gingham-e2e/kind-node:<k8s version> built
#              offline, or $KIND_NODE_IMAGE; kubeconfig in <repo>/.e2e/kubeconfig
#              (kubeconfig-<name> for another name, or $KIND_KUBECONFIG)
#
# No CNI is installed here: the nodes stay NotReady until gingham's DaemonSet
# runs. The Docker network "kind" ($KIND_EXPERIMENTAL_DOCKER_NETWORK) is
# created by us, dual-stack: 198.19.1.0/24 ($KIND_SUBNET) and fd42:19:1::/64
# ($KIND_SUBNET6), so the node addresses never come from a range the project
# must not use, whichever Docker engine runs, and clusters of either family
# share it. Docker 20.10 needs no daemon flag for that: --ipv6 on a
# user-defined network is enough (no ip6tables NAT, which nothing here needs).
set -euo pipefail

# shellcheck source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/paths.sh"
IMAGE=${KIND_NODE_IMAGE:-gingham-e2e/kind-node:$K8S_VERSION}
NETWORK=${KIND_EXPERIMENTAL_DOCKER_NETWORK:-kind}
SUBNET=${KIND_SUBNET:-198.19.1.0/24}
SUBNET6=${KIND_SUBNET6:-fd42:19:1::/64}

log() { echo "up.sh: $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# in_198_19 CIDR: true when an IPv4 CIDR lies inside 198.19.0.0/16.
in_198_19() { [[ $1 =~ ^198\.19\.[0-9]+\.[0-9]+/(1[6-9]|2[0-9]|3[0-2])$ ]]; }
# in_fd42_19 CIDR: true when an IPv6 CIDR lies inside fd42:19::/32.
in_fd42_19() { [[ ${1,,} =~ ^fd42:19(:[0-9a-f]{0,4})+/(3[2-9]|[4-9][0-9]|1[01][0-9]|12[0-8])$ ]]; }

create_network() {
  in_198_19 "$SUBNET" || die "KIND_SUBNET=$SUBNET is outside 198.19.0.0/16"
  in_fd42_19 "$SUBNET6" || die "KIND_SUBNET6=$SUBNET6 is outside fd42:19::/32"
  # The same options kind gives the network it would create itself, with our
  # subnets. The MTU follows the default bridge, as kind does.
  local mtu args=(-d bridge -o com.docker.network.bridge.enable_ip_masquerade=true
    --ipv6 --subnet "$SUBNET" --subnet "$SUBNET6")
  mtu=$(docker network inspect -f '{{index .Options "com.docker.network.driver.mtu"}}' bridge 2>/dev/null || true)
  [[ -z $mtu ]] || args+=(-o "com.docker.network.driver.mtu=$mtu")
  docker network create "${args[@]}" "$NETWORK" >/dev/null
  log "created Docker network $NETWORK ($SUBNET, $SUBNET6)"
}

# The network as it is, if it is ours to use: both subnets in our ranges. An
# IPv4-only one (made by an earlier up.sh) is recreated dual-stack when no
# container uses it; when one does, an ipv4 cluster still works on it, an ipv6
# or dual one cannot.
ensure_network() {
  local info s v6=
  info=$(docker network inspect -f '{{.EnableIPv6}} {{range .IPAM.Config}}{{.Subnet}} {{end}}' "$NETWORK" 2>/dev/null) ||
    { create_network; return; }
  for s in ${info#* }; do
    if [[ $s == *:* ]]; then
      in_fd42_19 "$s" || die "network $NETWORK uses $s, outside fd42:19::/32; remove it (docker network rm $NETWORK)"
      v6=1
    else
      in_198_19 "$s" || die "network $NETWORK uses $s, outside 198.19.0.0/16; remove it (docker network rm $NETWORK)"
    fi
  done
  [[ ${info%% *} == true && -n $v6 ]] && return
  local users
  # -a: a stopped node container still belongs to the network and would not start without it.
  users=$(docker ps -a --filter "network=$NETWORK" --format '{{.Names}}' | sort | paste -sd ' ' -)
  if [[ -z $users ]]; then
    log "Docker network $NETWORK is IPv4-only and unused: recreating it dual-stack"
    docker network rm "$NETWORK" >/dev/null
    create_network
  elif [[ $IP_FAMILY != ipv4 ]]; then
    die "Docker network $NETWORK is IPv4-only, and an $IP_FAMILY cluster needs IPv6 on it; containers use it: $users.
  Delete their clusters (make kind-down, or $KIND delete cluster --name NAME), then rerun: up.sh recreates it dual-stack."
  else
    log "Docker network $NETWORK is IPv4-only (in use by $users): enough for an ipv4 cluster"
  fi
}

# The kind config, $CLUSTER_CONFIG: cluster.yaml with the family's networking
# (paths.sh), and without its last block (the etcd tag of our image) for any
# other image.
kind_config() {
  local tag key
  tag=$(sed -nE 's/^[[:space:]]*imageTag:[[:space:]]*"?([^"]+)"?/\1/p' "$HERE/cluster.yaml")
  [[ $tag == "$ETCD_IMAGE_TAG" ]] ||
    die "cluster.yaml sets etcd imageTag $tag, versions.env says ETCD_IMAGE_TAG=$ETCD_IMAGE_TAG"
  sed -E -e "s|^(  ipFamily:).*|\1 $IP_FAMILY|" \
    -e "s|^(  podSubnet:).*|\1 $POD_SUBNET|" \
    -e "s|^(  serviceSubnet:).*|\1 $SERVICE_SUBNET|" \
    -e "s|^(  kubeProxyMode:).*|\1 $KUBE_PROXY_MODE|" "$HERE/cluster.yaml" >"$CLUSTER_CONFIG"
  [[ -z ${KIND_NODE_IMAGE:-} ]] || sed -i '/^# Keep this block last/,$d' "$CLUSTER_CONFIG"
  for key in "ipFamily: $IP_FAMILY" "podSubnet: $POD_SUBNET" "serviceSubnet: $SERVICE_SUBNET" "kubeProxyMode: $KUBE_PROXY_MODE"; do
    grep -qxF "  $key" "$CLUSTER_CONFIG" || die "cluster.yaml has no networking line to set to '$key'"
  done
  echo "$CLUSTER_CONFIG"
}

# Every kind node runs systemd, kubelet and containerd, each holding inotify instances and
# watches of the host's per-user budget: with three clusters up (make compare) the defaults run out
# and a joining kubelet never registers. Raised to kind's recommended figures, never lowered.
raise_inotify() {
  local key want have
  for key in max_user_instances:8192 max_user_watches:524288; do
    want=${key#*:} key=fs.inotify.${key%%:*}
    have=$(sysctl -n "$key")
    ((have >= want)) && continue
    sysctl -qw "$key=$want"
    log "raised $key from $have to $want (kind nodes use many)"
  done
}

main() {
  local t0=$SECONDS
  mkdir -p "$REPO/.e2e" "$(dirname "$KUBECONFIG_OUT")"
  "$HERE/docker.sh" start
  # The kind CLI always; the node image unless KIND_NODE_IMAGE names one.
  "$HERE/build-node-image.sh"
  ensure_network
  # kind bind-mounts /lib/modules into every node; this kernel has none.
  mkdir -p /lib/modules
  raise_inotify

  if "$KIND" get clusters 2>/dev/null | grep -x "$CLUSTER" >/dev/null; then
    log "cluster $CLUSTER exists: reusing it"
    # Of the family asked for: its kubeadm config names the pod CIDRs.
    local have
    have=$(docker exec "$CLUSTER-control-plane" sed -nE 's/^[[:space:]]*podSubnet:[[:space:]]*"?([^"]*)"?$/\1/p' /kind/kubeadm.conf 2>/dev/null | head -n1 || true)
    [[ -z $have || $have == "$POD_SUBNET" ]] ||
      die "cluster $CLUSTER has podSubnet $have, not $POD_SUBNET (IP_FAMILY=$IP_FAMILY); delete it first (make kind-down with its variables)"
    # And of the kube-proxy mode asked for: kind writes it into the same file (mode: "nftables").
    have=$(docker exec "$CLUSTER-control-plane" sed -nE 's/^mode:[[:space:]]*"?([a-z]*)"?$/\1/p' /kind/kubeadm.conf 2>/dev/null | head -n1 || true)
    [[ -z $have || $have == "$KUBE_PROXY_MODE" ]] ||
      die "cluster $CLUSTER runs kube-proxy in $have mode, not KUBE_PROXY_MODE=$KUBE_PROXY_MODE; delete it first (make kind-down with its variables)"
    "$KIND" export kubeconfig --name "$CLUSTER" --kubeconfig "$KUBECONFIG_OUT"
  else
    local t1=$SECONDS config
    config=$(kind_config)
    log "creating cluster $CLUSTER ($IP_FAMILY, backend $BACKEND, kube-proxy $KUBE_PROXY_MODE, dataplane $DATAPLANE) from $IMAGE"
    # kubeadm's control-plane start and node joins have fixed timeouts that a loaded 2-core
    # machine can miss; kind removes the nodes of a failed attempt, so one more try is clean.
    local attempt
    for attempt in 1 2; do
      "$KIND" create cluster \
        --name "$CLUSTER" --image "$IMAGE" --config "$config" --kubeconfig "$KUBECONFIG_OUT" && break
      [[ $attempt == 1 ]] || die "kind create cluster failed twice"
      log "kind create cluster failed; trying once more"
      "$KIND" delete cluster --name "$CLUSTER" --kubeconfig "$KUBECONFIG_OUT" >/dev/null 2>&1 || true
    done
    log "cluster created in $((SECONDS - t1)) s"
  fi
  log "kubeconfig: $KUBECONFIG_OUT (kubectl: $CACHE/bin/kubernetes-$K8S_VERSION/kubectl)"
  log "up in $((SECONDS - t0)) s"
}

main "$@"

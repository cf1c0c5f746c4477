#!/usr/bin/env bash
# Create the e2e kind cluster (or reuse it) and write its kubeconfig.
#
#   up.sh      cluster $KIND_CLUSTER (default gingham) from cluster.yaml, node
#              image gingham-e2e/kind-node:<k8s version> built offline, or
#              $KIND_NODE_IMAGE; kubeconfig in <repo>/.e2e/kubeconfig (or
#              $KIND_KUBECONFIG)
#
# No CNI is installed here: the nodes stay NotReady until gingham's DaemonSet
# runs. The Docker network "kind" is created by us in 198.19.1.0/24
# ($KIND_SUBNET), so the node addresses never come from a range the project
# must not use, whichever Docker engine runs.
set -euo pipefail

# shellcheck source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/paths.sh"
IMAGE=${KIND_NODE_IMAGE:-gingham-e2e/kind-node:$K8S_VERSION}
NETWORK=${KIND_EXPERIMENTAL_DOCKER_NETWORK:-kind}
SUBNET=${KIND_SUBNET:-198.19.1.0/24}

log() { echo "up.sh: $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# in_198_19 CIDR: true when an IPv4 CIDR lies inside 198.19.0.0/16.
in_198_19() { [[ $1 =~ ^198\.19\.[0-9]+\.[0-9]+/(1[6-9]|2[0-9]|3[0-2])$ ]]; }

ensure_network() {
  local subnets s
  if subnets=$(docker network inspect -f '{{range .IPAM.Config}}{{.Subnet}} {{end}}' "$NETWORK" 2>/dev/null); then
    for s in $subnets; do
      [[ $s == *:* ]] && die "network $NETWORK has IPv6 subnet $s; remove it (docker network rm $NETWORK)"
      in_198_19 "$s" || die "network $NETWORK uses $s, outside 198.19.0.0/16; remove it (docker network rm $NETWORK)"
    done
    return
  fi
  in_198_19 "$SUBNET" || die "KIND_SUBNET=$SUBNET is outside 198.19.0.0/16"
  # The same options kind gives the network it would create itself, IPv4 only
  # (kind would add an fc00::/8 IPv6 subnet; the suite is IPv4 for now). The
  # MTU follows the default bridge, as kind does.
  local mtu args=(-d bridge -o com.docker.network.bridge.enable_ip_masquerade=true --subnet "$SUBNET")
  mtu=$(docker network inspect -f '{{index .Options "com.docker.network.driver.mtu"}}' bridge 2>/dev/null || true)
  [[ -z $mtu ]] || args+=(-o "com.docker.network.driver.mtu=$mtu")
  docker network create "${args[@]}" "$NETWORK" >/dev/null
  log "created Docker network $NETWORK ($SUBNET)"
}

# The kind config: cluster.yaml as it is for our image; without its last block
# (the etcd tag of our image) for any other image.
kind_config() {
  local tag
  tag=$(sed -nE 's/^[[:space:]]*imageTag:[[:space:]]*"?([^"]+)"?/\1/p' "$HERE/cluster.yaml")
  [[ $tag == "$ETCD_IMAGE_TAG" ]] ||
    die "cluster.yaml sets etcd imageTag $tag, versions.env says ETCD_IMAGE_TAG=$ETCD_IMAGE_TAG"
  if [[ -z ${KIND_NODE_IMAGE:-} ]]; then
    echo "$HERE/cluster.yaml"
  else
    sed '/^# Keep this block last/,$d' "$HERE/cluster.yaml" >"$REPO/.e2e/cluster.yaml"
    echo "$REPO/.e2e/cluster.yaml"
  fi
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

  if "$KIND" get clusters 2>/dev/null | grep -qx "$CLUSTER"; then
    log "cluster $CLUSTER exists: reusing it"
    "$KIND" export kubeconfig --name "$CLUSTER" --kubeconfig "$KUBECONFIG_OUT"
  else
    local t1=$SECONDS config
    config=$(kind_config)
    log "creating cluster $CLUSTER from $IMAGE"
    "$KIND" create cluster \
      --name "$CLUSTER" --image "$IMAGE" --config "$config" --kubeconfig "$KUBECONFIG_OUT"
    log "cluster created in $((SECONDS - t1)) s"
  fi
  log "kubeconfig: $KUBECONFIG_OUT (kubectl: $CACHE/bin/kubernetes-$K8S_VERSION/kubectl)"
  log "up in $((SECONDS - t0)) s"
}

main "$@"

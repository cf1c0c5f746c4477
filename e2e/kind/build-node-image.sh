#!/usr/bin/env bash
# Build the kind node image gingham-e2e/kind-node:<k8s version> without any
# container registry, and the kind CLI, caching every piece by version.
#
#   build-node-image.sh            build what is missing, print each phase's time
#   KIND_NODE_IMAGE=img build-...  only the kind CLI; use that image instead
#
# Everything is cached under $GINGHAM_E2E_CACHE (default /var/cache/gingham-e2e),
# outside the repository; each piece sits in a folder named by its version, so a
# warm machine rebuilds nothing and a bump rebuilds only what changed:
#   go/                 Go module and build caches used by these builds
#   bin/<what>-<ver>/   kubernetes, etcd, coredns, pause, crictl, kind binaries
#   rootfs/<suite>-<h>/ the debootstrapped Debian tree (h: hash of the package list)
#   images/<vers>/*.tar component images as `docker save` archives
# The node image carries a label with a hash of versions.env and this script;
# when either changes, only the (cheap) final assembly runs again.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source-path=SCRIPTDIR
source "$HERE/versions.env"

CACHE=${GINGHAM_E2E_CACHE:-/var/cache/gingham-e2e}
NODE_IMAGE=gingham-e2e/kind-node:$K8S_VERSION
KIND_BIN=$CACHE/bin/kind-$KIND_VERSION/kind
K8S_BIN=$CACHE/bin/kubernetes-$K8S_VERSION
ETCD_BIN=$CACHE/bin/etcd-$ETCD_VERSION
COREDNS_BIN=$CACHE/bin/coredns-$COREDNS_VERSION
CRICTL_BIN=$CACHE/bin/crictl-$CRICTL_VERSION
PAUSE_BIN=$CACHE/bin/pause-$PAUSE_VERSION
K8S_COMMANDS=(kubeadm kubelet kubectl kube-apiserver kube-controller-manager kube-scheduler kube-proxy)

# Packages of the node, beyond debootstrap's minbase. kind's base image installs
# the same kind of set; jq is needed by kind's containerd hook
# (/kind/bin/mount-product-files.sh), containernetworking-plugins gives the
# loopback plugin containerd's CRI needs plus portmap/bridge/host-local.
NODE_PACKAGES=(systemd containerd runc iptables nftables ipset iproute2 conntrack
  ethtool socat util-linux mount procps kmod libseccomp2 ca-certificates jq bash
  containernetworking-plugins)
ROOTFS_KEY=$(printf '%s\n' "$DEBIAN_SUITE" "${NODE_PACKAGES[@]}" | sha256sum | cut -c1-12)
ROOTFS=$CACHE/rootfs/$DEBIAN_SUITE-$ROOTFS_KEY
IMAGES=$CACHE/images/k8s-$K8S_VERSION-etcd-$ETCD_VERSION-coredns-$COREDNS_VERSION-pause-$PAUSE_VERSION-rootfs-$ROOTFS_KEY
IMAGE_KEY=$(cat "$HERE/versions.env" "${BASH_SOURCE[0]}" | sha256sum | cut -c1-16)

LOG_PREFIX=build-node-image
# shellcheck source-path=SCRIPTDIR
source "$HERE/build-lib.sh"

# module_dir MODULE@VERSION: download a module, print where its source is.
module_dir() { go mod download -json "$1" | jq -er .Dir; }

# go_module_init DIR: an empty main module in DIR; `go get` then adds the one
# module whose commands we build, and `go build` builds them from it.
go_module_init() {
  local dir=$1
  mkdir -p "$dir"
  rm -f "$dir/go.mod" "$dir/go.sum"
  printf 'module gingham.local/e2e/%s\n\ngo 1.24.0\n' "$(basename "$dir")" >"$dir/go.mod"
}

# --- the kind CLI -------------------------------------------------------------
build_kind() {
  if [[ -x $KIND_BIN ]]; then log "cached: $KIND_BIN"; return; fi
  start_dir "${KIND_BIN%/*}"
  GOBIN=${KIND_BIN%/*}.tmp quiet go install "sigs.k8s.io/kind@$KIND_VERSION"
  finish_dir "${KIND_BIN%/*}"
}

# --- Kubernetes binaries ------------------------------------------------------
build_kubernetes() {
  if [[ -x $K8S_BIN/kube-proxy ]]; then log "cached: $K8S_BIN"; return; fi
  local src=$CACHE/src/kubernetes-$K8S_VERSION
  go_module_init "$src"
  # k8s.io/kubernetes points its staging modules (k8s.io/api, client-go, ...)
  # at ./staging/src, which a module download does not have: replace each one
  # with its published version. The list comes from its own go.mod.
  local json gomod staging m
  json=$(quiet go mod download -json "k8s.io/kubernetes@$K8S_VERSION")
  gomod=$(jq -er .GoMod <<<"$json")
  staging=$(sed -nE 's#^[[:space:]]*(k8s\.io/[^[:space:]]+)[[:space:]]+=>[[:space:]]+\./staging/.*#\1#p' "$gomod")
  [[ -n $staging ]] || die "no staging modules found in $gomod"
  {
    echo "require k8s.io/kubernetes $K8S_VERSION"
    echo "replace ("
    for m in $staging; do echo "	$m => $m $K8S_STAGING_VERSION"; done
    echo ")"
  } >>"$src/go.mod"
  log "$(wc -w <<<"$staging") staging modules replaced at $K8S_STAGING_VERSION"

  local ld
  ld=$(k8s_version_ldflags "$json")

  local pkgs=() c
  for c in "${K8S_COMMANDS[@]}"; do pkgs+=("k8s.io/kubernetes/cmd/$c"); done
  start_dir "$K8S_BIN"
  (cd "$src" && quiet go get "${pkgs[@]/%/@$K8S_VERSION}" &&
    go build -trimpath -ldflags "$ld" -o "$K8S_BIN.tmp/" "${pkgs[@]}")
  local v
  v=$("$K8S_BIN.tmp/kubeadm" version -o short)
  [[ $v == "$K8S_VERSION" ]] || die "kubeadm reports $v, expected $K8S_VERSION"
  finish_dir "$K8S_BIN"
}

# --- etcd, CoreDNS, crictl ------------------------------------------------------
build_etcd() {
  if [[ -x $ETCD_BIN/etcd ]]; then log "cached: $ETCD_BIN"; return; fi
  # The etcd server's main package is the root of go.etcd.io/etcd/server/v3.
  # (etcdctl v3.5.x is not on the module proxy, so the image has etcd alone;
  # kubeadm needs nothing else.)
  local src=$CACHE/src/etcd-$ETCD_VERSION
  go_module_init "$src"
  start_dir "$ETCD_BIN"
  (cd "$src" && quiet go get "go.etcd.io/etcd/server/v3@$ETCD_VERSION" &&
    go build -trimpath -ldflags "-s -w" -o "$ETCD_BIN.tmp/etcd" go.etcd.io/etcd/server/v3)
  "$ETCD_BIN.tmp/etcd" --version | grep "etcd Version: ${ETCD_VERSION#v}" >/dev/null ||
    die "etcd does not report ${ETCD_VERSION#v}"
  finish_dir "$ETCD_BIN"
}

build_coredns() {
  if [[ -x $COREDNS_BIN/coredns ]]; then log "cached: $COREDNS_BIN"; return; fi
  local src=$CACHE/src/coredns-$COREDNS_VERSION
  go_module_init "$src"
  start_dir "$COREDNS_BIN"
  (cd "$src" && quiet go get "github.com/coredns/coredns@$COREDNS_VERSION" &&
    go build -trimpath -ldflags "-s -w" -o "$COREDNS_BIN.tmp/coredns" github.com/coredns/coredns)
  finish_dir "$COREDNS_BIN"
}

build_crictl() {
  if [[ -x $CRICTL_BIN/crictl ]]; then log "cached: $CRICTL_BIN"; return; fi
  start_dir "$CRICTL_BIN"
  GOBIN=$CRICTL_BIN.tmp quiet go install -trimpath \
    -ldflags "-s -w -X sigs.k8s.io/cri-tools/pkg/version.Version=$CRICTL_VERSION" \
    "sigs.k8s.io/cri-tools/cmd/crictl@$CRICTL_VERSION"
  finish_dir "$CRICTL_BIN"
}

# --- pause: the first process of every pod sandbox ------------------------------
build_pause() {
  if [[ -x $PAUSE_BIN/pause ]]; then log "cached: $PAUSE_BIN"; return; fi
  command -v gcc >/dev/null ||
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends gcc libc6-dev >/dev/null
  start_dir "$PAUSE_BIN"
  # It only has to sleep until told to stop and reap orphans it inherits.
  cat >"$PAUSE_BIN.tmp/pause.c" <<'EOF'
#include <signal.h>
#include <stddef.h>
#include <sys/wait.h>
#include <unistd.h>

static void on_stop(int sig) { (void)sig; _exit(0); }

static void on_child(int sig) {
  (void)sig;
  while (waitpid(-1, NULL, WNOHANG) > 0) {}
}

int main(void) {
  struct sigaction stop = {0}, child = {0};
  stop.sa_handler = on_stop;
  sigaction(SIGINT, &stop, NULL);
  sigaction(SIGTERM, &stop, NULL);
  child.sa_handler = on_child;
  child.sa_flags = SA_NOCLDSTOP | SA_RESTART;
  sigaction(SIGCHLD, &child, NULL);
  for (;;) pause();
}
EOF
  gcc -static -Os -s -o "$PAUSE_BIN.tmp/pause" "$PAUSE_BIN.tmp/pause.c"
  finish_dir "$PAUSE_BIN"
}

# --- the node's root filesystem ------------------------------------------------
build_rootfs() {
  if [[ -f $ROOTFS/etc/os-release ]]; then log "cached: $ROOTFS"; return; fi
  command -v debootstrap >/dev/null ||
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap >/dev/null
  # The same Debian mirror as this machine's apt, if it names one; otherwise
  # debootstrap's own default.
  local uri mirror=() packages
  uri=$(awk '/^URIs:/ && $2 !~ /security/ {print $2; exit}
      /^deb / && !/security/ {for (i = 2; i <= NF; i++) if ($i ~ /^https?:/) {print $i; exit}}' \
    /etc/apt/sources.list.d/*.sources /etc/apt/sources.list 2>/dev/null || true)
  [[ -z $uri ]] || mirror=("$uri")
  packages=$(IFS=,; echo "${NODE_PACKAGES[*]}")
  start_dir "$ROOTFS"
  debootstrap --variant=minbase --include="$packages" "$DEBIAN_SUITE" "$ROOTFS.tmp" "${mirror[@]}" \
    >"$CACHE/rootfs/debootstrap.log" 2>&1 ||
    { tail -n 30 "$CACHE/rootfs/debootstrap.log" >&2; die "debootstrap failed"; }
  # Downloaded packages and apt lists only make the image bigger.
  rm -rf "$ROOTFS.tmp"/var/cache/apt/archives/*.deb "$ROOTFS.tmp"/var/lib/apt/lists/*
  finish_dir "$ROOTFS"
}

# --- component images ----------------------------------------------------------
# save_image NAME DIR ENTRYPOINT_JSON: DIR becomes a one-layer image NAME (via
# `docker import`, no registry, no builder), saved as a tar for the preload.
save_image() {
  local name=$1 dir=$2 entrypoint=$3 tar
  tar=$IMAGES.tmp/$(tr '/:' '__' <<<"$name").tar
  tar --numeric-owner -C "$dir" -c . |
    docker import \
      --change "ENTRYPOINT $entrypoint" \
      --change "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
      - "$name" >/dev/null
  docker save -o "$tar" "$name"
  log "image $name ($(du -h "$tar" | cut -f1))"
}

# The iptables wrapper of the kube-proxy image: kube-proxy must write rules
# with the same backend (nft or legacy) as the node, so the first call looks
# at which one holds kubelet's KUBE-IPTABLES-HINT chain (or more rules), points
# the alternatives there, and runs the real command.
write_iptables_wrapper() {
  cat >"$1" <<'EOF'
#!/bin/sh
set -e
hint() { "$1" -t mangle 2>/dev/null | grep -c 'KUBE-IPTABLES-HINT\|KUBE-KUBELET-CANARY' || true; }
rules() { { "$1" || true; } 2>/dev/null | grep -c '^-' || true; }
if [ "$(hint iptables-nft-save)" -gt 0 ]; then mode=nft
elif [ "$(hint iptables-legacy-save)" -gt 0 ]; then mode=legacy
elif [ "$(rules iptables-legacy-save)" -gt "$(rules iptables-nft-save)" ]; then mode=legacy
else mode=nft
fi
update-alternatives --set iptables "/usr/sbin/iptables-$mode" >/dev/null
update-alternatives --set ip6tables "/usr/sbin/ip6tables-$mode" >/dev/null
exec "$0" "$@"
EOF
  chmod 0755 "$1"
}

build_images() {
  if [[ -d $IMAGES ]]; then log "cached: $IMAGES"; return; fi
  # The names come from kubeadm itself; we build exactly those, except etcd,
  # which carries the tag of the version we really built (see versions.env).
  local wanted name repo tag work
  wanted=$("$K8S_BIN/kubeadm" config images list --kubernetes-version "$K8S_VERSION")
  start_dir "$IMAGES"
  work=$IMAGES.tmp/work
  for name in $wanted; do
    repo=${name%:*} tag=${name##*:}
    rm -rf "$work"; mkdir -p "$work/usr/local/bin"
    case ${repo##*/} in
      kube-apiserver|kube-controller-manager|kube-scheduler)
        [[ $tag == "$K8S_VERSION" ]] || die "kubeadm wants $name, we build $K8S_VERSION"
        cp "$K8S_BIN/${repo##*/}" "$work/usr/local/bin/"
        save_image "$name" "$work" "[\"/usr/local/bin/${repo##*/}\"]" ;;
      kube-proxy)
        # kube-proxy runs iptables, ip6tables, ipset and conntrack: its image
        # is the Debian tree of the node, less what only the node needs.
        tar --numeric-owner -C "$ROOTFS" \
          --exclude=./usr/bin/containerd\* --exclude=./usr/bin/ctr --exclude=./usr/sbin/runc \
          --exclude=./usr/lib/cni --exclude=./usr/share/doc --exclude=./usr/share/man \
          --exclude=./usr/share/locale -c . | tar -C "$work" -x
        cp "$K8S_BIN/kube-proxy" "$work/usr/local/bin/"
        write_iptables_wrapper "$work/usr/sbin/iptables-wrapper"
        local t
        for t in iptables iptables-save iptables-restore ip6tables ip6tables-save ip6tables-restore; do
          ln -sf iptables-wrapper "$work/usr/sbin/$t"
        done
        save_image "$name" "$work" '["/usr/local/bin/kube-proxy"]' ;;
      etcd)
        [[ $tag == "$ETCD_IMAGE_TAG" ]] ||
          log "kubeadm names $name; building $repo:$ETCD_IMAGE_TAG (cluster.yaml sets that tag)"
        cp "$ETCD_BIN/etcd" "$work/usr/local/bin/"
        save_image "$repo:$ETCD_IMAGE_TAG" "$work" '["/usr/local/bin/etcd"]' ;;
      coredns)
        [[ $tag == "$COREDNS_VERSION" ]] || die "kubeadm wants $name; versions.env says $COREDNS_VERSION"
        cp "$COREDNS_BIN/coredns" "$work/"
        save_image "$name" "$work" '["/coredns"]' ;;
      pause)
        [[ $tag == "$PAUSE_VERSION" ]] || die "kubeadm wants $name; versions.env says $PAUSE_VERSION"
        cp "$PAUSE_BIN/pause" "$work/"
        save_image "$name" "$work" '["/pause"]' ;;
      *) die "kubeadm wants $name, which this script does not know how to build" ;;
    esac
  done
  rm -rf "$work"
  finish_dir "$IMAGES"
}

# --- the node image ------------------------------------------------------------
# Runs a private containerd (host binary, same Debian release as the node) on
# the node tree's /var/lib/containerd and imports the component images into
# its k8s.io namespace, as kind's own node images have them. --no-unpack:
# containerd's CRI unpacks on first use, inside the running node.
preload_images() {
  local tree=$1 run=$2 tar
  mkdir -p "$run"
  cat >"$run/config.toml" <<EOF
version = 2
root = "$tree/var/lib/containerd"
state = "$run/state"
disabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.internal.v1.opt"]
[grpc]
  address = "$run/containerd.sock"
[ttrpc]
  address = "$run/containerd.sock.ttrpc"
EOF
  containerd --config "$run/config.toml" >"$run/containerd.log" 2>&1 &
  CONTAINERD_PID=$!
  local _
  for _ in $(seq 1 50); do
    ctr --address "$run/containerd.sock" version >/dev/null 2>&1 && break
    sleep 0.2
  done
  for tar in "$IMAGES"/*.tar; do
    ctr --address "$run/containerd.sock" -n k8s.io images import --no-unpack "$tar" >/dev/null
  done
  ctr --address "$run/containerd.sock" -n k8s.io images list -q | sed 's/^/  preloaded: /' >&2
  kill "$CONTAINERD_PID"; wait "$CONTAINERD_PID" || true
  CONTAINERD_PID=
}

assemble_node() {
  local work=$CACHE/work/node-$K8S_VERSION tree kindfiles
  tree=$work/rootfs
  rm -rf "$work"; mkdir -p "$work"
  cp -a "$ROOTFS" "$tree"
  kindfiles=$(module_dir "sigs.k8s.io/kind@$KIND_VERSION")/images/base/files
  [[ -f $kindfiles/usr/local/bin/entrypoint ]] || die "no kind base-image files in $kindfiles"

  # What kind's base image adds, from the pinned kind module (its Dockerfile
  # copies the same files): the entrypoint, /kind with its hooks, the kubelet
  # unit, drop-ins and slice, crictl.yaml, the containerd config and sysctls.
  # Not kind's containerd.service: the node runs Debian's containerd, whose
  # own unit (/lib/systemd/system/containerd.service) is already there.
  install -m 0755 "$kindfiles"/usr/local/bin/* "$tree/usr/local/bin/"
  mkdir -p "$tree/kind/bin" "$tree/etc/systemd/system/kubelet.service.d" "$tree/etc/containerd"
  install -m 0644 "$kindfiles"/kind/README.txt "$tree/kind/"
  install -m 0755 "$kindfiles"/kind/bin/* "$tree/kind/bin/"
  install -m 0644 "$kindfiles"/etc/crictl.yaml "$tree/etc/"
  install -m 0644 "$kindfiles"/etc/default/kubelet "$tree/etc/default/"
  install -m 0644 "$kindfiles"/etc/sysctl.d/* "$tree/etc/sysctl.d/"
  install -m 0644 "$kindfiles"/etc/systemd/system/{kubelet.service,kubelet.slice,undo-mount-hacks.service} \
    "$tree/etc/systemd/system/"
  install -m 0644 "$kindfiles"/etc/systemd/system/kubelet.service.d/* "$tree/etc/systemd/system/kubelet.service.d/"
  # The node's processes lack CAP_SYS_RESOURCE (the host's bounding set), so
  # containerd may not lower oom_score_adj: without this every pod sandbox
  # fails with "can't get final child's PID from pipe: EOF".
  sed 's/restrict_oom_score_adj = false/restrict_oom_score_adj = true/' \
    "$kindfiles/etc/containerd/config.toml" >"$tree/etc/containerd/config.toml"
  grep -q 'restrict_oom_score_adj = true' "$tree/etc/containerd/config.toml" ||
    die "could not set restrict_oom_score_adj in kind's containerd config"
  grep -q "sandbox_image = \"registry.k8s.io/pause:$PAUSE_VERSION\"" "$tree/etc/containerd/config.toml" ||
    die "kind's containerd config names another pause image than $PAUSE_VERSION"

  # systemd as kind runs it in a container: no units that make no sense in
  # one (the same removals as kind's Dockerfile), ours enabled, no kmsg.
  rm -f "$tree"/lib/systemd/system/sysinit.target.wants/systemd-tmpfiles-setup.service \
    "$tree"/lib/systemd/system/multi-user.target.wants/* \
    "$tree"/etc/systemd/system/*.wants/* \
    "$tree"/lib/systemd/system/local-fs.target.wants/* \
    "$tree"/lib/systemd/system/sockets.target.wants/*udev* \
    "$tree"/lib/systemd/system/sockets.target.wants/*initctl* \
    "$tree"/lib/systemd/system/basic.target.wants/*
  echo "ReadKMsg=no" >>"$tree/etc/systemd/journald.conf"
  ln -sf /lib/systemd/systemd "$tree/sbin/init"
  chroot "$tree" systemctl enable kubelet.service containerd.service undo-mount-hacks.service >/dev/null
  chroot "$tree" systemctl mask systemd-binfmt.service >/dev/null

  # Kubernetes: kubeadm, kubelet and kubectl on the node; the control plane
  # runs from the preloaded images.
  install -m 0755 "$K8S_BIN"/{kubeadm,kubelet,kubectl} "$tree/usr/bin/"
  install -m 0755 "$CRICTL_BIN/crictl" "$tree/usr/local/bin/"
  printf '%s' "$K8S_VERSION" >"$tree/kind/version"
  mkdir -p "$tree/etc/kubernetes/manifests"
  # CNI plugins where containerd looks for them (Debian installs them in
  # /usr/lib/cni); gingham's DaemonSet adds its own binary next to them.
  mkdir -p "$tree/opt/cni/bin"
  local p
  for p in "$tree"/usr/lib/cni/*; do ln -sf "/usr/lib/cni/${p##*/}" "$tree/opt/cni/bin/"; done

  # The base OCI spec of every container, as kind makes it: containerd's
  # default plus kind's hook that gives each container its own product_uuid,
  # and no rlimits.
  chroot "$tree" ctr oci spec |
    jq '.hooks.createContainer += [{"path": "/kind/bin/mount-product-files.sh"}] | del(.process.rlimits)' \
      >"$tree/etc/containerd/cri-base.json"

  preload_images "$tree" "$work/containerd"

  # One layer, then the metadata kind's node images carry: systemd is told it
  # runs in a container, stops on SIGRTMIN+3 (SIGTERM makes it re-execute),
  # and kind's entrypoint runs first. `docker import --change` of Docker 20.10
  # refuses STOPSIGNAL, so a metadata-only build adds it (the classic builder:
  # no BuildKit, no base image to pull).
  local layer=gingham-e2e/kind-node-layer:$K8S_VERSION old
  tar --numeric-owner -C "$tree" -c . | docker import - "$layer" >/dev/null
  rm -rf "$work"
  printf '%s\n' "FROM $layer" \
    'ENV container=docker' \
    'STOPSIGNAL SIGRTMIN+3' \
    'ENTRYPOINT ["/usr/local/bin/entrypoint", "/sbin/init"]' \
    "LABEL io.gingham.e2e.key=$IMAGE_KEY" |
    DOCKER_BUILDKIT=0 docker build -q -t "$NODE_IMAGE" - >/dev/null
  docker rmi "$layer" >/dev/null
  # Earlier node images this one replaced (untagged, with our label), unless a
  # node container still runs from one.
  for old in $(docker images -q -f dangling=true -f label=io.gingham.e2e.key); do
    docker rmi "$old" >/dev/null 2>&1 || true
  done
  log "built $NODE_IMAGE ($(docker image inspect -f '{{.Size}}' "$NODE_IMAGE" | numfmt --to=iec))"
}

node_image_current() {
  [[ $(docker image inspect -f '{{index .Config.Labels "io.gingham.e2e.key"}}' "$NODE_IMAGE" 2>/dev/null) == "$IMAGE_KEY" ]]
}

CONTAINERD_PID=
cleanup() { [[ -z $CONTAINERD_PID ]] || kill "$CONTAINERD_PID" 2>/dev/null || true; }
trap cleanup EXIT

main() {
  local t0=$SECONDS
  mkdir -p "$CACHE/bin" "$CACHE/rootfs" "$CACHE/images" "$CACHE/src"
  # One build at a time per cache.
  exec 9>"$CACHE/.lock"
  flock 9
  command -v jq >/dev/null || die "jq is needed (apt-get install jq)"

  phase "kind CLI $KIND_VERSION" build_kind
  if [[ -n ${KIND_NODE_IMAGE:-} ]]; then
    log "KIND_NODE_IMAGE=$KIND_NODE_IMAGE: not building a node image"
    return
  fi
  docker info >/dev/null 2>&1 || "$HERE/docker.sh" start
  if node_image_current; then
    log "$NODE_IMAGE is up to date: nothing to build ($((SECONDS - t0)) s)"
    return
  fi
  phase "Kubernetes $K8S_VERSION binaries" build_kubernetes
  phase "etcd $ETCD_VERSION" build_etcd
  phase "CoreDNS $COREDNS_VERSION" build_coredns
  phase "crictl $CRICTL_VERSION" build_crictl
  phase "pause $PAUSE_VERSION" build_pause
  phase "root filesystem ($DEBIAN_SUITE, debootstrap)" build_rootfs
  phase "component images" build_images
  phase "node image $NODE_IMAGE" assemble_node
  log "total: $((SECONDS - t0)) s"
}

main "$@"

# shellcheck shell=bash
# Sourced by the cached builds (build-node-image.sh, e2e/conformance/build.sh) after paths.sh, with
# LOG_PREFIX set: Go on our own caches (no toolchain downloads, static binaries), logging, timed
# phases, all-or-nothing cache folders and quiet go commands.
export GOMODCACHE=$CACHE/go/mod GOCACHE=$CACHE/go/build GOTOOLCHAIN=local CGO_ENABLED=0
export GOFLAGS="-modcacherw -buildvcs=false"

log() { echo "$LOG_PREFIX: $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# phase NAME FUNCTION: run one step, print how long it took.
phase() {
  local name=$1 t0=$SECONDS
  log "== $name"
  "$2"
  log "== $name: $((SECONDS - t0)) s"
}

# start_dir DIR / finish_dir DIR: a build writes into DIR.tmp and renames it to DIR when complete,
# so an interrupted build never leaves a half-filled cache folder behind.
start_dir() { rm -rf "$1.tmp"; mkdir -p "$1.tmp"; }
finish_dir() { rm -rf "$1"; mv "$1.tmp" "$1"; }

# quiet CMD...: run a go command without its per-module "downloading" chatter (hundreds of lines
# on a cold cache); errors and everything else still show.
quiet() {
  { "$@" 2>&1 >&3 | sed -E '/^go: (downloading|added|upgraded|finding) /d' >&2; } 3>&1
}

# k8s_version_ldflags JSON: the -ldflags that stamp Kubernetes binaries with K8S_VERSION (without
# them they call themselves v0.0.0-master: kubeadm refuses them, e2e.test logs a wrong version).
# JSON is `go mod download -json k8s.io/kubernetes@VERSION`; the build date is the release's own,
# for repeatability.
k8s_version_ldflags() {
  local date major minor ld p
  date=$(jq -er .Info <<<"$1" | xargs jq -er .Time)
  major=${K8S_VERSION#v}; major=${major%%.*}
  minor=${K8S_VERSION#v*.}; minor=${minor%%.*}
  ld="-s -w"
  for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ld+=" -X $p.gitVersion=$K8S_VERSION -X $p.gitMajor=$major -X $p.gitMinor=$minor"
    ld+=" -X $p.gitTreeState=clean -X $p.buildDate=$date"
  done
  echo "$ld"
}

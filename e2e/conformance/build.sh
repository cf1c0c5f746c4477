#!/usr/bin/env bash
# Build what the upstream Kubernetes conformance tests need, offline and cached by version:
#
#   e2e.test   `go test -c k8s.io/kubernetes/test/e2e` at K8S_VERSION (bin/e2e-<ver>/)
#   agnhost    k8s.io/kubernetes/test/images/agnhost, the same module (bin/e2e-<ver>/)
#   ginkgo     the CLI that runs e2e.test in parallel, GINKGO_VERSION (bin/ginkgo-<ver>/)
#   cnp        the ClusterNetworkPolicy suite, `go test -c ./conformance` in a copy of
#              sigs.k8s.io/network-policy-api at CNP_VERSION with SCTP cut out (cnp-patch.sh), and
#              what was cut (bin/cnp-conformance-<ver>-<patch hash>/{conformance.test,removed.json})
#   images     registry.k8s.io/e2e-test-images/{agnhost,jessie-dnsutils,nginx} with exactly the
#              tags e2e.test asks for, made with `docker import` from debootstrapped Debian trees
#              (rootfs/e2e-*-<suite>-<hash>/); no registry involved; agnhost also as 2.45, the
#              tag the ClusterNetworkPolicy suite's pods name
#
# The cache is the kind platform's ($GINGHAM_E2E_CACHE, default /var/cache/gingham-e2e; see
# e2e/kind/build-node-image.sh, whose Go module setup this repeats for the test packages). A warm
# machine rebuilds nothing; each phase prints its time.
set -euo pipefail

# shellcheck source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

# Shell tools the tests run inside agnhost (upstream's Alpine image has the same set): sh and bash,
# curl, wget, nc (netcat-openbsd), dig/nslookup/host, ss and ip (iproute2), iperf, ping, ps; and
# getent, seq, test from the base system. jessie-dnsutils is the same tree without agnhost.
TOOLS_PACKAGES=(bash curl wget netcat-openbsd bind9-dnsutils iproute2 iperf iputils-ping procps
  ca-certificates passwd)
NGINX_PACKAGES=(nginx-light)
tree_key() { printf '%s\n' "$DEBIAN_SUITE" "$@" | sha256sum | cut -c1-12; }
TOOLS_ROOTFS=$CACHE/rootfs/e2e-tools-$DEBIAN_SUITE-$(tree_key "${TOOLS_PACKAGES[@]}")
NGINX_ROOTFS=$CACHE/rootfs/e2e-nginx-$DEBIAN_SUITE-$(tree_key "${NGINX_PACKAGES[@]}")
# Images carry a label with a hash of what went into them: the versions and this script.
IMAGE_KEY=$(printf '%s\n' "$K8S_VERSION" "$AGNHOST_VERSION" "$JESSIE_DNSUTILS_VERSION" \
  "$NGINX_TEST_VERSION" "$TOOLS_ROOTFS" "$NGINX_ROOTFS" | cat - "${BASH_SOURCE[0]}" | sha256sum | cut -c1-16)
LABEL=io.gingham.e2e.conformance

LOG_PREFIX=conformance/build
# shellcheck source-path=SCRIPTDIR/../kind
source "$HERE/build-lib.sh"

# --- e2e.test and agnhost ------------------------------------------------------------------
# A main module that requires k8s.io/kubernetes, whose staging modules (k8s.io/api, client-go,
# ...) point at ./staging in its go.mod: each is replaced by its published version, except
# k8s.io/sample-apiserver, which the proxy does not serve at that version.
build_e2e() {
  if [[ -x $E2E_TEST && -x $AGNHOST ]]; then log "cached: $E2E_BIN"; return; fi
  local src=$CACHE/src/e2e-$K8S_VERSION json gomod staging m v
  mkdir -p "$src"
  rm -f "$src/go.mod" "$src/go.sum"
  printf 'module gingham.local/e2e/conformance\n\ngo 1.24.0\n\nrequire k8s.io/kubernetes %s\n' \
    "$K8S_VERSION" >"$src/go.mod"
  json=$(quiet go mod download -json "k8s.io/kubernetes@$K8S_VERSION")
  gomod=$(jq -er .GoMod <<<"$json")
  staging=$(sed -nE 's#^[[:space:]]*(k8s\.io/[^[:space:]]+)[[:space:]]+=>[[:space:]]+\./staging/.*#\1#p' "$gomod")
  [[ -n $staging ]] || die "no staging modules found in $gomod"
  grep -qx k8s.io/sample-apiserver <<<"$staging" || die "k8s.io/sample-apiserver is no staging module any more"
  {
    echo "replace ("
    for m in $staging; do
      v=$K8S_STAGING_VERSION
      [[ $m != k8s.io/sample-apiserver ]] || v=$SAMPLE_APISERVER_VERSION
      echo "	$m => $m $v"
    done
    echo ")"
  } >>"$src/go.mod"
  log "$(wc -w <<<"$staging") staging modules replaced (k8s.io/sample-apiserver at $SAMPLE_APISERVER_VERSION)"

  local ld
  ld=$(k8s_version_ldflags "$json")

  start_dir "$E2E_BIN"
  (
    cd "$src"
    quiet go get -t "k8s.io/kubernetes/test/e2e@$K8S_VERSION" "k8s.io/kubernetes/test/images/agnhost@$K8S_VERSION"
    go test -c -trimpath -ldflags "$ld" -o "$E2E_BIN.tmp/e2e.test" k8s.io/kubernetes/test/e2e
    go build -trimpath -ldflags "-s -w -X main.Version=$AGNHOST_VERSION" -o "$E2E_BIN.tmp/agnhost" \
      k8s.io/kubernetes/test/images/agnhost
  )
  # The image tags in versions.env must be the ones this e2e.test asks for.
  local listed image
  listed=$("$E2E_BIN.tmp/e2e.test" --list-images 2>/dev/null)
  for image in "${TEST_IMAGES[@]}"; do
    grep -qxF "$image" <<<"$listed" ||
      die "e2e.test $K8S_VERSION does not use $image; it lists: $(grep -E 'agnhost|dnsutils|nginx' <<<"$listed" | paste -sd ' ')"
  done
  "$E2E_BIN.tmp/agnhost" --version | grep -F "$AGNHOST_VERSION" >/dev/null || die "agnhost does not report $AGNHOST_VERSION"
  finish_dir "$E2E_BIN"
}

build_ginkgo() {
  if [[ -x $GINKGO ]]; then log "cached: $GINKGO"; return; fi
  # The CLI and the library compiled into e2e.test should be the same version.
  local gomod
  gomod=$(quiet go mod download -json "k8s.io/kubernetes@$K8S_VERSION" | jq -er .GoMod)
  grep -qE "^[[:space:]]*github.com/onsi/ginkgo/v2 $GINKGO_VERSION\$" "$gomod" ||
    log "WARNING: k8s.io/kubernetes $K8S_VERSION requires $(grep -E 'onsi/ginkgo/v2 ' "$gomod" | head -n1 | xargs), GINKGO_VERSION=$GINKGO_VERSION"
  start_dir "${GINKGO%/*}"
  (cd / && GOBIN=${GINKGO%/*}.tmp quiet go install "github.com/onsi/ginkgo/v2/ginkgo@$GINKGO_VERSION")
  finish_dir "${GINKGO%/*}"
}

# --- the ClusterNetworkPolicy suite --------------------------------------------------------------
# The module's own go.mod and go.sum pin its dependencies; the manifests are embedded at compile
# time, so the patch goes into a writable copy before `go test -c`.
build_cnp() {
  if [[ -x $CNP_TEST && -f $CNP_BIN/removed.json ]]; then log "cached: $CNP_BIN"; return; fi
  local dir src=$CACHE/src/cnp-$CNP_VERSION
  dir=$(cd / && quiet go mod download -json "sigs.k8s.io/network-policy-api@$CNP_VERSION" | jq -er .Dir)
  rm -rf "$src"
  cp -r "$dir" "$src"
  chmod -R u+w "$src"
  start_dir "$CNP_BIN"
  bash "$CONF_DIR/cnp-patch.sh" "$src" "$CNP_BIN.tmp/removed.json"
  (cd "$src" && quiet go test -c -mod=mod -trimpath -ldflags "-s -w" -o "$CNP_BIN.tmp/conformance.test" ./conformance)
  "$CNP_BIN.tmp/conformance.test" -test.list . | grep -x TestConformanceProfiles >/dev/null ||
    die "$CNP_BIN.tmp/conformance.test has no TestConformanceProfiles"
  finish_dir "$CNP_BIN"
}

# --- Debian trees for the images -------------------------------------------------------------
# debootstrap ROOTFS PACKAGE...: a minbase tree with these packages, from this machine's Debian
# mirror when its apt names one. The .debs are kept in a shared cache for the next tree.
debootstrap_tree() {
  local rootfs=$1; shift
  if [[ -f $rootfs/etc/os-release ]]; then log "cached: $rootfs"; return; fi
  command -v debootstrap >/dev/null ||
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap >/dev/null
  local uri mirror=() packages debs=$CACHE/rootfs/debs-$DEBIAN_SUITE
  uri=$(awk '/^URIs:/ && $2 !~ /security/ {print $2; exit}
      /^deb / && !/security/ {for (i = 2; i <= NF; i++) if ($i ~ /^https?:/) {print $i; exit}}' \
    /etc/apt/sources.list.d/*.sources /etc/apt/sources.list 2>/dev/null || true)
  [[ -z $uri ]] || mirror=("$uri")
  packages=$(IFS=,; echo "$*")
  mkdir -p "$debs"
  start_dir "$rootfs"
  debootstrap --variant=minbase --cache-dir="$debs" --include="$packages" "$DEBIAN_SUITE" "$rootfs.tmp" \
    "${mirror[@]}" >"$rootfs.log" 2>&1 || { tail -n 30 "$rootfs.log" >&2; die "debootstrap failed (log: $rootfs.log)"; }
  rm -rf "$rootfs.tmp"/var/cache/apt/archives/*.deb "$rootfs.tmp"/var/lib/apt/lists/* \
    "$rootfs.tmp"/usr/share/doc "$rootfs.tmp"/usr/share/man "$rootfs.tmp"/usr/share/locale
  finish_dir "$rootfs"
}
build_tools_rootfs() { debootstrap_tree "$TOOLS_ROOTFS" "${TOOLS_PACKAGES[@]}"; }
build_nginx_rootfs() { debootstrap_tree "$NGINX_ROOTFS" "${NGINX_PACKAGES[@]}"; }

# --- the images ------------------------------------------------------------------------------
image_current() {
  [[ $(docker image inspect -f "{{index .Config.Labels \"$LABEL\"}}" "$1" 2>/dev/null) == "$IMAGE_KEY" ]]
}

# import_image NAME DIR --change...: DIR as a one-layer image NAME.
import_image() {
  local name=$1 dir=$2; shift 2
  tar --numeric-owner -C "$dir" -c . |
    docker import "$@" \
      --change "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
      --change "LABEL $LABEL=$IMAGE_KEY" - "$name" >/dev/null
  log "image $name ($(docker image inspect -f '{{.Size}}' "$name" | numfmt --to=iec))"
}

# A working copy of a cached tree, removed again on exit.
WORK=
work_tree() {
  WORK=$CACHE/work/conformance-$$
  rm -rf "$WORK"; mkdir -p "$WORK"
  cp -a "$1" "$WORK/rootfs"
}
drop_work() { [[ -z $WORK ]] || rm -rf "$WORK"; WORK=; }
trap drop_work EXIT

# agnhost as upstream's Dockerfile (test/images/agnhost/Dockerfile) makes it: the binary at
# /agnhost and /agnhost-2 (entrypoint tests run the image with the other name), porter's TLS pair
# at /localhost.crt and /localhost.key, /uploads for netexec, user-defined-in-image (1000) in
# group-defined-in-image (50000); entrypoint /agnhost, command pause.
build_agnhost_image() {
  if image_current "$AGNHOST_IMAGE"; then log "up to date: $AGNHOST_IMAGE"; return; fi
  local porter tree
  porter=$(cd / && go mod download -json "k8s.io/kubernetes@$K8S_VERSION" | jq -er .Dir)/test/images/agnhost/porter
  [[ -f $porter/localhost.crt && -f $porter/localhost.key ]] || die "no localhost.crt/.key in $porter"
  work_tree "$TOOLS_ROOTFS"
  tree=$WORK/rootfs
  install -m 0755 "$AGNHOST" "$tree/agnhost"
  ln "$tree/agnhost" "$tree/agnhost-2"
  install -m 0644 "$porter/localhost.crt" "$porter/localhost.key" "$tree/"
  mkdir -p "$tree/uploads"
  chroot "$tree" groupadd -g 50000 group-defined-in-image
  chroot "$tree" groupadd -g 1000 user-defined-in-image
  chroot "$tree" useradd -m -u 1000 -g 1000 -G group-defined-in-image -s /bin/sh user-defined-in-image
  import_image "$AGNHOST_IMAGE" "$tree" \
    --change 'ENTRYPOINT ["/agnhost"]' --change 'CMD ["pause"]' \
    --change 'EXPOSE 80 8080 8081 9376 5000'
  drop_work
}

# The ClusterNetworkPolicy suite's pods name agnhost 2.45: the same image under that tag, once this
# agnhost is known to serve every command they run.
tag_cnp_agnhost() {
  local help cmd
  help=$("$AGNHOST" --help 2>&1)
  for cmd in connect serve-hostname netexec porter; do
    grep -qE "^  $cmd[[:space:]]" <<<"$help" || die "agnhost $AGNHOST_VERSION has no '$cmd' command, which the cnp suite runs"
  done
  docker tag "$AGNHOST_IMAGE" "$CNP_AGNHOST_IMAGE"
}

# jessie-dnsutils: upstream's is Debian with dnsutils; the DNS tests run `sh -c` loops of dig,
# getent, test and seq in it.
build_jessie_image() {
  if image_current "$JESSIE_IMAGE"; then log "up to date: $JESSIE_IMAGE"; return; fi
  import_image "$JESSIE_IMAGE" "$TOOLS_ROOTFS" --change 'CMD ["bash"]'
}

# nginx: serves port 80 in the foreground, logs to the container's output.
build_nginx_image() {
  if image_current "$NGINX_IMAGE"; then log "up to date: $NGINX_IMAGE"; return; fi
  local tree
  work_tree "$NGINX_ROOTFS"
  tree=$WORK/rootfs
  ln -sf /dev/stdout "$tree/var/log/nginx/access.log"
  ln -sf /dev/stderr "$tree/var/log/nginx/error.log"
  import_image "$NGINX_IMAGE" "$tree" \
    --change 'CMD ["nginx", "-g", "daemon off;"]' --change 'EXPOSE 80'
  drop_work
}

main() {
  local t0=$SECONDS
  mkdir -p "$CACHE/bin" "$CACHE/rootfs" "$CACHE/src" "$CACHE/work"
  command -v jq >/dev/null || die "jq is needed (apt-get install jq)"
  # One conformance build at a time per cache.
  exec 8>"$CACHE/.lock-conformance"
  flock 8
  phase "e2e.test and agnhost ($K8S_VERSION)" build_e2e
  phase "ginkgo CLI $GINKGO_VERSION" build_ginkgo
  phase "ClusterNetworkPolicy suite $CNP_VERSION" build_cnp
  docker info >/dev/null 2>&1 || "$HERE/docker.sh" start
  phase "test tools tree ($DEBIAN_SUITE, debootstrap)" build_tools_rootfs
  phase "nginx tree ($DEBIAN_SUITE, debootstrap)" build_nginx_rootfs
  phase "image $AGNHOST_IMAGE" build_agnhost_image
  phase "image $CNP_AGNHOST_IMAGE (the same)" tag_cnp_agnhost
  phase "image $JESSIE_IMAGE" build_jessie_image
  phase "image $NGINX_IMAGE" build_nginx_image
  log "total: $((SECONDS - t0)) s"
}

main "$@"

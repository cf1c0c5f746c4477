#!/usr/bin/env bash
# The Flannel image gingham-e2e/flannel:$FLANNEL_VERSION, built without a registry, and its name
# printed: a Debian minbase root filesystem (debootstrap, cached by suite and package list) with
# what flanneld and conf/kube/flannel.yaml call (iptables in both modes, iproute2, ipset, sh), the
# reference CNI plugins the manifest installs on the nodes (/usr/lib/cni), and flanneld
# (build-flannel.sh) as /opt/bin/flanneld, `docker import`ed. Rebuilt only when the root filesystem
# or the binary changed (the image carries a label with both).
set -euo pipefail

# shellcheck source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
IMAGE=${FLANNEL_IMAGE:-gingham-e2e/flannel:$FLANNEL_VERSION}
PACKAGES=(iptables iproute2 ipset containernetworking-plugins ca-certificates)
KEY=$(printf '%s\n' "$DEBIAN_SUITE" "${PACKAGES[@]}" | sha256sum | cut -c1-12)
ROOTFS=$CACHE/rootfs/flannel-image-$DEBIAN_SUITE-$KEY

log() { echo "build-flannel-image: $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

flanneld=$(bash "$FLANNEL_DIR/build-flannel.sh")

if [[ ! -f $ROOTFS/etc/os-release ]]; then
  command -v debootstrap >/dev/null ||
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap >/dev/null
  # This machine's Debian mirror when its apt sources name one, else debootstrap's default.
  mirror=$(awk '$1 == "URIs:" && $2 !~ /security/ {print $2; exit}
      $1 == "deb" && !/security/ {for (i = 2; i <= NF; i++) if ($i ~ /^https?:/) {print $i; exit}}' \
    /etc/apt/sources.list.d/*.sources /etc/apt/sources.list 2>/dev/null || true)
  t0=$SECONDS
  rm -rf "$ROOTFS.tmp"
  mkdir -p "$ROOTFS.tmp"
  debootstrap --variant=minbase --include="$(IFS=,; echo "${PACKAGES[*]}")" \
    "$DEBIAN_SUITE" "$ROOTFS.tmp" ${mirror:+"$mirror"} >"$ROOTFS.log" 2>&1 ||
    { tail -n 20 "$ROOTFS.log" >&2; die "debootstrap failed (log: $ROOTFS.log)"; }
  # Nothing in the image reads these.
  rm -rf "$ROOTFS.tmp"/var/cache/apt/archives/*.deb "$ROOTFS.tmp"/var/lib/apt/lists/* \
    "$ROOTFS.tmp"/usr/share/doc "$ROOTFS.tmp"/usr/share/man "$ROOTFS.tmp"/usr/share/locale
  rm -rf "$ROOTFS"
  mv "$ROOTFS.tmp" "$ROOTFS"
  log "root filesystem $ROOTFS in $((SECONDS - t0)) s"
fi

label="$KEY-$(sha256sum "$flanneld" | cut -c1-12)"
if [[ $(docker image inspect -f '{{index .Config.Labels "gingham.flannel"}}' "$IMAGE" 2>/dev/null) != "$label" ]]; then
  # flanneld joins the tree in the archive only: the cached tree stays as debootstrap left it.
  stage=$(mktemp -d)
  trap 'rm -rf "$stage"' EXIT
  install -D -m 0755 "$flanneld" "$stage/opt/bin/flanneld"
  tar --numeric-owner -C "$ROOTFS" -c . -C "$stage" ./opt/bin |
    docker import \
      --change 'ENTRYPOINT ["/opt/bin/flanneld"]' \
      --change 'ENV PATH=/opt/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
      --change "LABEL gingham.flannel=$label" - "$IMAGE" >/dev/null
  log "image $IMAGE ($label)"
fi
echo "$IMAGE"

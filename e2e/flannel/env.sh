# shellcheck shell=bash
# Sourced by the e2e/flannel scripts: CNI=flannel, then everything e2e/kind/paths.sh defines (with
# CNI=flannel it names the cluster gingham-flannel, or gingham-flannel-dual with IP_FAMILY=dual, so
# that it and the gingham cluster can be up at once; KIND_CLUSTER overrides).
export CNI=flannel
FLANNEL_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source-path=SCRIPTDIR
source "$FLANNEL_DIR/../kind/paths.sh"

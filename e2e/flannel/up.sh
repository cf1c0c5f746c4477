#!/usr/bin/env bash
# The Flannel cluster: e2e/kind/up.sh (same node image, Docker network and kind config as gingham's
# cluster) under the Flannel cluster's name (env.sh), then install.sh. Variables as for gingham:
# IP_FAMILY, KIND_CLUSTER, KIND_KUBECONFIG; BACKEND picks Flannel's backend (vxlan, host-gw).
set -euo pipefail
# shellcheck source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
bash "$HERE/up.sh"
bash "$FLANNEL_DIR/install.sh"

# shellcheck shell=bash disable=SC2034  # the variables are for the scripts that source this
# Sourced by the kind scripts and e2e/install.sh: the pinned versions and where everything lives.
# HERE is e2e/kind, REPO the repository; the cache, the kind CLI, the cluster name and its
# kubeconfig, each with its override.
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
# shellcheck source-path=SCRIPTDIR
source "$HERE/versions.env"
CACHE=${GINGHAM_E2E_CACHE:-/var/cache/gingham-e2e}
KIND=$CACHE/bin/kind-$KIND_VERSION/kind
KUBECTL=$CACHE/bin/kubernetes-$K8S_VERSION/kubectl
CLUSTER=${KIND_CLUSTER:-gingham}
KUBECONFIG_OUT=${KIND_KUBECONFIG:-$REPO/.e2e/kubeconfig}

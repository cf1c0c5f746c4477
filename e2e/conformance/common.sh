# shellcheck shell=bash disable=SC2034  # the variables are for the scripts that source this
# Sourced by build.sh and run.sh: where the conformance pieces live in the e2e cache, and the test
# images they need. Everything is named by version, so a bump rebuilds only what changed.
CONF_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source-path=SCRIPTDIR/../kind
source "$CONF_DIR/../kind/paths.sh"

# e2e.test and agnhost come from the same k8s.io/kubernetes module.
E2E_BIN=$CACHE/bin/e2e-$K8S_VERSION
E2E_TEST=$E2E_BIN/e2e.test
AGNHOST=$E2E_BIN/agnhost
GINKGO=$CACHE/bin/ginkgo-$GINKGO_VERSION/ginkgo

# The images the [sig-network] [Conformance] tests run, exactly as e2e.test names them
# (test/utils/image/manifest.go): agnhost nearly everywhere, jessie-dnsutils as the second DNS
# prober, nginx in "EndpointSlice should create Endpoints and EndpointSlices for Pods matching a
# Service". The pause image (Service endpoints latency) is already in the node image.
AGNHOST_IMAGE=registry.k8s.io/e2e-test-images/agnhost:$AGNHOST_VERSION
JESSIE_IMAGE=registry.k8s.io/e2e-test-images/jessie-dnsutils:$JESSIE_DNSUTILS_VERSION
NGINX_IMAGE=registry.k8s.io/e2e-test-images/nginx:$NGINX_TEST_VERSION
TEST_IMAGES=("$AGNHOST_IMAGE" "$JESSIE_IMAGE" "$NGINX_IMAGE")

# The ClusterNetworkPolicy suite (sigs.k8s.io/network-policy-api/conformance): its release must be
# the one of the CRD gingham installs, since the suite refuses a cluster whose CRD bundle-version
# differs. Its pods name agnhost 2.45; our 2.53 build serves every command they run (connect,
# serve-hostname, netexec, porter), so that tag is the same image. build.sh keys the binary's
# folder by the release and a hash of its patch, cnp-patch.sh.
CNP_VERSION=v0.3.0
CNP_CRD=$REPO/conf/kube/clusternetworkpolicies-$CNP_VERSION-experimental.yaml
CNP_AGNHOST_IMAGE=registry.k8s.io/e2e-test-images/agnhost:2.45
CNP_BIN=$CACHE/bin/cnp-conformance-$CNP_VERSION-$(sha256sum "$CONF_DIR/cnp-patch.sh" | cut -c1-12)
CNP_TEST=$CNP_BIN/conformance.test
# What run.sh loads into the cluster.
LOAD_IMAGES=("${TEST_IMAGES[@]}" "$CNP_AGNHOST_IMAGE")

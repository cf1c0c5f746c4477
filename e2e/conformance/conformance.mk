# The upstream Kubernetes conformance tests on the kind cluster (e2e/conformance/). Included by the
# Makefile, after its kind variables (BACKEND, IP_FAMILY, E2E_ENV) and its kind-up target.
#
#   make conformance-build   e2e.test, ginkgo, agnhost and the test images, offline, cached by version
#   make conformance         that, then the [sig-network] [Conformance] tests against the cluster of
#                            KIND_CLUSTER / IP_FAMILY (created with kind-up when it does not exist,
#                            and then left running); report in .e2e/conformance/<cluster>/report.md
#
# CONFORMANCE_PROCS (4), CONFORMANCE_FOCUS, CONFORMANCE_SKIP and CONFORMANCE_TIMEOUT reach run.sh
# from the environment or the make command line.
CONFORMANCE_PROCS ?= 4
export CONFORMANCE_PROCS
ifdef CONFORMANCE_FOCUS
export CONFORMANCE_FOCUS
endif
ifdef CONFORMANCE_SKIP
export CONFORMANCE_SKIP
endif
ifdef CONFORMANCE_TIMEOUT
export CONFORMANCE_TIMEOUT
endif

.PHONY: conformance-build conformance

conformance-build:
	bash e2e/kind/docker.sh start
	$(E2E_ENV) bash e2e/conformance/build.sh

conformance: conformance-build
	$(E2E_ENV) bash e2e/conformance/run.sh --has-cluster || $(MAKE) kind-up
	$(E2E_ENV) bash e2e/conformance/run.sh

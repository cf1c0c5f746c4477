# The upstream Kubernetes tests on the kind cluster (e2e/conformance/). Included by the Makefile,
# after its kind variables (CNI, BACKEND, IP_FAMILY, E2E_ENV) and its kind-up target.
#
#   make conformance-build   e2e.test, ginkgo, agnhost, the cnp suite's conformance.test and the test
#                            images, offline, cached by version
#   make conformance         that, then the suites against the cluster of CNI / KIND_CLUSTER /
#                            IP_FAMILY (created with kind-up when it does not exist, and then left
#                            running): the [sig-network] [Conformance] tests, the Netpol tests and
#                            the ClusterNetworkPolicy suite of network-policy-api (cnp); every run on
#                            record side by side in .e2e/conformance/report.md
#
# CONFORMANCE_SUITES (network,netpol,cnp), CONFORMANCE_PROCS (4), CONFORMANCE_FOCUS,
# CONFORMANCE_SKIP, CONFORMANCE_TIMEOUT and CONFORMANCE_PARALLEL (1, the default: cnp beside the others; 0: after them) reach
# run.sh from the environment or the make command line.
CONFORMANCE_PROCS ?= 4
export CONFORMANCE_PROCS
ifdef CONFORMANCE_SUITES
export CONFORMANCE_SUITES
endif
ifdef CONFORMANCE_FOCUS
export CONFORMANCE_FOCUS
endif
ifdef CONFORMANCE_SKIP
export CONFORMANCE_SKIP
endif
ifdef CONFORMANCE_TIMEOUT
export CONFORMANCE_TIMEOUT
endif
ifdef CONFORMANCE_PARALLEL
export CONFORMANCE_PARALLEL
endif
ifdef CONFORMANCE_MEANWHILE
export CONFORMANCE_MEANWHILE
endif

.PHONY: conformance-build conformance

conformance-build:
	bash e2e/kind/docker.sh start
	$(E2E_ENV) bash e2e/conformance/build.sh

conformance: conformance-build npm-deps
	$(E2E_ENV) bash e2e/conformance/run.sh --has-cluster || $(MAKE) kind-up
	$(E2E_ENV) bash e2e/conformance/run.sh

# Flannel beside gingham on the same kind node image (issue 8): included by the Makefile.
#   make kind-up-flannel     cluster gingham-flannel (gingham-flannel-dual with IP_FAMILY=dual;
#                            KIND_CLUSTER overrides) with Flannel v0.28.4 installed (e2e/flannel/)
#   make kind-down-flannel   remove it
#   make flannel-image       flanneld from the Go module proxy and its image, cached
# BACKEND (vxlan, host-gw) is Flannel's backend; IP_FAMILY as for gingham. bin/gingham is built
# because its image runs the test pods on this cluster too.
.PHONY: kind-up-flannel kind-down-flannel flannel-image

FLANNEL_ENV = BACKEND=$(or $(BACKEND),vxlan) IP_FAMILY=$(or $(IP_FAMILY),ipv4)

flannel-image:
	bash e2e/kind/docker.sh start
	bash e2e/flannel/build-flannel-image.sh

kind-up-flannel: build
	$(FLANNEL_ENV) bash e2e/flannel/up.sh

kind-down-flannel:
	$(FLANNEL_ENV) bash e2e/flannel/down.sh

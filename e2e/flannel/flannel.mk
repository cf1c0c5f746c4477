# Flannel beside gingham on the same kind node image (issue 8): included by the Makefile.
#   make flannel-image   flanneld from the Go module proxy and its image, cached
# The cluster itself: make kind-up CNI=flannel (e2e/kind/up.sh, then e2e/flannel/install.sh) and
# make kind-down CNI=flannel; BACKEND (vxlan, host-gw) is Flannel's backend there.
.PHONY: flannel-image

flannel-image:
	bash e2e/kind/docker.sh start
	bash e2e/flannel/build-flannel-image.sh

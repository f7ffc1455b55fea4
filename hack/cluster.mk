# Targets for the local kwok cluster; the top-level Makefile includes this
# file (include hack/cluster.mk). Paths are taken relative to this file so
# the include works whatever the current directory of make is.
#
#   make cluster-bins     build and cache the control-plane binaries (~9 min cold)
#   make cluster-up       start and seed the cluster; prints the kubeconfig path
#   make cluster-hazards  add the seeded upgrade hazards
#   make cluster-down     delete the cluster and stop all its processes
#   make cluster-status   show the cluster
#
# Environment: UPGATE_CACHE, UPGATE_CLUSTER, K8S_VERSION (see the scripts).

CLUSTER_HACK_DIR := $(patsubst %/,%,$(dir $(lastword $(MAKEFILE_LIST))))

.PHONY: cluster-bins cluster-up cluster-down cluster-hazards cluster-status

cluster-bins:
	$(CLUSTER_HACK_DIR)/build-cluster-bins.sh

cluster-up:
	$(CLUSTER_HACK_DIR)/cluster.sh up

cluster-down:
	$(CLUSTER_HACK_DIR)/cluster.sh down

cluster-hazards:
	$(CLUSTER_HACK_DIR)/cluster.sh seed-hazards

cluster-status:
	$(CLUSTER_HACK_DIR)/cluster.sh status

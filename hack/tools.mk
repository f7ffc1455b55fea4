# Targets for the independent CLIs the tests use (cosign, opa, helm) and
# govulncheck; the top-level Makefile includes this file (include
# hack/tools.mk). Paths are taken relative to this file so the include works
# whatever the current directory of make is.
#
#   make tools        build the pinned CLIs into $(UPGATE_TOOLS) (cached)
#
# Environment: UPGATE_CACHE, COSIGN_VERSION, OPA_VERSION, HELM_VERSION,
# GOVULNCHECK_VERSION (see hack/tools.sh).

TOOLS_HACK_DIR := $(patsubst %/,%,$(dir $(lastword $(MAKEFILE_LIST))))

# Where the tools land; tests look here too.
UPGATE_TOOLS ?= $(or $(UPGATE_CACHE),$(HOME)/.cache/upgate)/tools

.PHONY: tools

tools:
	$(TOOLS_HACK_DIR)/tools.sh

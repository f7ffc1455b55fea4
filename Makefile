# upgate — build, test and demo. `make demo` runs the main job on a local
# simulated cluster; `make test` runs the tests. Both install what they need.

SHELL := /bin/bash
# The Go toolchain upgate is built, tested and checked with. The machine's
# own Go (go1.26.8) has standard-library vulnerabilities that govulncheck
# finds our code calling (net/http, crypto/tls, crypto/x509; fixed in
# go1.26.10); go1.27.3 is the newer Go the module proxy serves here, and the
# go command fetches it from there once (76 MB) into the module cache.
# Exported, so every recipe and the scripts they call build with it.
# go.mod's toolchain line names it too, but a machine starts on its own Go,
# set to GOTOOLCHAIN=local, which ignores that line: hence this export.
# `GOTOOLCHAIN=... make` overrides it.
export GOTOOLCHAIN ?= go1.27.3
# Static binaries, everywhere: the image (make image) has no C library for a
# cgo build to load, and one build variant lets `make build`, the tests and
# the image share the build cache (the image test links upgate again rather
# than compiling it all a second time without cgo).
export CGO_ENABLED ?= 0
GO ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X github.com/upgate-dev/upgate/cli.stampedVersion=$(VERSION)
BIN := $(CURDIR)/bin
UPGATE_CACHE ?= $(HOME)/.cache/upgate
export UPGATE_CACHE
# Each fuzz target `make fuzz` runs, as package:Target, for FUZZTIME each:
# about 30s of fuzzing in all (building the instrumented tests comes on top).
FUZZTIME ?= 6s
FUZZ_TARGETS := inventory:FuzzRead inventory:FuzzMemberNames kubever:FuzzParse policies:FuzzBuildInput executor:FuzzPlanHops

include hack/cluster.mk
include hack/tools.mk

.PHONY: all build image test unit rego fuzz vet vulncheck e2e soak demo demo-down bench clean

all: build

## build: bin/upgate and bin/kubectl-upgate (the same program as a kubectl plugin)
build:
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/upgate ./cmd/upgate
	cp $(BIN)/upgate $(BIN)/kubectl-upgate

## image: upgate's OCI image, built without a container daemon (hack/image):
## a static binary on an empty base, non-root, as an OCI layout in _out/image
## that `crane push _out/image REF` or `skopeo copy oci:_out/image docker://REF`
## pushes. Its name and tag are the chart's defaults (image.repository, and
## Chart.yaml's appVersion), so the chart runs what `make image` built.
IMAGE_REPO ?= $(shell sed -n 's/^  repository: *//p' charts/upgate/values.yaml)
IMAGE_TAG ?= $(shell sed -n 's/^appVersion: *"\(.*\)"/\1/p' charts/upgate/Chart.yaml)
image:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/linux/upgate ./cmd/upgate
	$(GO) run ./hack/image -binary $(BIN)/linux/upgate -out _out/image -arch "$$($(GO) env GOARCH)" \
	  -repository $(IMAGE_REPO) -tag $(IMAGE_TAG) -version $(VERSION) \
	  -revision "$$(git rev-parse HEAD 2>/dev/null)" -created "$$(git log -1 --format=%ct 2>/dev/null)"

## test: go vet, unit tests (Rego tests and every fuzz target's corpus run
## inside them). The checks against the independent CLIs (cosign, opa,
## helm, promtool) and a real etcd run when make tools and make
## cluster-bins have built them; otherwise they are skipped and listed at
## the end (hack/unit.sh). The short fuzz run (make fuzz) is left to
## .ci/run: its instrumented builds recompile every dependency, which on a
## fresh machine costs more than all the tests.
test: vet unit

vet:
	$(GO) vet ./...
	@unformatted=$$("$$($(GO) env GOROOT)/bin/gofmt" -l $$(find . -name '*.go' -not -path './_out/*' -not -path './.git/*')); \
	if [ -n "$$unformatted" ]; then echo "gofmt would change: $$unformatted"; exit 1; fi

unit:
	UPGATE_TOOLS=$(UPGATE_TOOLS) GO=$(GO) hack/unit.sh

fuzz:
	@set -e; for t in $(FUZZ_TARGETS); do \
		pkg="$${t%%:*}"; fn="$${t##*:}"; \
		echo "fuzz: $$fn in ./$$pkg/ for $(FUZZTIME)"; \
		$(GO) test -run '^$$' -fuzz "^$$fn\$$" -fuzztime $(FUZZTIME) ./$$pkg/; \
	done

## vulncheck: govulncheck ./... against the Go vulnerability database as of
## hack/tools.sh's VULNDB_VERSION (indexed from the module proxy; no network
## beyond it), through hack/vulncheck: fails on every vulnerability our code
## calls except those in hack/vulncheck-accepted.txt, which it prints
vulncheck: tools
	$(GO) run ./hack/vulncheck -govulncheck $(UPGATE_TOOLS)/govulncheck \
	  -db file://$(UPGATE_TOOLS)/vulndb -accepted hack/vulncheck-accepted.txt ./...

## e2e: start a local control plane with kwok nodes and test upgate against it
e2e: build cluster-bins tools
	PATH="$(UPGATE_CACHE)/tools:$$PATH" UPGATE_BIN=$(BIN)/upgate $(GO) test -count=1 -tags e2e -timeout 30m ./e2e/...

## soak: upgate run on the local cluster under faults: SIGKILL at SOAK_TRIALS
## random moments, the API server down SOAK_API_DOWN seconds, a stolen Lease;
## each run resumed to the end while a watcher checks the invariants
SOAK_TRIALS ?= 10
SOAK_API_DOWN ?= 30
SOAK_LEASE ?= 1
soak: build cluster-bins tools
	PATH="$(UPGATE_CACHE)/tools:$$PATH" UPGATE_BIN=$(BIN)/upgate UPGATE_SOAK_TRIALS=$(SOAK_TRIALS) \
	  UPGATE_SOAK_API_DOWN=$(SOAK_API_DOWN) UPGATE_SOAK_LEASE=$(SOAK_LEASE) $(GO) test -count=1 -tags e2e -timeout 90m -run '^TestSoak$$' -v ./e2e/

## demo: local cluster with seeded hazards, then a live check (make demo-down stops it)
demo: build
	hack/demo.sh

demo-down:
	hack/cluster.sh down

## bench: benchmarks of reading, input building and policy evaluation
bench:
	hack/bench.sh

clean:
	rm -rf $(BIN)

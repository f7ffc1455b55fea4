# upgate — build, test and demo. `make demo` runs the main job on a local
# simulated cluster; `make test` runs the tests. Both install what they need.

SHELL := /bin/bash
GO ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X github.com/upgate-dev/upgate/cli.stampedVersion=$(VERSION)
BIN := $(CURDIR)/bin
UPGATE_CACHE ?= $(HOME)/.cache/upgate
export UPGATE_CACHE
FUZZTIME ?= 10s

include hack/cluster.mk
include hack/tools.mk

.PHONY: all build test unit rego fuzz vet e2e demo demo-down bench clean

all: build

## build: bin/upgate and bin/kubectl-upgate (the same program as a kubectl plugin)
build:
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/upgate ./cmd/upgate
	cp $(BIN)/upgate $(BIN)/kubectl-upgate

## test: go vet, unit tests (Rego tests run inside them), a short fuzz run
test: tools vet unit fuzz

vet:
	$(GO) vet ./...

unit:
	PATH="$(UPGATE_CACHE)/tools:$$PATH" $(GO) test -count=1 ./...

fuzz:
	$(GO) test -run '^$$' -fuzz FuzzRead -fuzztime $(FUZZTIME) ./inventory/

## e2e: start a local control plane with kwok nodes and test upgate against it
e2e: build cluster-bins tools
	PATH="$(UPGATE_CACHE)/tools:$$PATH" UPGATE_BIN=$(BIN)/upgate $(GO) test -count=1 -tags e2e -timeout 30m ./e2e/...

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

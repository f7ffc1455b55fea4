#!/usr/bin/env bash
# Install the independent command-line tools upgate's tests compare against
# (cosign, opa, helm), and govulncheck, at pinned versions, from the Go
# module proxy only.
#
# Why independent CLIs: a signed report must be accepted by the real
# `cosign verify-blob`, policies must pass the real `opa check`, the chart
# must render with the real `helm template`. Testing our code against our own
# code proves nothing about compatibility.
#
# The binaries land OUTSIDE the repo, in
#   ${UPGATE_CACHE:-$HOME/.cache/upgate}/tools/<name>
# Each version is built into its own directory and <name> is a symlink to it,
# so bumping a pin below rebuilds that one tool, and running this again with
# nothing changed is a cheap no-op. The last line printed is the tools dir.
#
# Environment:
#   UPGATE_CACHE     cache root (default $HOME/.cache/upgate)
#   COSIGN_VERSION   github.com/sigstore/cosign/v2       (default v2.6.5)
#   OPA_VERSION      github.com/open-policy-agent/opa    (default v1.22.3)
#   HELM_VERSION     helm.sh/helm/v3                     (default v3.22.0)
#   GOVULNCHECK_VERSION golang.org/x/vuln                (default v1.9.0)
#   VULNDB_VERSION   golang.org/x/vulndb                 (default below)
#   GOTOOLCHAIN      the Go that builds the tools (default local; make
#                    exports the project's, go1.27.3, see the Makefile)
#
# govulncheck (make vulncheck) also needs the Go vulnerability database.
# vuln.go.dev cannot be reached from every machine that builds upgate (CI's
# cannot), but the database's own source, golang.org/x/vulndb, is served by
# the Go module proxy with every entry as OSV JSON under data/osv. Its own
# `indexdb` command turns that folder into a database govulncheck reads
# with -db file://..., so the check runs everywhere, against entries as new
# as VULNDB_VERSION's date: bump it to see newer ones.
set -euo pipefail

COSIGN_VERSION="${COSIGN_VERSION:-v2.6.5}"
OPA_VERSION="${OPA_VERSION:-v1.22.3}"
HELM_VERSION="${HELM_VERSION:-v3.22.0}"
GOVULNCHECK_VERSION="${GOVULNCHECK_VERSION:-v1.9.0}"
VULNDB_VERSION="${VULNDB_VERSION:-v0.0.0-20261105234957-e22db6528018}"
UPGATE_CACHE="${UPGATE_CACHE:-$HOME/.cache/upgate}"
TOOLS_DIR="${UPGATE_CACHE}/tools"

# Static binaries; none of these tools need cgo.
export CGO_ENABLED=0
# The proxy refuses @latest and every version here is pinned, so never let
# the go command download another toolchain behind our back: the machine's
# own Go, unless the caller names one (make exports the project's, the Go
# that builds upgate, which govulncheck must be built with; see below).
export GOTOOLCHAIN="${GOTOOLCHAIN:-local}"
# `go install pkg@version` builds outside any checkout: nothing to stamp.
export GOFLAGS="${GOFLAGS:+${GOFLAGS} }-buildvcs=false"

log() { printf '[tools %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

command -v go >/dev/null 2>&1 || die "go is not on PATH; install Go $(sed -n 's/^go //p' "$(dirname "$0")/../go.mod" 2>/dev/null || echo '1.26')"
# The Go that builds the tools (GOTOOLCHAIN's, fetched on first use).
GO_VERSION="$(go env GOVERSION)" || die "cannot run the Go toolchain GOTOOLCHAIN=${GOTOOLCHAIN} names"

# install NAME PACKAGE VERSION [LDFLAGS [GO]]: build PACKAGE@VERSION into
# TOOLS_DIR/.versions/NAME-VERSION/ (NAME-VERSION-GO/ when GO, the Go
# version building it, is given) and point TOOLS_DIR/NAME at it. A stamp
# beside the binary records how it was built; the build is skipped when the
# stamp matches, so changing a version or the flags rebuilds that tool only.
# The other tools are kept whichever Go built them: the Go only matters for
# a fresh build.
install_tool() {
	local name="$1" pkg="$2" version="$3" ldflags="${4:-}" built_with="${5:-}"
	local dir="${TOOLS_DIR}/.versions/${name}-${version}${built_with:+-${built_with}}"
	local stamp="${pkg}@${version} ldflags=${ldflags}${built_with:+ go=${built_with}}"
	if [[ -x "${dir}/${name}" && "$(cat "${dir}/.stamp" 2>/dev/null)" == "${stamp}" ]]; then
		log "${name} ${version}${built_with:+ (${built_with})}: present"
	else
		log "${name} ${version}: building ${pkg}@${version} with ${GO_VERSION}"
		# Build into a scratch dir and move it into place only on success,
		# so an interrupted build never leaves a binary that looks installed.
		local tmp
		tmp="$(mktemp -d "${TOOLS_DIR}/.build-${name}.XXXXXX")"
		if ! GOBIN="${tmp}" go install -ldflags="${ldflags}" "${pkg}@${version}"; then
			rm -rf "${tmp}"
			die "building ${pkg}@${version} failed"
		fi
		printf '%s\n' "${stamp}" >"${tmp}/.stamp"
		chmod 0755 "${tmp}"
		rm -rf "${dir}"
		mkdir -p "$(dirname "${dir}")"
		mv "${tmp}" "${dir}"
	fi
	ln -sfn "${dir#"${TOOLS_DIR}/"}/${name}" "${TOOLS_DIR}/${name}"
}

# helm_ldflags: what helm's own Makefile sets for a release. Without them
# `helm version` says "v3.22" and, worse, `helm template` assumes Kubernetes
# v1.20, so a chart's kubeVersion constraint and the lint deprecation rules
# would behave unlike the helm users run. The Kubernetes version follows the
# client-go that helm release builds with (v0.37.x -> 1.37).
helm_ldflags() {
	local gomod client_go minor
	gomod="$(go mod download -json "helm.sh/helm/v3@${HELM_VERSION}" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",\{0,1\}$/\1/p')"
	[[ -f "${gomod}" ]] || die "cannot download the go.mod of helm.sh/helm/v3@${HELM_VERSION}"
	client_go="$(awk '$1 == "k8s.io/client-go" { print $2; exit }' "${gomod}")"
	minor="$(printf '%s' "${client_go}" | cut -d. -f2)"
	[[ "${minor}" =~ ^[0-9]+$ ]] || die "cannot read the k8s.io/client-go version from ${gomod}"
	local v=helm.sh/helm/v3
	printf '%s' "-X ${v}/internal/version.version=${HELM_VERSION}" \
		" -X ${v}/pkg/chartutil.k8sVersionMajor=1 -X ${v}/pkg/chartutil.k8sVersionMinor=${minor}" \
		" -X ${v}/pkg/lint/rules.k8sVersionMajor=1 -X ${v}/pkg/lint/rules.k8sVersionMinor=${minor}"
}

mkdir -p "${TOOLS_DIR}"
install_tool cosign github.com/sigstore/cosign/v2/cmd/cosign "${COSIGN_VERSION}"
install_tool opa github.com/open-policy-agent/opa "${OPA_VERSION}"
install_tool helm helm.sh/helm/v3/cmd/helm "${HELM_VERSION}" "$(helm_ldflags)"
# govulncheck type-checks the standard library of the Go it runs with (the
# one building upgate) using the go/types it was built with, which refuses
# newer source ("file requires newer Go version go1.27 (application built
# with go1.26)"): build it with that same Go, one build per Go version.
install_tool govulncheck golang.org/x/vuln/cmd/govulncheck "${GOVULNCHECK_VERSION}" "" "${GO_VERSION}"
install_tool indexdb golang.org/x/vulndb/cmd/indexdb "${VULNDB_VERSION}"

# The vulnerability database, indexed from golang.org/x/vulndb's OSV files
# into TOOLS_DIR/.versions/vulndb-VERSION and linked as TOOLS_DIR/vulndb.
vulndb_dir="${TOOLS_DIR}/.versions/vulndb-${VULNDB_VERSION}"
if [[ -f "${vulndb_dir}/index/db.json" ]]; then
	log "vulndb ${VULNDB_VERSION}: present"
else
	log "vulndb ${VULNDB_VERSION}: indexing golang.org/x/vulndb@${VULNDB_VERSION}/data/osv"
	src="$(go mod download -json "golang.org/x/vulndb@${VULNDB_VERSION}" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p')"
	[[ -d "${src}/data/osv" ]] || die "golang.org/x/vulndb@${VULNDB_VERSION} has no data/osv folder"
	tmp="$(mktemp -d "${TOOLS_DIR}/.build-vulndb.XXXXXX")"
	if ! "${TOOLS_DIR}/indexdb" -vulns "${src}/data/osv" -out "${tmp}/db"; then
		rm -rf "${tmp}"
		die "indexing the vulnerability database failed"
	fi
	rm -rf "${vulndb_dir}"
	mv "${tmp}/db" "${vulndb_dir}"
	rmdir "${tmp}"
fi
ln -sfn ".versions/vulndb-${VULNDB_VERSION}" "${TOOLS_DIR}/vulndb"

# promtool checks the chart's alert rules; it comes from Debian's
# prometheus package (the design's choice), linked into the tools dir so
# tests find every independent CLI in one place.
if ! command -v promtool >/dev/null 2>&1; then
	log "promtool: installing Debian's prometheus package"
	sudo_cmd=()
	[[ $(id -u) -eq 0 ]] || sudo_cmd=(sudo)
	"${sudo_cmd[@]}" apt-get install -y -q --no-install-recommends prometheus >&2 ||
		{ "${sudo_cmd[@]}" apt-get update -q >&2 && "${sudo_cmd[@]}" apt-get install -y -q --no-install-recommends prometheus >&2; } ||
		die "could not install Debian's prometheus package (promtool)"
else
	log "promtool: present"
fi
ln -sfn "$(command -v promtool)" "${TOOLS_DIR}/promtool"
# The same package's server: the e2e suite starts a real Prometheus that
# scrapes serve and run and drives the alert and query gates.
ln -sfn "$(command -v prometheus)" "${TOOLS_DIR}/prometheus"

echo "${TOOLS_DIR}"

#!/usr/bin/env bash
# Installs the real registry clients used by berth's integration tests into
# <repo>/.tools/bin (put that directory on PATH in tests).
#
# Idempotent: a Go-built tool is skipped when .tools/bin/<name> already exists
# and its embedded build info (`go version -m`) names the pinned module
# version; skopeo is skipped when it is already on PATH.
#
# Needs: Go (PATH or /usr/local/go/bin), the Go module proxy, Debian apt
# (only for skopeo). Runs as root on a fresh Debian machine.
#
# Environment:
#   TOOLS_ONLY="crane oras"   install only the named tools (crane oras
#                             oci-conformance registry versitygw helm skopeo)
#   SKIP_SKOPEO=1             do not touch apt
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS_BIN="${REPO_ROOT}/.tools/bin"
mkdir -p "${TOOLS_BIN}"

if ! command -v go >/dev/null 2>&1; then
	export PATH="/usr/local/go/bin:${PATH}"
fi
command -v go >/dev/null 2>&1 || { echo "install-test-tools: go not found" >&2; exit 1; }

# Static, reproducible binaries; never touch berth's own go.mod.
export CGO_ENABLED=0
export GOFLAGS="-buildvcs=false"
export GO111MODULE=on
unset GOWORK || true

# Pinned versions.
CRANE_MOD="github.com/google/go-containerregistry"
CRANE_VER="v0.22.1"
ORAS_MOD="oras.land/oras"
ORAS_VER="v1.3.6"
HELM_MOD="helm.sh/helm/v3"
HELM_VER="v3.22.0"
CONF_MOD="github.com/opencontainers/distribution-spec/conformance"
CONF_VER="v0.0.0-20260831232431-97274622c111"
REGISTRY_MOD="github.com/distribution/distribution/v3"
REGISTRY_VER="v3.1.2"
VERSITYGW_MOD="github.com/versity/versitygw"
VERSITYGW_VER="v1.8.0"

WORK="$(mktemp -d /tmp/berth-tools.XXXXXX)"
trap 'rm -rf "${WORK}"' EXIT

log() { printf 'install-test-tools: %s\n' "$*" >&2; }

want() {
	# want NAME -> true if NAME is selected by TOOLS_ONLY (or TOOLS_ONLY unset)
	[[ -z "${TOOLS_ONLY:-}" ]] && return 0
	[[ " ${TOOLS_ONLY} " == *" $1 "* ]]
}

# has_version BIN MODULE VERSION: the binary exists and was built from MODULE@VERSION.
has_version() {
	local bin="$1" mod="$2" ver="$3"
	[[ -x "${bin}" ]] || return 1
	go version -m "${bin}" 2>/dev/null |
		awk -v m="${mod}" -v v="${ver}" '($1=="mod" && $2==m && $3==v){found=1} END{exit !found}'
}

# go_tool NAME PKG MODULE VERSION [LDFLAGS]: go install PKG@VERSION as .tools/bin/NAME.
go_tool() {
	local name="$1" pkg="$2" mod="$3" ver="$4" ldflags="${5:-}"
	local dest="${TOOLS_BIN}/${name}"
	want "${name}" || return 0
	if has_version "${dest}" "${mod}" "${ver}"; then
		log "${name}: ${mod}@${ver} already installed"
		return 0
	fi
	log "${name}: installing ${pkg}@${ver}"
	local start=${SECONDS}
	local gobin="${WORK}/bin-${name}"
	mkdir -p "${gobin}"
	# Run outside the repo so berth's go.mod is never consulted or modified.
	(cd "${WORK}" && GOBIN="${gobin}" go install -trimpath -ldflags="-s -w ${ldflags}" "${pkg}@${ver}")
	local built="${gobin}/$(basename "${pkg}")"
	[[ -x "${built}" ]] || { log "${name}: build produced no ${built}"; exit 1; }
	mv -f "${built}" "${dest}.tmp.$$"
	mv -f "${dest}.tmp.$$" "${dest}"
	log "${name}: done in $((SECONDS - start))s"
}

go_tool crane "${CRANE_MOD}/cmd/crane" "${CRANE_MOD}" "${CRANE_VER}"
go_tool oras "${ORAS_MOD}/cmd/oras" "${ORAS_MOD}" "${ORAS_VER}"
# The OCI conformance suite is a main package at the module root
# (`go build -o conformance .`); the binary reports main.Version as its commit.
go_tool oci-conformance "${CONF_MOD}" "${CONF_MOD}" "${CONF_VER}" \
	"-X main.Version=${CONF_VER}"
go_tool registry "${REGISTRY_MOD}/cmd/registry" "${REGISTRY_MOD}" "${REGISTRY_VER}" \
	"-X ${REGISTRY_MOD}/version.version=${REGISTRY_VER} -X ${REGISTRY_MOD}/version.mainpkg=${REGISTRY_MOD}"
# versitygw is the S3 server the S3 storage driver's tests start (posix backend).
go_tool versitygw "${VERSITYGW_MOD}/cmd/versitygw" "${VERSITYGW_MOD}" "${VERSITYGW_VER}"
# helm is the slowest build (~3 min cold); keep it last.
go_tool helm "${HELM_MOD}/cmd/helm" "${HELM_MOD}" "${HELM_VER}" \
	"-X ${HELM_MOD}/internal/version.version=${HELM_VER}"

# skopeo comes from Debian.
if want skopeo && [[ -z "${SKIP_SKOPEO:-}" ]]; then
	if command -v skopeo >/dev/null 2>&1; then
		log "skopeo: already on PATH ($(command -v skopeo))"
	else
		export DEBIAN_FRONTEND=noninteractive
		SUDO=""
		if [[ "$(id -u)" -ne 0 ]]; then SUDO="sudo"; fi
		if ! apt-cache policy skopeo 2>/dev/null | grep -q 'Candidate: [0-9]'; then
			log "skopeo: apt-get update"
			${SUDO} apt-get update -qq
		fi
		log "skopeo: apt-get install"
		${SUDO} apt-get install -y -qq --no-install-recommends skopeo >/dev/null
		command -v skopeo >/dev/null 2>&1 || { log "skopeo: install failed"; exit 1; }
	fi
fi

log "tools in ${TOOLS_BIN}: $(ls "${TOOLS_BIN}" | tr '\n' ' ')"

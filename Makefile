# berth: `make run` to serve, `make test` to test. See README.md.
SHELL := /bin/bash
GO ?= go
export PATH := $(CURDIR)/.tools/bin:/usr/local/go/bin:$(PATH)
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X main.version=$(VERSION)
BIN := bin/berth

.PHONY: all build image run test test-go test-e2e test-race tools generate check-generated bench fuzz lint clean portal portal-deps portal-generate portal-test portal-unit portal-e2e

all: build

build: portal
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/berth

## image: the container image (Dockerfile) with the Docker Engine, tagged
## $(IMAGE); the binary is built here, static, and copied in FROM scratch.
IMAGE ?= berth:$(VERSION)
image: portal
	rm -rf build/image && mkdir -p build/image/data build/image/tmp
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o build/image/berth ./cmd/berth
	cp /etc/ssl/certs/ca-certificates.crt build/image/
	printf 'root:x:0:0:root:/:/sbin/nologin\nberth:x:65532:65532:berth:/data:/sbin/nologin\n' > build/image/passwd
	printf 'root:x:0:\nberth:x:65532:\n' > build/image/group
	chmod 1777 build/image/tmp
	docker build -f Dockerfile --build-arg VERSION=$(VERSION) --build-arg REVISION=$(shell git rev-parse HEAD 2>/dev/null) \
		-t $(IMAGE) build/image

## run: build and serve on the embedded default (SQLite + ./data)
run: build
	./$(BIN) serve $(ARGS)

## test: every test; PostgreSQL and Redis tests skip when those do not
## answer unless BERTH_TEST_REQUIRE_SERVICES=1. The portal is built first so
## that the binaries the Go tests build embed it (and GraphiQL).
test: tools check-generated portal
	$(GO) vet ./...
	$(GO) test -count=1 -timeout 20m $(shell $(GO) list ./... | grep -vE '$(RACE_RE)')
	$(MAKE) test-race
	$(MAKE) fuzz FUZZTIME=10s
	$(MAKE) portal-test

## test-race: the packages that change registry content, under the race
## detector (`make test` runs them only this way, the rest without it).
RACE_PKGS := ./internal/artifacts/... ./registry/... ./internal/projects/... ./internal/gc/... ./internal/retention/...
RACE_RE := berth/(internal/artifacts|registry|internal/projects|internal/gc|internal/retention)(/|$$)
test-race:
	$(GO) test -race -count=1 -timeout 20m $(RACE_PKGS)

tools:
	bash scripts/install-test-tools.sh

## generate: regenerate ent, ent.graphql, gqlgen code and the portal's typed documents
generate: portal-generate
	$(GO) run -mod=mod ./ent/entc.go
	$(GO) tool gqlgen generate
	npm run --silent codegen

## check-generated: fail if `make generate` changes the tree
check-generated: generate
	@git diff --exit-code --stat -- ent ent.graphql graph gqlgen.yml portal/src/gql || \
		{ echo "generated code is stale: run 'make generate' and commit" >&2; exit 1; }

## portal: the SPA (React + Vite) built into portal/dist, which `go build`
## embeds; rebuilt only when its sources change. Needs Node 20.19+.
PORTAL_SRC := $(shell find portal/src portal/public portal/index.html -type f 2>/dev/null) \
	package.json package-lock.json vite.config.ts tsconfig.json tsconfig.app.json portal/postcss.config.cjs
portal: portal/dist/index.html

portal/dist/index.html: node_modules/.package-lock.json $(PORTAL_SRC)
	npm run --silent build

## portal-deps: npm ci when node_modules is missing or older than the lockfile
portal-deps: node_modules/.package-lock.json

node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund --prefer-offline
	@touch $@

## portal-generate: typed GraphQL documents in portal/src/gql (graphql-codegen)
portal-generate: portal-deps

## portal-test: Vitest component tests, then Playwright end to end against a
## real `berth serve` (installs Debian chromium and crane when missing)
portal-test: portal-unit portal-e2e

portal-unit: portal-deps
	npx vitest run

portal-e2e: portal
	node portal/e2e/run.mjs

## fuzz: every Go fuzz target for FUZZTIME each (default 10s), one after
## another; seeds are in each package's testdata/fuzz, and a failing input
## is written there. FUZZFLAGS adds flags, e.g. FUZZFLAGS='-parallel 1'.
## One line per target in FUZZ_TARGETS: <package>:<FuzzName>.
FUZZTIME ?= 10s
FUZZFLAGS ?= -fuzzminimizetime 5s
FUZZ_TARGETS := \
	./internal/artifacts:FuzzParseManifest \
	./registry:FuzzParseDigest \
	./registry:FuzzParseRoute \
	./registry:FuzzRepositoryReference \
	./registry:FuzzParseRange \
	./registry:FuzzParseContentRange \
	./internal/auth/token:FuzzParseScope \
	./internal/auth/token:FuzzVerify \
	./internal/auth/token:FuzzVerifyMutatedToken \
	./graph:FuzzGraphQLRequest

## A target whose only failure is Go's fuzz coordinator timing out on a
## busy worker at the end of -fuzztime ("context deadline exceeded", no
## failing input written) runs once more; a real finding fails at once.
fuzz:
	@set -e; for t in $(FUZZ_TARGETS); do \
		echo "== $${t#*:} ($${t%%:*}) for $(FUZZTIME)"; \
		for attempt in 1 2; do \
			if $(GO) test -run '^$$' -fuzz "^$${t#*:}\$$" -fuzztime $(FUZZTIME) $(FUZZFLAGS) $${t%%:*} > fuzz.out 2>&1; then \
				cat fuzz.out; break; fi; \
			cat fuzz.out; \
			if [ $$attempt = 2 ] || ! grep -q 'context deadline exceeded' fuzz.out || grep -q 'Failing input written' fuzz.out; then \
				rm -f fuzz.out; exit 1; fi; \
			echo "== $${t#*:}: the fuzz coordinator timed out on a busy worker; once more"; \
		done; \
	done; rm -f fuzz.out

## bench: blob store throughput, then berth on SQLite and PostgreSQL
## against CNCF Distribution (crane push and pull, blob and manifest GETs,
## zb's mix, memory; BERTH_BENCH_ROUNDS=1 for a quick look), GC, scale-out
## and portal page API times; prints tables (not part of `make test`)
bench: tools
	$(GO) test -run '^$$' -bench . -benchtime 3x ./registry/storage/...
	$(GO) test -tags bench -count=1 -v -timeout 60m -run 'TestBenchmark|TestPortalPages' ./test/bench/

clean:
	rm -rf bin build portal/test-results
	find portal/dist -mindepth 1 ! -name .gitkeep -delete 2>/dev/null || true

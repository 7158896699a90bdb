# berth: `make run` to serve, `make test` to test. See README.md.
SHELL := /bin/bash
GO ?= go
export PATH := $(CURDIR)/.tools/bin:/usr/local/go/bin:$(PATH)
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X main.version=$(VERSION)
BIN := bin/berth

.PHONY: all build run test test-go test-e2e tools generate check-generated bench lint clean

all: build

build:
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/berth

## run: build and serve on the embedded default (SQLite + ./data)
run: build
	./$(BIN) serve $(ARGS)

## test: every test; PostgreSQL and Redis tests skip when those do not
## answer unless BERTH_TEST_REQUIRE_SERVICES=1
test: tools check-generated
	$(GO) vet ./...
	$(GO) test -count=1 -timeout 20m ./...

tools:
	bash scripts/install-test-tools.sh

## generate: regenerate ent, ent.graphql and gqlgen code
generate:
	$(GO) run -mod=mod ./ent/entc.go
	$(GO) tool gqlgen generate

## check-generated: fail if `make generate` changes the tree
check-generated: generate
	@git diff --exit-code --stat -- ent ent.graphql graph gqlgen.yml || \
		{ echo "generated code is stale: run 'make generate' and commit" >&2; exit 1; }

bench:
	$(GO) test -run '^$$' -bench . -benchtime 3x ./registry/storage/...

clean:
	rm -rf bin

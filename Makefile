# clusterlab — the two commands that matter: `make run` and `make test`.
# Every target installs what it needs first (idempotently).

GO       ?= go
BIN      := bin/clusterlab
GOFLAGS  ?=
PKGS     := ./...
FUZZTIME ?= 10s

.PHONY: all deps build run test vet unit bench fuzz clean

all: build

## deps: install what a fresh Debian 12 machine lacks (Go modules; system packages via .ci/deps).
deps:
	@bash .ci/deps
	@$(GO) mod download

## build: compile the clusterlab binary into bin/.
build: deps
	$(GO) build $(GOFLAGS) -o $(BIN) .

## run: build and start the embedded simulator (5 virtual nodes with demo workloads).
run: build
	./$(BIN) sim

## test: everything CI checks — vet, and every test under the race detector.
test: deps vet unit

vet:
	$(GO) vet $(PKGS)
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt needed on:"; echo "$$out"; exit 1; fi

unit:
	$(GO) test -race -count=1 -timeout 20m $(PKGS)

## bench: every benchmark, with memory figures.
bench: deps
	$(GO) test -run '^$$' -bench . -benchmem $(PKGS)

## fuzz: run each fuzz target for FUZZTIME.
fuzz: deps
	@$(GO) list -f '{{.ImportPath}} {{.Dir}}' $(PKGS) | while read pkg dir; do \
	  for f in $$(grep -ho '^func Fuzz[A-Za-z0-9_]*' $$dir/*_test.go 2>/dev/null | sed 's/func //'); do \
	    echo "fuzz $$pkg $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
	  done; \
	done

clean:
	rm -rf bin

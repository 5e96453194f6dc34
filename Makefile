# clusterlab — the two commands that matter: `make run` and `make test`.
# Every target installs what it needs first (idempotently).

GO       ?= go
BIN      := bin/clusterlab
DESKTOP  := bin/clusterlab-desktop
TAGS     := desktop,production,webkit2_41
PKGS     := ./...
FUZZTIME ?= 10s
NPM      := npm --prefix frontend

.PHONY: all deps frontend build desktop run test vet unit frontend-test e2e smoke bench fuzz clean

all: build

## deps: install what a fresh Debian 12 machine lacks: Debian packages (.ci/deps),
## Go modules and the frontend's npm packages.
deps:
	@bash .ci/deps
	@$(GO) mod download
	@if [ ! -d frontend/node_modules ] || [ frontend/package-lock.json -nt frontend/node_modules/.package-lock.json ]; then \
	  $(NPM) ci --no-audit --no-fund; fi

## frontend: build the web UI into frontend/dist.
frontend: deps
	$(NPM) run build

## build: the CLI/server binary (serves the UI in a browser) and the desktop binary.
build: frontend
	$(GO) build -o $(BIN) .
	$(GO) build -tags $(TAGS) -o $(DESKTOP) .

desktop: frontend
	$(GO) build -tags $(TAGS) -o $(DESKTOP) .

## run: build and open the desktop window on the embedded simulator; without a
## display it serves the same UI in a browser and prints the URL.
run: build
	./$(DESKTOP)

## test: everything CI checks.
test: deps vet unit frontend-test e2e smoke

vet: frontend
	$(GO) vet $(PKGS)
	$(GO) vet -tags $(TAGS) ./app/ ./frontend/ .
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './frontend/node_modules/*')); \
	  if [ -n "$$out" ]; then echo "gofmt needed on:"; echo "$$out"; exit 1; fi

unit:
	$(GO) test -race -count=1 -timeout 20m $(PKGS)

frontend-test: deps
	$(NPM) run check
	$(NPM) test

## e2e: the web UI in Debian's chromium against a real `clusterlab serve`.
e2e: frontend
	$(GO) build -o $(BIN) .
	CLUSTERLAB_BIN=$(CURDIR)/$(BIN) $(NPM) run e2e

## smoke: the real desktop binary in a window under Xvfb, checked from a screenshot.
smoke: desktop
	bash .ci/desktop-smoke

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
	rm -rf bin frontend/dist

# HiveSync — every task has a target here. `make help` lists them.
# The two that matter most: `make dev` (run HiveSync) and `make test` (everything CI checks).

SHELL := /usr/bin/env bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

GO          ?= go
TOOLS_GO    := $(GO) tool -modfile=tools/go.mod
BUF         := tools/node_modules/.bin/buf
SQLC        := $(TOOLS_GO) sqlc
GOLANGCI    := $(TOOLS_GO) golangci-lint
# The released contract `make breaking` compares against. Moved on purpose,
# with `make release-contract`, when a contract version is released.
BREAKING_BASELINE := proto/released/hivesync-v1.binpb
# Go packages whose coverage counts (generated code excluded).
COVER_PKGS   = $(shell $(GO) list ./... | grep -v -e /gen/ -e /store/dbgen -e /bench | paste -sd, -)
# Packages with tests (bench/ holds benchmarks only and runs with `make bench`).
TEST_PKGS    = $(shell $(GO) list ./... | grep -v -e /bench)
COVER_MIN   := 70
GOOGLEAPIS  := third_party/googleapis/google/api
SDKS        := typescript python kotlin
# Everything `make gen` writes; check-gen compares exactly these with git.
GENERATED   := gen store/dbgen sdk/typescript/src/gen sdk/python/src/hivesync/v1 sdk/kotlin/src/generated

.PHONY: help
help: ## List the targets.
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-18s %s\n", $$1, $$2}'

.PHONY: dev
dev: ## Run HiveSync locally: private Postgres under ./.hivesync, migrations, server on 127.0.0.1:8080.
	$(GO) run ./cmd/hivesyncd dev

.PHONY: build
build: ## Build bin/hivesyncd.
	$(GO) build -o bin/hivesyncd ./cmd/hivesyncd

.PHONY: tools
tools: $(BUF) $(GOOGLEAPIS)/annotations.proto $(GOOGLEAPIS)/httpbody.proto ## Install the pinned code-generation toolchain (npm, git-ignored).

$(BUF): tools/package.json tools/package-lock.json
	npm ci --prefix tools --no-audit --no-fund --loglevel=error
	touch $@

$(GOOGLEAPIS)/annotations.proto $(GOOGLEAPIS)/httpbody.proto: $(BUF)
	mkdir -p $(GOOGLEAPIS)
	cp tools/node_modules/google-proto-files/google/api/annotations.proto \
	   tools/node_modules/google-proto-files/google/api/http.proto \
	   tools/node_modules/google-proto-files/google/api/httpbody.proto $(GOOGLEAPIS)/

.PHONY: gen
gen: tools ## Regenerate everything from scratch: Go (gen/), sqlc (store/dbgen), the three SDKs.
	$(BUF) generate
	rm -rf store/dbgen
	$(SQLC) generate
	for sdk in $(SDKS); do bash sdk/$$sdk/gen.sh; done

.PHONY: check-gen
check-gen: gen ## Regenerate and fail if anything generated differs from what is committed.
	@changed="$$(git status --porcelain -- $(GENERATED))"; \
	if [ -n "$$changed" ]; then \
	  echo "generated code is stale; run 'make gen' and commit:"; echo "$$changed"; git diff --stat -- $(GENERATED); exit 1; \
	fi
	@echo "check-gen: generated code is up to date"

.PHONY: lint
lint: tools ## buf lint + format, gofmt, go vet, golangci-lint.
	$(BUF) lint
	$(BUF) format --diff --exit-code
	@unformatted="$$(gofmt -l $$(git ls-files --cached --others --exclude-standard '*.go' | grep -v -e '^gen/' -e '^store/dbgen/'))"; \
	if [ -n "$$unformatted" ]; then echo "gofmt needed: $$unformatted"; exit 1; fi
	$(GO) vet ./...
	$(GOLANGCI) run ./...

.PHONY: breaking
breaking: tools ## buf breaking against the released contract baseline ($(BREAKING_BASELINE)).
	$(BUF) breaking proto --against $(BREAKING_BASELINE)

.PHONY: release-contract
release-contract: tools ## Move the breaking-change baseline to the current contract (on purpose, at a release).
	mkdir -p $(dir $(BREAKING_BASELINE))
	$(BUF) build proto --exclude-source-info -o $(BREAKING_BASELINE)

.PHONY: sqlc-check
sqlc-check: ## sqlc diff (generated queries match queries/ and migrations/); sqlc vet runs in the Go tests on a live database.
	$(SQLC) diff

.PHONY: test-deps
test-deps: ## Install what the Go tests need beyond Postgres: redis-server (Debian package) for the shared rate limiter.
	@command -v redis-server >/dev/null 2>&1 || { \
	  echo "installing redis-server for the rate-limit tests"; \
	  (apt-get install -y -qq redis-server >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq redis-server; }) \
	  && { service redis-server stop >/dev/null 2>&1 || true; }; }

.PHONY: test-go
test-go: test-deps ## Go tests with -race on real Postgres, coverage enforced at $(COVER_MIN)%.
	$(GO) test -race -count=1 -coverpkg=$(COVER_PKGS) -coverprofile=coverage.out $(TEST_PKGS)
	@total="$$($(GO) tool cover -func=coverage.out | awk '/^total:/ {sub("%","",$$3); print $$3}')"; \
	echo "coverage of non-generated Go code: $$total% (minimum $(COVER_MIN)%)"; \
	awk -v t="$$total" -v m="$(COVER_MIN)" 'BEGIN { exit !(t+0 >= m+0) }' || { echo "coverage below $(COVER_MIN)%"; exit 1; }

.PHONY: test-sdk
test-sdk: build ## The TypeScript, Python and Kotlin SDK suites against a live hivesyncd.
	for sdk in $(SDKS); do echo "== sdk/$$sdk"; HIVESYNC_BIN="$$PWD/bin/hivesyncd" bash sdk/$$sdk/test.sh; done

.PHONY: test
test: check-gen lint breaking sqlc-check test-go test-sdk ## Everything CI runs: generation, lint, contract, Go and SDK tests.
	@echo "make test: all checks passed"

.PHONY: bench
bench: ## Benchmarks (see BENCHMARKS.md); not part of the tests.
	$(GO) test -run '^$$' -bench . -benchmem -count 6 ./bench/...

.PHONY: clean
clean: ## Remove build outputs (keeps ./.hivesync data).
	rm -rf bin coverage.out

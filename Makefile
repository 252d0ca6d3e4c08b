# Transload — run `make help` for the targets.
SHELL := /bin/bash
# Every recipe line runs with -e (a failing command fails the target), -u (an
# unset variable is an error, not an empty string) and pipefail (a failing
# step inside a pipe, such as `go test | tee`, fails the target too).
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

# The Go toolchain every target uses, fetched once by the go command from
# the module proxy (about 76 MB). The machines' own go1.26.8 has standard
# library vulnerabilities that `make vulncheck` reports (net/http,
# crypto/tls, crypto/x509, html/template; fixed in later releases), and
# go1.27.3 is the release served here. Override with GO_TOOLCHAIN=...
GO_TOOLCHAIN ?= go1.27.3
export GOTOOLCHAIN := $(GO_TOOLCHAIN)

BIN        := $(CURDIR)/bin
PROTODEPS  := $(CURDIR)/build/protodeps
BUF        := $(BIN)/buf
# Pinned third-party proto sources (copied at build time, never committed).
PROTOVALIDATE_VERSION  := v1.2.2
GOOGLE_PROTO_FILES_VERSION := 6.0.1
# The google/* files Transload imports (and what they import).
GOOGLE_PROTOS := $(addprefix google/api/,annotations.proto http.proto field_behavior.proto resource.proto \
	client.proto launch_stage.proto field_info.proto visibility.proto) \
	$(addprefix google/rpc/,status.proto error_details.proto code.proto) google/type/date.proto
# Every Go module of the workspace (go.work), as directories.
GO_MODULES = $(shell go list -m -f '{{.Dir}}' 2>/dev/null)
# Their module paths.
GO_MODULE_PATHS = $(shell go list -m 2>/dev/null)
# The modules golangci-lint checks: all of go.work but gen (generated code).
LINT_MODULES = $(filter-out $(CURDIR)/gen,$(GO_MODULES))
GOLANGCI_LINT := $(BIN)/golangci-lint
# A tool built by an older Go cannot load a newer standard library: the
# tools are rebuilt whenever GO_TOOLCHAIN changes.
TOOLCHAIN_STAMP := $(BIN)/.toolchain-$(GO_TOOLCHAIN)
# Extra flags for golangci-lint run, e.g. GOLANGCI_LINT_FLAGS=--concurrency=1.
GOLANGCI_LINT_FLAGS ?=
GOVULNCHECK := $(BIN)/govulncheck
# The Go vulnerability database, offline. vuln.go.dev is not reachable from
# these machines, but the module proxy is: the golang.org/x/vulndb module,
# pinned in tools/go.mod (its cmd/indexdb is a tool there, so one version pins
# both the data and the indexer), ships the OSV entries as data/osv/*.json
# without the v1 index. indexdb writes the v1 layout (index/db.json,
# index/modules.json, ID/<id>.json) that `govulncheck -db file://` reads.
# Newer advisories: `cd tools && go get -tool golang.org/x/vulndb/cmd/indexdb@<version>`.
VULNDB     := $(CURDIR)/build/vulndb
BASELINE   := proto/baseline.binpb
# The OpenAPI post-processing step (tools/openapi, a module outside go.work):
# reads protoc-gen-openapiv2's output in a gen folder, writes the published
# documents (openapi/*.json, openapi3/*.json) and the reference pages.
OPENAPI_POST = cd $(CURDIR)/tools/openapi && GOWORK=off go run . -gen
# Pinned Node tools (tools/npm: @redocly/cli), installed by npm ci.
NPM_TOOLS  := $(CURDIR)/tools/npm/node_modules/.stamp
TMP_GEN    := $(CURDIR)/build/check-generate
GO_TEST_FLAGS ?= -race -shuffle=on -count=1 -timeout=15m
FUZZTIME ?= 10s

.PHONY: help
help: ## List the targets.
	@awk 'BEGIN{FS=":.*## "} /^[a-zA-Z_-]+:.*## /{printf "  %-16s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

.PHONY: tools
tools: $(BIN)/.stamp ## Build the pinned tools (tools/go.mod) into bin/.
$(TOOLCHAIN_STAMP):
	mkdir -p $(BIN) && rm -f $(BIN)/.toolchain-* && touch $@

$(BIN)/.stamp: tools/go.mod tools/go.sum $(TOOLCHAIN_STAMP)
	cd tools && GOWORK=off go build -o $(BIN)/ \
		github.com/bufbuild/buf/cmd/buf \
		github.com/fullstorydev/grpcurl/cmd/grpcurl \
		github.com/golangci/golangci-lint/v2/cmd/golangci-lint \
		github.com/googleapis/api-linter/v2/cmd/api-linter \
		github.com/grpc-ecosystem/grpc-gateway/v2/protoc-gen-grpc-gateway \
		github.com/grpc-ecosystem/grpc-gateway/v2/protoc-gen-openapiv2 \
		golang.org/x/vuln/cmd/govulncheck \
		golang.org/x/vulndb/cmd/indexdb \
		google.golang.org/grpc/cmd/protoc-gen-go-grpc \
		google.golang.org/protobuf/cmd/protoc-gen-go
	touch $@

.PHONY: protodeps
protodeps: $(PROTODEPS)/.stamp ## Copy third-party protos from pinned packages into build/protodeps.
$(PROTODEPS)/.stamp: Makefile
	rm -rf $(PROTODEPS) build/npm && mkdir -p $(PROTODEPS)/buf/validate build/npm
	dir=$$(GOWORK=off go mod download -json github.com/bufbuild/protovalidate@$(PROTOVALIDATE_VERSION) | sed -n 's/.*"Dir": "\(.*\)",/\1/p') && \
		cp $$dir/proto/protovalidate/buf/validate/validate.proto $(PROTODEPS)/buf/validate/
	cd build/npm && npm pack --silent google-proto-files@$(GOOGLE_PROTO_FILES_VERSION) >/dev/null && \
		tar xzf google-proto-files-$(GOOGLE_PROTO_FILES_VERSION).tgz
	cd build/npm/package && cp --parents $(GOOGLE_PROTOS) $(PROTODEPS)/
	chmod -R u+w $(PROTODEPS)
	touch $@

.PHONY: generate
generate: tools protodeps ## Clean and regenerate gen/ (Go, gRPC, grpc-gateway, OpenAPI) from proto/, and the TypeScript client's types.
	rm -rf gen/transload gen/openapi gen/openapi3
	$(BUF) generate
	$(BUF) generate --template buf.gen.openapi.yaml
	$(OPENAPI_POST) $(CURDIR)/gen
	cd clients/typescript && npm ci --no-audit --no-fund --ignore-scripts && npm run generate

.PHONY: check-generate
check-generate: tools protodeps ## Regenerate into a scratch folder and fail on any difference with gen/.
	rm -rf $(TMP_GEN) && mkdir -p $(TMP_GEN)
	$(BUF) generate -o $(TMP_GEN)
	$(BUF) generate --template buf.gen.openapi.yaml -o $(TMP_GEN)
	$(OPENAPI_POST) $(TMP_GEN)/gen
	@diff -r $(TMP_GEN)/gen/transload gen/transload && diff -r $(TMP_GEN)/gen/openapi gen/openapi \
		&& diff -r $(TMP_GEN)/gen/openapi3 gen/openapi3 \
		|| { echo "gen/ is out of date with proto/: run 'make generate' and commit the result"; exit 1; }

# Single tools for the Go-only gates, so lint-go does not wait for buf.
$(GOLANGCI_LINT) $(GOVULNCHECK) $(BIN)/indexdb: tools/go.mod tools/go.sum $(TOOLCHAIN_STAMP)
	cd tools && GOWORK=off go build -o $(BIN)/ $(filter %/$(notdir $@),github.com/golangci/golangci-lint/v2/cmd/golangci-lint \
		golang.org/x/vuln/cmd/govulncheck golang.org/x/vulndb/cmd/indexdb)
	touch $@

.PHONY: lint
lint: tools protodeps tidy-check lint-go vulncheck lint-openapi ## tidy-check, lint-go, vulncheck, lint-openapi, then buf lint, buf format, api-linter (AIP), gofmt, go vet.
	$(BUF) lint proto
	$(BUF) format --diff --exit-code proto
	cd proto && $(BIN)/api-linter --config api-linter.yaml -I . -I $(PROTODEPS) \
		--output-format summary --set-exit-status $$(find transload -name '*.proto' | sort)
	@out=$$(gofmt -l $$(git ls-files '*.go' | grep -v '^gen/')); \
		if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	for m in $(GO_MODULES); do (cd $$m && go vet ./...) || exit 1; done

# Redocly (recommended-strict rules, so a warning fails too) on the published
# OpenAPI 3 and Swagger 2 documents listed in .redocly.yaml.
.PHONY: lint-openapi
lint-openapi: $(NPM_TOOLS) ## redocly lint (.redocly.yaml) on the published OpenAPI documents; needs only Node.
	REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true tools/npm/node_modules/.bin/redocly lint --config .redocly.yaml

$(NPM_TOOLS): tools/npm/package.json tools/npm/package-lock.json
	cd tools/npm && npm ci --ignore-scripts --no-audit --no-fund
	touch $@

.PHONY: lint-go
lint-go: $(GOLANGCI_LINT) ## golangci-lint (.golangci.yml: layer rules, errorlint, ...) in each go.work module but gen; needs only Go.
	@fail=0; for m in $(LINT_MODULES); do echo "== golangci-lint $${m#$(CURDIR)/}"; \
		(cd $$m && $(GOLANGCI_LINT) run --config $(CURDIR)/.golangci.yml $(GOLANGCI_LINT_FLAGS) ./...) || fail=1; \
	done; exit $$fail

.PHONY: tidy-check
tidy-check: ## Fail if a go.work module's go.mod or go.sum is not tidy (go mod tidy -diff, module by module).
	@fail=0; for m in $(GO_MODULES); do echo "== go mod tidy -diff $${m#$(CURDIR)/}"; \
		(cd $$m && go mod tidy -diff) || fail=1; \
	done; exit $$fail

# One govulncheck run over the packages of every go.work module (<module>/...
# for each), not one run per module: in the workspace every module builds
# with the same dependency versions, so the findings are the same (their
# union), and the traces name each file; one run analyses the standard
# library and the shared dependencies once (about 1.5 minutes here, against
# 23 for eleven runs). govulncheck wants a go.mod in its folder: any module
# of the workspace will do.
.PHONY: vulncheck
vulncheck: $(GOVULNCHECK) $(VULNDB)/.stamp ## govulncheck over every go.work module against the pinned offline database (build/vulndb).
	cd $(firstword $(GO_MODULES)) && $(GOVULNCHECK) -db file://$(VULNDB) $(addsuffix /...,$(GO_MODULE_PATHS))

$(VULNDB)/.stamp: $(BIN)/indexdb tools/go.mod tools/go.sum
	rm -rf $(VULNDB)
	osv=$$(cd tools && GOWORK=off go mod download -json golang.org/x/vulndb | sed -n 's/.*"Dir": "\(.*\)",/\1/p')/data/osv && \
		test -d $$osv && $(BIN)/indexdb -vulns $$osv -out $(VULNDB)
	touch $@

.PHONY: breaking
breaking: tools protodeps ## Fail if proto/ breaks the released contracts (baseline image, WIRE_JSON rules).
	$(BUF) breaking proto --against $(BASELINE)

.PHONY: baseline
baseline: tools protodeps ## Release step: move the breaking baseline to the current contracts (see README).
	$(BUF) build proto --exclude-source-info -o $(BASELINE)

.PHONY: test-servers
test-servers: ## Install redis-server, PostgreSQL and Chromium for the integration and browser tests when missing (Debian, root).
	deploy/scripts/ensure-test-servers.sh

.PHONY: go-test
go-test: ## go test (race, shuffle) of every Go module in go.work.
	for m in $(GO_MODULES); do echo "== go test $$m"; (cd $$m && go test $(GO_TEST_FLAGS) ./...) || exit 1; done

# E2E_SCALE_SHORT is make test's subset of the e2e storefront suite on the
# scale topology (make chaos runs all of it there).
E2E_SCALE_SHORT = ^(TestOrderToDelivery|TestNoOversell|TestIdempotentCreate|TestIdempotencyKeyAcrossGateways|TestIdempotencyKeyAfterOutage|TestERPDownThenBack|TestReturnRules)$$

.PHONY: e2e-scale-short
e2e-scale-short: ## Issue #13's reduced scale run (in make test, after go-test): the e2e storefront suite's order to delivery, no-oversell, one Idempotency-Key through both gateways, idempotency across an inventory outage (every replica killed), ERP down then back and the return rules (every order replica restarted) on the scale topology (TRANSLOAD_E2E_SCALE=1: PostgreSQL, three NATS nodes, two replicas), and the webhooks suite's order replica SIGKILLed mid-burst (webhooks once each, in order; no CIRCUIT_OPEN while the other replica serves) on a scale mesh of its own, started after the storefront run (its binaries then come from the build cache); 153 s measured here (2 cores, shared) before the webhooks test joined, the binaries' build from a warm cache and the topology start included (budget: 4 minutes).
	cd e2e && TRANSLOAD_E2E_SCALE=1 go test $(GO_TEST_FLAGS) -run '$(E2E_SCALE_SHORT)' -v ./storefront
	cd e2e && TRANSLOAD_E2E_SCALE=1 go test $(GO_TEST_FLAGS) -run '^TestOrderReplicaKilledMidBurst$$' -v ./webhooks

.PHONY: fuzz-short
fuzz-short: ## A short run of each fuzz target (AIP filter parser, page-token decoder, order's reservation and quote checks, the gateway's CreateOrder and CheckAvailability REST bodies, and fuzz-events); FUZZTIME=10s each.
	cd platform && for target in FuzzParseFilter FuzzDecodePageToken; do \
		go test -run '^$$' -fuzz "^$$target\$$" -fuzztime $(FUZZTIME) -fuzzminimizetime 100x ./aip/ || exit 1; done
	cd services/order && for target in FuzzAllocate FuzzPricedLines; do \
		go test -run '^$$' -fuzz "^$$target\$$" -fuzztime $(FUZZTIME) -fuzzminimizetime 100x ./internal/order/ || exit 1; done
	cd gateway && for target in FuzzRESTCreateOrder FuzzRESTCheckAvailability; do \
		go test -run '^$$' -fuzz "^$$target\$$" -fuzztime $(FUZZTIME) -fuzzminimizetime 100x ./internal/app/ || exit 1; done
	$(MAKE) fuzz-events FUZZTIME=$(FUZZTIME)

.PHONY: fuzz-events
fuzz-events: ## Issue #14's event and adapter fuzz targets: the payload decoding of the fulfillment, ops and notify consumers, and the order, inventory and fulfillment clients of the ERP and WMS against hostile answers; FUZZTIME each (make fuzz-short: 10s, make chaos: 2m).
	cd services/fulfillment && go test -run '^$$' -fuzz '^FuzzOrderEventDecoding$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 100x ./internal/orderevents/
	cd services/fulfillment && go test -run '^$$' -fuzz '^FuzzWMSAnswers$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 100x ./internal/wmsclient/
	cd services/ops && go test -run '^$$' -fuzz '^FuzzOpsEventDecoding$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 100x ./internal/deskevents/
	cd services/notify && go test -run '^$$' -fuzz '^FuzzNotifyEventDecoding$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 100x ./internal/eventsin/
	cd services/order && go test -run '^$$' -fuzz '^FuzzERPAnswers$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 100x ./internal/erpclient/
	cd services/inventory && go test -run '^$$' -fuzz '^FuzzStockFeedAnswers$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 100x ./internal/erpclient/

.PHONY: test
test: tools protodeps test-servers check-generate lint breaking build observability-check manifests-check openapi-check go-test e2e-scale-short fuzz-short ## Everything that proves it works (what CI runs).

# check-outside-module runs the gates of a module kept outside go.work
# (its dependencies must not join the services' build list): tidy, vet,
# golangci-lint and its tests.
define check-outside-module
	cd $(1) && GOWORK=off go mod tidy -diff && GOWORK=off go vet ./... && \
		GOWORK=off $(GOLANGCI_LINT) run --config $(CURDIR)/.golangci.yml ./... && GOWORK=off go test $(GO_TEST_FLAGS) ./...
endef

.PHONY: observability-check
observability-check: $(GOLANGCI_LINT) ## Alert rules and dashboard queries through Prometheus's own parsers (deploy/observability, a module outside go.work so prometheus/prometheus stays out of the services' build list).
	$(call check-outside-module,deploy/observability)

.PHONY: manifests-check
manifests-check: $(GOLANGCI_LINT) ## Dockerfile, deploy/compose and the rendered Kubernetes overlays against the binaries' source (deploy/manifests, a module outside go.work so kustomize and k8s.io stay out of the services' build list).
	$(call check-outside-module,deploy/manifests)

.PHONY: openapi-check
openapi-check: $(GOLANGCI_LINT) ## tools/openapi (outside go.work): tidy, vet, golangci-lint, and its tests of the published OpenAPI documents.
	$(call check-outside-module,tools/openapi)

.PHONY: build
build: ## Build every package, and every binary (cmd/*) into bin/.
	@mkdir -p $(BIN)
	for m in $(GO_MODULES); do (cd $$m && go build ./... && \
		if [ -d cmd ]; then go build -o $(BIN)/ ./cmd/...; fi) || exit 1; done

.PHONY: run
run: build ## Build and start the whole mesh locally on embedded defaults (Ctrl-C stops it).
	$(BIN)/transload-run -bin $(BIN) -data $(CURDIR)/.data

.PHONY: run-scale
run-scale: build ## Scale topology (issue #13): a local PostgreSQL cluster (initdb into .data/scale/postgres, one database per service), a three-node NATS JetStream cluster (streams with 3 replicas), two replicas of catalog-pricing, inventory, order, fulfillment and the gateway (REST on :8080 and :8081).
	$(BIN)/transload-run -bin $(BIN) -data $(CURDIR)/.data/scale -scale

.PHONY: chaos
chaos: ## Reliability runs too long for make test: 20 consecutive mesh starts on free ports (TRANSLOAD_MESH_STARTS), each must succeed; webhooks with the issue's 20 s receiver outage and a 100-order burst across a notify SIGKILL, and a 100-order burst across an order replica SIGKILL on the scale topology; issue #9's posting scenarios with 50 shipped orders (TRANSLOAD_E2E_POSTING_ORDERS); the scale topology with 300 concurrent orders on 10 units (TRANSLOAD_SCALE_ORDERS), an order-inventory partition that loses inventory's answers, whose reservations the order reaper must release (TRANSLOAD_SCALE_LOST_ANSWERS), a 300-order burst across an order replica and NATS node SIGKILL (TRANSLOAD_SCALE_BURST) and a PostgreSQL restart that must answer 503 UNAVAILABLE, not 500 (TRANSLOAD_SCALE_STRICT_UNAVAILABLE); the whole e2e storefront suite on the scale topology (TRANSLOAD_E2E_SCALE=1); inventory's reservation model test with 200 rapid checks (INVENTORY_MODEL_CHECKS) and its linearizability check with 200 operations per client (LINEARIZABILITY_OPS).
	cd deploy/local && TRANSLOAD_MESH_STARTS=20 go test -count=1 -timeout 30m -run '^TestMeshStartsRepeatedly$$' -v ./launcher
	cd deploy/local && TRANSLOAD_SCALE_ORDERS=300 TRANSLOAD_SCALE_LOST_ANSWERS=1 TRANSLOAD_SCALE_BURST=300 TRANSLOAD_SCALE_STRICT_UNAVAILABLE=1 go test -count=1 -timeout 20m -run '^TestScaleTopology$$' -v ./launcher
	cd e2e && TRANSLOAD_WEBHOOK_OUTAGE=20s TRANSLOAD_WEBHOOK_BURST=100 go test -count=1 -timeout 20m -v ./webhooks
	cd e2e && TRANSLOAD_E2E_SCALE=1 TRANSLOAD_WEBHOOK_BURST=100 go test -count=1 -timeout 20m -run '^TestOrderReplicaKilledMidBurst$$' -v ./webhooks
	cd e2e && TRANSLOAD_E2E_POSTING_ORDERS=50 go test -count=1 -timeout 20m -run '^TestPosting' -v ./storefront
	cd e2e && TRANSLOAD_E2E_SCALE=1 go test -count=1 -timeout 30m -v ./storefront
	cd services/inventory && INVENTORY_MODEL_CHECKS=200 go test -count=1 -timeout 15m -run '^TestReservationModel$$' ./internal/store/sqlstore
	cd services/inventory && LINEARIZABILITY_OPS=200 go test -count=1 -timeout 15m -run '^TestReserveReleaseLinearizable$$' ./cmd/inventory
	$(MAKE) fuzz-events FUZZTIME=2m

.PHONY: bench
bench: build test-servers ## Benchmarks and load harness (not part of make test): writes docs/benchmarks.md; BENCH_FLAGS="-profile build/profiles" adds CPU profiles.
	@mkdir -p build
	cd platform && go test -run '^$$' -bench 'BenchmarkUnaryChain|BenchmarkCacheGetHit|BenchmarkOutbox' \
		-benchtime 2s -count 3 ./grpcserver ./cache ./outbox | tee $(CURDIR)/build/platform-bench.txt
	$(BIN)/transload-bench -bin $(BIN) -out docs/benchmarks.md -gobench build/platform-bench.txt $(BENCH_FLAGS)

.PHONY: bench-postgres
bench-postgres: build test-servers ## The mesh on PostgreSQL (not part of make test): raw order tx on the same cluster, availability and order placement at c=16/64; writes docs/benchmarks-postgres.md.
	$(BIN)/transload-bench -postgres -bin $(BIN) -out docs/benchmarks-postgres.md $(BENCH_FLAGS)

.PHONY: bench-postgres-scale
bench-postgres-scale: build test-servers ## bench-postgres on the scale topology (three NATS nodes, two replicas of each replicated service; not part of make test): writes docs/benchmarks-postgres-scale.md.
	$(BIN)/transload-bench -scale -bin $(BIN) -out docs/benchmarks-postgres-scale.md $(BENCH_FLAGS)

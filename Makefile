# Transload — run `make help` for the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help

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
BASELINE   := proto/baseline.binpb
TMP_GEN    := $(CURDIR)/build/check-generate
GO_TEST_FLAGS ?= -race -shuffle=on -count=1 -timeout=15m

.PHONY: help
help: ## List the targets.
	@awk 'BEGIN{FS=":.*## "} /^[a-zA-Z_-]+:.*## /{printf "  %-16s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

.PHONY: tools
tools: $(BIN)/.stamp ## Build the pinned tools (tools/go.mod) into bin/.
$(BIN)/.stamp: tools/go.mod tools/go.sum
	cd tools && GOWORK=off go build -o $(BIN)/ \
		github.com/bufbuild/buf/cmd/buf \
		github.com/googleapis/api-linter/v2/cmd/api-linter \
		github.com/grpc-ecosystem/grpc-gateway/v2/protoc-gen-grpc-gateway \
		github.com/grpc-ecosystem/grpc-gateway/v2/protoc-gen-openapiv2 \
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
generate: tools protodeps ## Clean and regenerate gen/ (Go, gRPC, grpc-gateway, OpenAPI) from proto/.
	rm -rf gen/transload gen/openapi
	$(BUF) generate
	$(BUF) generate --template buf.gen.openapi.yaml

.PHONY: check-generate
check-generate: tools protodeps ## Regenerate into a scratch folder and fail on any difference with gen/.
	rm -rf $(TMP_GEN) && mkdir -p $(TMP_GEN)
	$(BUF) generate -o $(TMP_GEN)
	$(BUF) generate --template buf.gen.openapi.yaml -o $(TMP_GEN)
	@diff -r $(TMP_GEN)/gen/transload gen/transload && diff -r $(TMP_GEN)/gen/openapi gen/openapi \
		|| { echo "gen/ is out of date with proto/: run 'make generate' and commit the result"; exit 1; }

.PHONY: lint
lint: tools protodeps ## buf lint (STANDARD), buf format check, api-linter (AIP), gofmt, go vet.
	$(BUF) lint proto
	$(BUF) format --diff --exit-code proto
	cd proto && $(BIN)/api-linter --config api-linter.yaml -I . -I $(PROTODEPS) \
		--output-format summary --set-exit-status $$(find transload -name '*.proto' | sort)
	@out=$$(gofmt -l $$(git ls-files '*.go' | grep -v '^gen/')); \
		if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	for m in $(GO_MODULES); do (cd $$m && go vet ./...) || exit 1; done

.PHONY: breaking
breaking: tools protodeps ## Fail if proto/ breaks the released contracts (baseline image, WIRE_JSON rules).
	$(BUF) breaking proto --against $(BASELINE)

.PHONY: baseline
baseline: tools protodeps ## Release step: move the breaking baseline to the current contracts (see README).
	$(BUF) build proto --exclude-source-info -o $(BASELINE)

.PHONY: test-servers
test-servers: ## Install redis-server and PostgreSQL for the integration tests when missing (Debian, root).
	deploy/scripts/ensure-test-servers.sh

.PHONY: go-test
go-test: ## go test (race, shuffle) of every Go module in go.work.
	for m in $(GO_MODULES); do echo "== go test $$m"; (cd $$m && go test $(GO_TEST_FLAGS) ./...) || exit 1; done

.PHONY: test
test: tools protodeps test-servers check-generate lint breaking build go-test ## Everything that proves it works (what CI runs).

.PHONY: build
build: ## Build every package, and every binary (cmd/*) into bin/.
	@mkdir -p $(BIN)
	for m in $(GO_MODULES); do (cd $$m && go build ./... && \
		if [ -d cmd ]; then go build -o $(BIN)/ ./cmd/...; fi) || exit 1; done

.PHONY: run
run: build ## Build and start the whole mesh locally on embedded defaults (Ctrl-C stops it).
	$(BIN)/transload-run -bin $(BIN) -data $(CURDIR)/.data

.PHONY: bench
bench: build test-servers ## Benchmarks and load harness (not part of make test): writes docs/benchmarks.md.
	@mkdir -p build
	cd platform && go test -run '^$$' -bench 'BenchmarkUnaryChain|BenchmarkCacheGetHit|BenchmarkOutbox' \
		-benchtime 2s -count 3 ./grpcserver ./cache ./outbox | tee $(CURDIR)/build/platform-bench.txt
	$(BIN)/transload-bench -bin $(BIN) -out docs/benchmarks.md -gobench build/platform-bench.txt

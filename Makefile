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
GO_MODULES := gen platform e2e

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

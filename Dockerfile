# syntax=docker/dockerfile:1
#
# One image with every binary `make build` builds (the cmd/ folders of the
# go.work modules); each container picks its binary with its command, e.g.
# `command: ["/usr/local/bin/order"]` (deploy/compose, deploy/kubernetes).
#
# Why one image and not one per binary: every binary shares the same
# module graph (gen, platform, the same grpc/protobuf versions), so one
# `go build` compiles the shared packages once; one image is scanned,
# signed and promoted once, and no environment can run an order service
# built from a different commit than its inventory. The binaries are
# static and stripped: 6-46 MB each, about 390 MB for all twelve (measured
# with this build line at commit a54685e); a per-binary image would save
# each container's pull only what the others add, on layers a node caches.
#
# Build:  docker build -t transload:dev .
# Check:  deploy/manifests (make manifests-check) parses this file and
#         fails when a cmd/ folder of go.work is not built below, or when
#         compose or Kubernetes names a binary that is not.
#
# gen/ is committed, so no proto tooling (buf, third-party protos) is
# needed here; tools/ (a module outside go.work) is not built.

ARG GO_VERSION=1.27.3

FROM golang:${GO_VERSION}-bookworm AS build
# The toolchain of the image, never one downloaded at build time.
ENV GOTOOLCHAIN=local \
    CGO_ENABLED=0 \
    GOFLAGS=-trimpath
WORKDIR /src
COPY . .
# Static binaries: CGO_ENABLED=0 (the SQLite driver, modernc.org/sqlite,
# is pure Go; the resolver is Go's own). The list is every cmd/ folder of
# the modules in go.work; deploy/manifests checks it stays that way.
RUN --mount=type=cache,target=/root/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    go build -ldflags="-s -w" -o /out/ \
        ./services/erpsim/cmd/erpsim \
        ./services/wmssim/cmd/wmssim \
        ./services/catalog-pricing/cmd/catalog-pricing \
        ./services/inventory/cmd/inventory \
        ./services/order/cmd/order \
        ./services/fulfillment/cmd/fulfillment \
        ./services/ops/cmd/ops \
        ./services/notify/cmd/notify \
        ./gateway/cmd/gateway \
        ./deploy/local/cmd/transload-nats \
        ./deploy/local/cmd/transload-run \
        ./e2e/cmd/transload-bench
# The working directory of the runtime image, owned by the non-root user:
# the services' default SQLite files (sqlite://<name>.db) land here unless
# DATABASE_URL points elsewhere (a mounted volume, or PostgreSQL).
RUN mkdir -p /data

# Distroless static: no shell, no package manager; CA certificates,
# tzdata and /etc/passwd with the nonroot user (uid 65532).
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/ /usr/local/bin/
COPY --from=build --chown=65532:65532 /data /data
WORKDIR /data
USER 65532:65532
# gRPC 9001-9009, admin HTTP (metrics, healthz, readyz) 9101-9109, the
# gateway's REST API 8080: the port plan of docs/configuration.md.
EXPOSE 8080 9001-9009 9101-9109
# No default binary: a container that names none runs the gateway.
CMD ["/usr/local/bin/gateway"]

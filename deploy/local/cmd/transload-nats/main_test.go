package main

import (
	"context"
	"io"
	"strings"
	"testing"
)

// TestClusterNodeNeedsRoutes: a cluster node without the routes of its
// cluster, or with routes that are not URLs, refuses to start with an
// error naming the variable instead of running as a lone node.
func TestClusterNodeNeedsRoutes(t *testing.T) {
	for _, routes := range []string{"", "::not a url::", "127.0.0.1:6222", "http://127.0.0.1:6222"} {
		env := map[string]string{
			"GRPC_ADDR":         "127.0.0.1:0",
			"NATS_STORE_DIR":    t.TempDir(),
			"NATS_CLUSTER_ADDR": "127.0.0.1:0",
			"NATS_ROUTES":       routes,
		}
		// Cancelled: a node that started anyway returns at once.
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		err := run(ctx, func(k string) string { return env[k] }, io.Discard)
		if err == nil || !strings.Contains(err.Error(), "NATS_ROUTES") {
			t.Errorf("NATS_ROUTES=%q: run = %v, want an error naming NATS_ROUTES", routes, err)
		}
	}
}

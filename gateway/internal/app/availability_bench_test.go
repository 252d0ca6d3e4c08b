package app_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	gwruntime "github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"github.com/redis/go-redis/v9"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/transload/transload/platform/testharness/redistest"
)

// BenchmarkAvailability drives REST checkout availability (hot cache) on a
// gateway using real Redis, next to the REST→gRPC→Redis anchor of `make
// bench` (a grpc-gateway mux calling a gRPC health Check that reads one
// Redis key), at concurrency 1 and 16, in one run so they can be compared
// as ratios. "availability" has the stock projection fed by NATS (the
// default); "availability-live-stock" turns it off
// (AVAILABILITY_STOCK_PROJECTION=false), so stock is read from the (fake)
// inventory on every call. The gateway is app.New's, so REST goes the way
// the binary's does (in process through the gRPC server's interceptor
// chain, grpcserver.LocalConn) with gzip for the Go client that asks for
// it. Besides ns/op each sub-benchmark reports:
//
//   - inventory-rpcs/op: CheckAvailability calls the fake inventory got;
//   - redis-cmds/op: commands Redis processed (its INFO counter);
//   - cpu-µs/op: CPU of this process (gateway, fakes, load driver) plus
//     Redis's, per call.
//
// Run: go test ./internal/app -run '^$' -bench Availability -benchtime 2s
func BenchmarkAvailability(b *testing.B) {
	rs := redistest.Start(b)
	// LOG_LEVEL=info as in the mesh, so every call pays for its access-log
	// record as the real binary does (written to io.Discard here, to a file
	// there).
	settings := []string{"REDIS_ADDR=" + rs.Addr(), "RATE_LIMIT_RPS=1000000", "RATE_LIMIT_BURST=1000000", "LOG_LEVEL=info"}
	e := projectionEnv(b, settings...)
	live := newEnv(b, append(settings, "AVAILABILITY_STOCK_PROJECTION=false")...)
	anchorURL := startAnchor(b, rs.Addr())
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64, MaxConnsPerHost: 64}}
	b.Cleanup(client.CloseIdleConnections)

	const availBody = `{"customerId":"C0001","currencyCode":"EUR","shipTo":{"regionCode":"DE"},"lines":[{"sku":"SKU-00001","quantity":1},{"sku":"SKU-00002","quantity":1},{"sku":"SKU-00500","quantity":1}]}`
	availOn := func(e *env) func() error {
		return func() error {
			req, err := http.NewRequest(http.MethodPost, e.baseURL+"/v1/availability:check", strings.NewReader(availBody))
			if err != nil {
				return err
			}
			req.Header.Set("Authorization", "Bearer "+keyC0001)
			req.Header.Set("Content-Type", "application/json")
			return doDiscard(client, req)
		}
	}
	avail, availLive := availOn(e), availOn(live)
	anchor := func() error {
		req, err := http.NewRequest(http.MethodGet, anchorURL, nil)
		if err != nil {
			return err
		}
		return doDiscard(client, req)
	}
	// Warm: prices cached, stock in the projection.
	for range 3 {
		if err := availLive(); err != nil {
			b.Fatal(err)
		}
	}
	warmProjection(b, e, keyC0001, availabilityRequest(line("SKU-00001", 1), line("SKU-00002", 1), line("SKU-00500", 1)))
	for _, c := range []int{1, 16} {
		for _, tc := range []struct {
			name string
			call func() error
		}{{"anchor", anchor}, {"availability", avail}, {"availability-live-stock", availLive}} {
			b.Run(fmt.Sprintf("%s/c=%d", tc.name, c), func(b *testing.B) {
				inv0 := e.inventory.calls.Load() + live.inventory.calls.Load()
				cmds0, rcpu0 := redisStats(b, rs.Addr())
				cpu0 := processCPU()
				b.ResetTimer()
				if c == 1 {
					for b.Loop() {
						if err := tc.call(); err != nil {
							b.Fatal(err)
						}
					}
				} else {
					b.SetParallelism(max(1, c/runtime.GOMAXPROCS(0)))
					b.RunParallel(func(pb *testing.PB) {
						for pb.Next() {
							if err := tc.call(); err != nil {
								b.Error(err)
								return
							}
						}
					})
				}
				b.StopTimer()
				cmds1, rcpu1 := redisStats(b, rs.Addr())
				n := float64(b.N)
				b.ReportMetric(float64(e.inventory.calls.Load()+live.inventory.calls.Load()-inv0)/n, "inventory-rpcs/op")
				b.ReportMetric(float64(cmds1-cmds0-1)/n, "redis-cmds/op") // -1: the INFO of the first redisStats
				b.ReportMetric(((processCPU()-cpu0)+(rcpu1-rcpu0)).Seconds()*1e6/n, "cpu-µs/op")
			})
		}
	}
}

func doDiscard(c *http.Client, req *http.Request) error {
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: status %d", req.URL.Path, resp.StatusCode)
	}
	return nil
}

// processCPU is this process's user+system CPU time.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// redisStats reads Redis's processed-command counter and its CPU time with
// one INFO command over a raw connection.
func redisStats(b *testing.B, addr string) (int64, time.Duration) {
	b.Helper()
	conn, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := io.WriteString(conn, "INFO\r\n"); err != nil {
		b.Fatal(err)
	}
	r := bufio.NewReader(conn)
	head, err := r.ReadString('\n')
	if err != nil || !strings.HasPrefix(head, "$") {
		b.Fatalf("INFO reply %q: %v", head, err)
	}
	size, _ := strconv.Atoi(strings.TrimSpace(head[1:]))
	body := make([]byte, size)
	if _, err := io.ReadFull(r, body); err != nil {
		b.Fatal(err)
	}
	var cmds int64
	var cpu float64
	for _, l := range strings.Split(string(body), "\r\n") {
		k, v, _ := strings.Cut(l, ":")
		switch k {
		case "total_commands_processed":
			cmds, _ = strconv.ParseInt(v, 10, 64)
		case "used_cpu_sys", "used_cpu_user":
			f, _ := strconv.ParseFloat(v, 64)
			cpu += f
		}
	}
	return cmds, time.Duration(cpu * float64(time.Second))
}

// startAnchor serves GET / through a grpc-gateway mux calling a gRPC health
// Check over loopback that reads one Redis key with go-redis: the
// REST→gRPC→Redis anchor of e2e/cmd/transload-bench.
func startAnchor(b *testing.B, redisAddr string) string {
	b.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	srv := grpc.NewServer()
	rdb := redis.NewClient(&redis.Options{Addr: redisAddr})
	b.Cleanup(func() { _ = rdb.Close() })
	if err := rdb.Set(context.Background(), "bench:echo", "x", 0).Err(); err != nil {
		b.Fatal(err)
	}
	healthpb.RegisterHealthServer(srv, &anchorHealth{Server: health.NewServer(), rdb: rdb})
	go func() { _ = srv.Serve(lis) }()
	b.Cleanup(srv.Stop)
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = conn.Close() })
	hc := healthpb.NewHealthClient(conn)
	mux := gwruntime.NewServeMux()
	if err := mux.HandlePath(http.MethodGet, "/", func(w http.ResponseWriter, r *http.Request, _ map[string]string) {
		ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
		defer cancel()
		resp, err := hc.Check(ctx, &healthpb.HealthCheckRequest{Service: "redis"})
		if err != nil {
			gwruntime.HTTPError(ctx, mux, &gwruntime.JSONPb{}, w, r, err)
			return
		}
		gwruntime.ForwardResponseMessage(ctx, mux, &gwruntime.JSONPb{}, w, r, resp)
	}); err != nil {
		b.Fatal(err)
	}
	hl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = hs.Serve(hl) }()
	b.Cleanup(func() { _ = hs.Close() })
	return "http://" + hl.Addr().String() + "/"
}

// anchorHealth answers Check after one Redis GET.
type anchorHealth struct {
	*health.Server
	rdb *redis.Client
}

func (a *anchorHealth) Check(ctx context.Context, _ *healthpb.HealthCheckRequest) (*healthpb.HealthCheckResponse, error) {
	if err := a.rdb.Get(ctx, "bench:echo").Err(); err != nil {
		return nil, err
	}
	return &healthpb.HealthCheckResponse{Status: healthpb.HealthCheckResponse_SERVING}, nil
}

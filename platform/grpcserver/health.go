package grpcserver

import (
	"context"
	"maps"
	"sync"

	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
)

// Health implements grpc.health.v1.Health with a status per service.
//
// It differs from google.golang.org/grpc/health in one way that matters for
// graceful shutdown: once Shutdown is called, every Watch stream receives
// NOT_SERVING and then ends. grpc.Server.GracefulStop waits for every open
// stream, so watch streams that never end would hold shutdown for its whole
// timeout and cut off the real in-flight calls with it.
type Health struct {
	healthpb.UnimplementedHealthServer

	mu       sync.Mutex
	shutdown bool
	statuses map[string]healthpb.HealthCheckResponse_ServingStatus
	watchers map[string]map[chan healthpb.HealthCheckResponse_ServingStatus]struct{}
}

var _ healthpb.HealthServer = (*Health)(nil)

// NewHealth returns a Health reporting the overall server ("") as SERVING.
func NewHealth() *Health {
	return &Health{
		statuses: map[string]healthpb.HealthCheckResponse_ServingStatus{"": healthpb.HealthCheckResponse_SERVING},
		watchers: map[string]map[chan healthpb.HealthCheckResponse_ServingStatus]struct{}{},
	}
}

// SetServingStatus sets the status of service ("" is the whole server).
// After Shutdown it does nothing: a draining server stays NOT_SERVING.
func (h *Health) SetServingStatus(service string, st healthpb.HealthCheckResponse_ServingStatus) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.shutdown {
		return
	}
	h.setLocked(service, st)
}

func (h *Health) setLocked(service string, st healthpb.HealthCheckResponse_ServingStatus) {
	h.statuses[service] = st
	for ch := range h.watchers[service] {
		// Keep only the latest status for slow watchers.
		select {
		case <-ch:
		default:
		}
		ch <- st
	}
}

// Shutdown marks every service NOT_SERVING, ignores later status changes
// and ends all Watch streams after they have been told.
func (h *Health) Shutdown() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.shutdown = true
	for service := range h.statuses {
		h.setLocked(service, healthpb.HealthCheckResponse_NOT_SERVING)
	}
}

// final reports whether Shutdown was called and, if so, the status a
// watcher of service must be left with.
func (h *Health) final(service string) (bool, healthpb.HealthCheckResponse_ServingStatus) {
	h.mu.Lock()
	defer h.mu.Unlock()
	st, ok := h.statuses[service]
	if !ok {
		st = healthpb.HealthCheckResponse_SERVICE_UNKNOWN
	}
	return h.shutdown, st
}

// Check returns the status of the requested service, NotFound if unknown.
func (h *Health) Check(_ context.Context, req *healthpb.HealthCheckRequest) (*healthpb.HealthCheckResponse, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	st, ok := h.statuses[req.GetService()]
	if !ok {
		return nil, status.Error(codes.NotFound, "unknown service")
	}
	return &healthpb.HealthCheckResponse{Status: st}, nil
}

// List returns the status of every known service.
func (h *Health) List(context.Context, *healthpb.HealthListRequest) (*healthpb.HealthListResponse, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make(map[string]*healthpb.HealthCheckResponse, len(h.statuses))
	for name, st := range maps.All(h.statuses) {
		out[name] = &healthpb.HealthCheckResponse{Status: st}
	}
	return &healthpb.HealthListResponse{Statuses: out}, nil
}

// Watch streams the status of a service: the current one, then each
// change. After Shutdown it sends NOT_SERVING and returns.
func (h *Health) Watch(req *healthpb.HealthCheckRequest, stream healthpb.Health_WatchServer) error {
	service := req.GetService()
	ch := make(chan healthpb.HealthCheckResponse_ServingStatus, 1)
	h.mu.Lock()
	if st, ok := h.statuses[service]; ok {
		ch <- st
	} else {
		ch <- healthpb.HealthCheckResponse_SERVICE_UNKNOWN
	}
	if h.watchers[service] == nil {
		h.watchers[service] = map[chan healthpb.HealthCheckResponse_ServingStatus]struct{}{}
	}
	h.watchers[service][ch] = struct{}{}
	h.mu.Unlock()
	defer func() {
		h.mu.Lock()
		delete(h.watchers[service], ch)
		if len(h.watchers[service]) == 0 {
			delete(h.watchers, service)
		}
		h.mu.Unlock()
	}()

	last := healthpb.HealthCheckResponse_ServingStatus(-1)
	for {
		select {
		case st := <-ch:
			if st != last {
				if err := stream.Send(&healthpb.HealthCheckResponse{Status: st}); err != nil {
					return status.Error(codes.Canceled, "stream has ended")
				}
				last = st
			}
			if shutdown, final := h.final(service); shutdown {
				if final != last {
					if err := stream.Send(&healthpb.HealthCheckResponse{Status: final}); err != nil {
						return status.Error(codes.Canceled, "stream has ended")
					}
				}
				return nil
			}
		case <-stream.Context().Done():
			return status.Error(codes.Canceled, "stream has ended")
		}
	}
}

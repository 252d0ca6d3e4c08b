package grpcclient

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"google.golang.org/grpc"
	"google.golang.org/grpc/balancer"
	"google.golang.org/grpc/balancer/base"
	"google.golang.org/grpc/serviceconfig"

	"github.com/transload/transload/platform/apierr"
	"github.com/transload/transload/platform/breaker"
)

// replicaPolicy is the load-balancing policy Dial installs on connections
// with a breaker: round robin over the target's READY addresses, each
// behind a breaker of its own, skipping an address whose breaker is open.
// When every READY address's breaker refuses, the pick fails at once with
// CIRCUIT_OPEN named after the dependency.
const replicaPolicy = "transload_replica_breakers"

func init() { balancer.Register(replicaBuilder{}) }

// replicaSets hands a Dial's replicaSet to the balancer through the
// service config's {"set": id}: grpc.NewClient parses the default service
// config once, and the parsed config then holds the set itself, so Dial
// forgets the id when NewClient returns.
var (
	replicaSets sync.Map // uint64 -> *replicaSet
	nextSetID   atomic.Uint64
)

// replicaSet is one connection's per-address breakers.
type replicaSet struct {
	dependency string
	settings   breaker.Settings // IsFailure set
	logger     *slog.Logger

	mu       sync.Mutex
	breakers map[string]*breaker.Breaker // by address, while it is resolved
	ready    []string                    // the READY addresses of the latest picker
}

func newReplicaSet(dependency string, s breaker.Settings, logger *slog.Logger) *replicaSet {
	return &replicaSet{dependency: dependency, settings: s, logger: logger, breakers: map[string]*breaker.Breaker{}}
}

// breakerFor returns addr's breaker, creating it closed.
func (s *replicaSet) breakerFor(addr string) *breaker.Breaker {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.breakers[addr]
	if !ok {
		b = breaker.New(s.dependency+" replica "+addr, s.settings, breaker.WithLogger(s.logger))
		s.breakers[addr] = b
	}
	return b
}

// retain forgets the breakers of addresses the resolver no longer lists
// (a replica replaced by one at another address).
func (s *replicaSet) retain(addrs []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for a := range s.breakers {
		if !slices.Contains(addrs, a) {
			delete(s.breakers, a)
		}
	}
}

func (s *replicaSet) setReady(addrs []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ready = addrs
}

// healthyBesides reports whether an address other than addr is READY and
// serving (its breaker closed, its latest counted call a success): a
// replica that still serves, so a failure on addr says nothing about the
// dependency as a whole. When every replica fails (a partition, a shared
// database down) none is serving and the dependency's breaker counts each
// failure, opening as fast as with one replica.
func (s *replicaSet) healthyBesides(addr string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, a := range s.ready {
		if b := s.breakers[a]; a != addr && b != nil && b.Serving() {
			return true
		}
	}
	return false
}

// replicaCall travels in the context of one call from the dependency's
// breaker interceptor to the picker: which address the latest attempt
// went to, whether the picker refused it because every replica's breaker
// was open, and the caller's own context (before Dial's default deadline),
// whose end is never counted against a replica.
type replicaCall struct {
	callerCtx context.Context
	stream    bool
	addr      atomic.Pointer[string]
	allOpen   atomic.Bool
}

type replicaCallKey struct{}

func (c *replicaCall) address() string {
	if p := c.addr.Load(); p != nil {
		return *p
	}
	return ""
}

// verdict tells the dependency's breaker dep how to count err, the
// outcome of the call c: a refusal because every replica's breaker is
// open is a failure of the dependency while dep is closed (so dep opens
// as the replicas did) and not counted otherwise (dep's half-open trial
// was never sent, and its slot goes to the next call); a target failure
// on one address while another replica serves is not counted; anything
// else is counted as dep's own predicate says.
func (c *replicaCall) verdict(dep *breaker.Breaker, set *replicaSet, err error) error {
	switch {
	case err == nil:
		return nil
	case c.allOpen.Load() && dep.State() == breaker.StateClosed:
		return breaker.Failure(err)
	case c.allOpen.Load():
		return breaker.NotCounted(err)
	case IsTargetFailure(err) && set.healthyBesides(c.address()):
		return breaker.NotCounted(err)
	}
	return err
}

// replicaUnary is the dependency breaker b around each unary call, which
// it counts by replicaCall.verdict.
func replicaUnary(b *breaker.Breaker, set *replicaSet) grpc.UnaryClientInterceptor {
	return func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		return b.Execute(ctx, func(ctx context.Context) error {
			call := &replicaCall{callerCtx: ctx}
			return call.verdict(b, set, invoker(context.WithValue(ctx, replicaCallKey{}, call), method, req, reply, cc, opts...))
		})
	}
}

// replicaStream is replicaUnary for opening a stream; as with
// breaker.StreamClientInterceptor, only errors while opening it count.
func replicaStream(b *breaker.Breaker, set *replicaSet) grpc.StreamClientInterceptor {
	return func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
		return breaker.Do(ctx, b, func(ctx context.Context) (grpc.ClientStream, error) {
			call := &replicaCall{callerCtx: ctx, stream: true}
			cs, err := streamer(context.WithValue(ctx, replicaCallKey{}, call), desc, cc, method, opts...)
			return cs, call.verdict(b, set, err)
		})
	}
}

// replicaConfig is the policy's parsed config: the Dial's replicaSet.
type replicaConfig struct {
	serviceconfig.LoadBalancingConfig
	set *replicaSet
}

type replicaBuilder struct{}

func (replicaBuilder) Name() string { return replicaPolicy }

// ParseConfig reads {"set": id}, an id Dial registered in replicaSets.
func (replicaBuilder) ParseConfig(js json.RawMessage) (serviceconfig.LoadBalancingConfig, error) {
	var cfg struct {
		Set uint64 `json:"set"`
	}
	if err := json.Unmarshal(js, &cfg); err != nil {
		return nil, fmt.Errorf("grpcclient: %s config: %w", replicaPolicy, err)
	}
	set, ok := replicaSets.Load(cfg.Set)
	if !ok {
		return nil, fmt.Errorf("grpcclient: %s config names unknown set %d (only grpcclient.Dial installs this policy)", replicaPolicy, cfg.Set)
	}
	return &replicaConfig{set: set.(*replicaSet)}, nil
}

// Build returns gRPC's base balancer (one SubConn per address, pickers
// over the READY ones, as round_robin) with replicaBalancer's pickers.
func (replicaBuilder) Build(cc balancer.ClientConn, opts balancer.BuildOptions) balancer.Balancer {
	rb := &replicaBalancer{}
	rb.Balancer = base.NewBalancerBuilder(replicaPolicy, rb, base.Config{}).Build(cc, opts)
	return rb
}

// replicaBalancer is the base balancer plus the replicaSet its pickers use.
type replicaBalancer struct {
	balancer.Balancer
	set atomic.Pointer[replicaSet]
}

// UpdateClientConnState takes the set from the config, forgets breakers of
// addresses no longer resolved, and gives the base balancer one address
// per endpoint when the resolver listed only endpoints (the static:///
// resolver does).
func (b *replicaBalancer) UpdateClientConnState(s balancer.ClientConnState) error {
	cfg, ok := s.BalancerConfig.(*replicaConfig)
	if !ok || cfg.set == nil {
		return fmt.Errorf("grpcclient: %s needs its config", replicaPolicy)
	}
	b.set.Store(cfg.set)
	if len(s.ResolverState.Addresses) == 0 {
		for _, e := range s.ResolverState.Endpoints {
			s.ResolverState.Addresses = append(s.ResolverState.Addresses, e.Addresses...)
		}
	}
	addrs := make([]string, 0, len(s.ResolverState.Addresses))
	for _, a := range s.ResolverState.Addresses {
		addrs = append(addrs, a.Addr)
	}
	cfg.set.retain(addrs)
	return b.Balancer.UpdateClientConnState(s)
}

// Build implements base.PickerBuilder: a picker over the READY SubConns in
// address order, starting at a random one.
func (b *replicaBalancer) Build(info base.PickerBuildInfo) balancer.Picker {
	set := b.set.Load()
	if len(info.ReadySCs) == 0 || set == nil {
		return base.NewErrPicker(balancer.ErrNoSubConnAvailable)
	}
	p := &replicaPicker{set: set}
	for sc, sci := range info.ReadySCs {
		p.replicas = append(p.replicas, replica{sc: sc, addr: sci.Address.Addr, breaker: set.breakerFor(sci.Address.Addr)})
	}
	slices.SortFunc(p.replicas, func(x, y replica) int { return strings.Compare(x.addr, y.addr) })
	ready := make([]string, len(p.replicas))
	for i, r := range p.replicas {
		ready[i] = r.addr
	}
	set.setReady(ready)
	p.next.Store(rand.Uint32())
	return p
}

type replica struct {
	sc      balancer.SubConn
	addr    string
	breaker *breaker.Breaker
}

type replicaPicker struct {
	set      *replicaSet
	replicas []replica
	next     atomic.Uint32
}

// Pick takes the next READY address round robin whose breaker lets a call
// through; when none does, the call fails at once with CIRCUIT_OPEN.
func (p *replicaPicker) Pick(info balancer.PickInfo) (balancer.PickResult, error) {
	call, _ := info.Ctx.Value(replicaCallKey{}).(*replicaCall)
	n := uint32(len(p.replicas))
	start := p.next.Add(1)
	for i := range n {
		r := p.replicas[(start+i)%n]
		done, ok := r.breaker.Allow()
		if !ok {
			continue
		}
		ctx := info.Ctx
		if call != nil {
			call.addr.Store(&r.addr)
			ctx = call.callerCtx
		}
		stream := call == nil || call.stream
		return balancer.PickResult{SubConn: r.sc, Done: func(di balancer.DoneInfo) {
			done(ctx, replicaOutcome(di, stream))
		}}, nil
	}
	if call != nil {
		call.allOpen.Store(true)
	}
	return balancer.PickResult{}, apierr.CircuitOpen(p.set.dependency)
}

// replicaOutcome is what one attempt on an address says about it. A pick
// gRPC did not use (its transport was no longer ready: no error, nothing
// sent or received) says nothing. A stream that received anything was
// served; how it ends later is the caller's to interpret, as for the
// dependency's breaker.
func replicaOutcome(di balancer.DoneInfo, stream bool) error {
	err := di.Err
	if errors.Is(err, io.EOF) {
		err = nil
	}
	switch {
	case err == nil && !di.BytesSent && !di.BytesReceived:
		return breaker.NotCounted(errPickUnused)
	case err != nil && stream && di.BytesReceived:
		return breaker.NotCounted(err)
	}
	return err
}

var errPickUnused = errors.New("grpcclient: picked address was not used")

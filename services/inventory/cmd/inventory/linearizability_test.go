package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	inventoryv1 "github.com/transload/transload/gen/transload/inventory/v1"
	"github.com/transload/transload/platform/apierr"
	"github.com/transload/transload/platform/testharness/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// linWarehouses are the fake ERP's warehouses in allocation (priority)
// order; linSKU has 4/3/3 units in them (10 in total).
var linWarehouses = [3]string{"WH-HAM", "WH-MUC", "WH-BER"}

const linSKU = "SKU-00500"

// linState is the available quantity of linSKU per warehouse, in
// linWarehouses order (a value, so porcupine compares states with ==).
type linState [3]int64

type linKind int

const (
	linReserve linKind = iota
	linRelease
	linRead
)

// linInput is one client call: reserve Qty (allow_split, PRIORITY,
// REJECT), release everything of a reservation (Alloc: what the reserve
// allocated) or read the availability.
type linInput struct {
	Kind  linKind
	Qty   int64
	Alloc linState
}

// linOutput is its answer: whether a reserve succeeded and what it
// allocated per warehouse, or the availability read.
type linOutput struct {
	OK    bool
	Alloc linState
	Avail linState
}

// linModel is the sequential specification of the reserve/release/read
// history: per warehouse an available counter. A reserve succeeds iff the
// total available covers it, and then takes greedily in priority order
// (the PRIORITY strategy with allow_split); a failed reserve changes
// nothing; a release gives back what its reserve allocated; a read sees
// exactly the counters.
func linModel(initial linState) porcupine.Model {
	return porcupine.Model{
		Init: func() any { return initial },
		Step: func(state, input, output any) (bool, any) {
			s, in, out := state.(linState), input.(linInput), output.(linOutput)
			switch in.Kind {
			case linReserve:
				var total int64
				for _, n := range s {
					total += n
				}
				if !out.OK {
					return total < in.Qty, s
				}
				if total < in.Qty {
					return false, s
				}
				left := in.Qty
				var want linState
				for i, n := range s {
					want[i] = min(n, left)
					left -= want[i]
				}
				if want != out.Alloc {
					return false, s
				}
				for i := range s {
					s[i] -= want[i]
				}
				return true, s
			case linRelease:
				for i := range s {
					s[i] += in.Alloc[i]
				}
				return out.OK, s
			case linRead:
				return out.Avail == s, s
			}
			return false, s
		},
		DescribeOperation: func(input, output any) string {
			in, out := input.(linInput), output.(linOutput)
			switch in.Kind {
			case linReserve:
				return fmt.Sprintf("reserve(%d) -> %v %v", in.Qty, out.OK, out.Alloc)
			case linRelease:
				return fmt.Sprintf("release(%v)", in.Alloc)
			case linRead:
				return fmt.Sprintf("read -> %v", out.Avail)
			}
			return fmt.Sprintf("unknown operation %v", in.Kind)
		},
	}
}

// TestReserveReleaseLinearizable records the history of concurrent
// clients reserving, releasing and reading one scarce SKU through the
// gRPC API of the real inventory app (its wiring, server and database:
// SQLite and PostgreSQL) and checks with porcupine that the history is
// linearizable against linModel. It proves that, under concurrency, every
// reserve decision is the one a single serial order of the calls would
// give: no oversell (a reserve never takes stock another open reservation
// holds), no spurious rejection (a reserve fails only when the stock
// really was short at some instant during the call), allocations in
// priority order, releases that give back exactly what was held, and
// availability reads that are never stale after a completed call.
// LINEARIZABILITY_OPS (default 20 per client; make chaos sets more)
// sizes the history.
//
// The reads found a bug in platform/sqldb's group commit (SQLite): a
// member whose fn failed answered before the batch holding the earlier
// members' writes it saw had committed, so a reserve rejected for stock an
// uncommitted reservation held could be followed by a read still showing
// that stock. The failing member now waits for that commit
// (TestGroupCommitFailureAnswersAfterWhatItSaw), and reads are checked on
// both engines.
func TestReserveReleaseLinearizable(t *testing.T) {
	perClient := 20
	if v, err := strconv.Atoi(os.Getenv("LINEARIZABILITY_OPS")); err == nil && v > 0 {
		perClient = v
	}
	t.Run("sqlite", func(t *testing.T) {
		env := testEnv(filepath.Join(t.TempDir(), "inventory.db"), nil)
		checkLinearizable(t, env, perClient, true)
	})
	t.Run("postgres", func(t *testing.T) {
		env := testEnv("", map[string]string{"DATABASE_URL": pgtest.NewDatabase(t)})
		checkLinearizable(t, env, perClient, true)
	})
}

func checkLinearizable(t *testing.T, getenv func(string) string, perClient int, checkReads bool) {
	h := startHarness(t, getenv, &fakeERP{})
	h.waitReady()
	const clients = 6
	start := time.Now()
	var (
		mu      sync.Mutex
		history []porcupine.Operation
		wg      sync.WaitGroup
		failed  = make(chan error, clients)
	)
	for c := range clients {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(c), 42))
			var held []struct {
				name  string
				alloc linState
			}
			for i := range perClient {
				var in linInput
				switch r := rng.IntN(10); {
				case r < 2:
					in.Kind = linRead
				case r < 5 && len(held) > 0:
					in.Kind = linRelease
				default:
					in.Kind, in.Qty = linReserve, 1+rng.Int64N(3)
				}
				call := int64(time.Since(start))
				var (
					out  linOutput
					name string
					err  error
				)
				switch in.Kind {
				case linReserve:
					out, name, err = linReserveCall(h, fmt.Sprintf("lin-%d-%d", c, i), in.Qty)
				case linRelease:
					j := rng.IntN(len(held))
					in.Alloc = held[j].alloc
					out, err = linReleaseCall(h, held[j].name, fmt.Sprintf("lin-rel-%d-%d", c, i))
					held = append(held[:j], held[j+1:]...)
				case linRead:
					out, err = linReadCall(h)
				}
				ret := int64(time.Since(start))
				if err != nil {
					failed <- fmt.Errorf("client %d op %d (%+v): %w", c, i, in, err)
					return
				}
				if in.Kind == linReserve && out.OK {
					held = append(held, struct {
						name  string
						alloc linState
					}{name, out.Alloc})
				}
				mu.Lock()
				history = append(history, porcupine.Operation{ClientId: c, Input: in, Call: call, Output: out, Return: ret})
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	close(failed)
	for err := range failed {
		t.Fatal(err)
	}
	reserves, rejected := 0, 0
	for _, op := range history {
		if op.Input.(linInput).Kind == linReserve {
			reserves++
			if !op.Output.(linOutput).OK {
				rejected++
			}
		}
	}
	// The history must exercise contention: both outcomes of reserve.
	if rejected == 0 || rejected == reserves {
		t.Fatalf("%d of %d reserves rejected: the history does not exercise scarce stock", rejected, reserves)
	}
	var writes []porcupine.Operation
	for _, op := range history {
		if op.Input.(linInput).Kind != linRead {
			writes = append(writes, op)
		}
	}
	model := linModel(linState{4, 3, 3})
	wres := porcupine.CheckOperationsTimeout(model, writes, time.Minute)
	res := porcupine.CheckOperationsTimeout(model, history, time.Minute)
	switch {
	case wres != porcupine.Ok:
		t.Fatalf("reserve/release history of %d operations (%d reserves, %d rejected) is not linearizable: %v",
			len(writes), reserves, rejected, wres)
	case res != porcupine.Ok && checkReads:
		t.Fatalf("history of %d operations with availability reads is not linearizable: %v (the reserve/release decisions alone are)",
			len(history), res)
	case res != porcupine.Ok:
		t.Logf("known: availability reads are not linearizable with the rejections on this engine (%v); see TestReserveReleaseLinearizable", res)
	}
	t.Logf("%d operations (%d reserves, %d rejected): writes %v, with reads %v", len(history), reserves, rejected, wres, res)
}

func linCtx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), 10*time.Second)
}

func linReserveCall(h *harness, requestID string, qty int64) (linOutput, string, error) {
	ctx, cancel := linCtx()
	defer cancel()
	res, err := h.client.ReserveStock(ctx, &inventoryv1.ReserveStockRequest{
		RequestId: requestID, ReferenceId: "ref-" + requestID, Channel: "web", AllowSplit: true,
		Lines: []*inventoryv1.ReserveStockLine{{Sku: linSKU, Quantity: qty}},
	})
	if status.Code(err) == codes.FailedPrecondition && apierr.HasReason(err, inventoryv1.ErrorReason_ERROR_REASON_INSUFFICIENT_STOCK) {
		return linOutput{}, "", nil
	}
	if err != nil {
		return linOutput{}, "", err
	}
	out := linOutput{OK: true}
	for _, l := range res.GetReservation().GetLines() {
		for _, a := range l.GetAllocations() {
			i, err := linIndex(a.GetWarehouseCode())
			if err != nil {
				return out, "", err
			}
			out.Alloc[i] += a.GetQuantity()
		}
	}
	return out, res.GetReservation().GetName(), nil
}

func linReleaseCall(h *harness, name, requestID string) (linOutput, error) {
	ctx, cancel := linCtx()
	defer cancel()
	r, err := h.client.ReleaseReservation(ctx, &inventoryv1.ReleaseReservationRequest{Name: name, RequestId: requestID, Reason: "linearizability"})
	if err != nil {
		return linOutput{}, err
	}
	if r.GetState() != inventoryv1.Reservation_STATE_RELEASED {
		return linOutput{}, fmt.Errorf("release of %s left it %v", name, r.GetState())
	}
	return linOutput{OK: true}, nil
}

func linReadCall(h *harness) (linOutput, error) {
	ctx, cancel := linCtx()
	defer cancel()
	res, err := h.client.CheckAvailability(ctx, &inventoryv1.CheckAvailabilityRequest{Skus: []string{linSKU}, Channel: "web"})
	if err != nil {
		return linOutput{}, err
	}
	out := linOutput{OK: true}
	for _, s := range res.GetSkus() {
		for _, w := range s.GetWarehouses() {
			i, err := linIndex(w.GetWarehouseCode())
			if err != nil {
				return out, err
			}
			out.Avail[i] = w.GetAvailable()
		}
	}
	return out, nil
}

func linIndex(wh string) (int, error) {
	for i, w := range linWarehouses {
		if w == wh {
			return i, nil
		}
	}
	return 0, fmt.Errorf("unexpected warehouse %s", wh)
}

// TestLinearizabilityModelRejects proves the check can fail: hand-made
// histories of the same model that no serial order explains (an oversell,
// a spurious rejection, a stale read, allocation out of priority order)
// are rejected, and a legal concurrent one is accepted.
func TestLinearizabilityModelRejects(t *testing.T) {
	op := func(client int, in linInput, out linOutput, call, ret int64) porcupine.Operation {
		return porcupine.Operation{ClientId: client, Input: in, Call: call, Output: out, Return: ret}
	}
	reserve := func(q int64) linInput { return linInput{Kind: linReserve, Qty: q} }
	took := func(a linState) linOutput { return linOutput{OK: true, Alloc: a} }
	read := linInput{Kind: linRead}
	for _, tc := range []struct {
		name    string
		history []porcupine.Operation
		want    bool
	}{
		{"oversell after a completed reserve of everything", []porcupine.Operation{
			op(0, reserve(10), took(linState{4, 3, 3}), 0, 10),
			op(1, reserve(1), took(linState{1, 0, 0}), 20, 30),
		}, false},
		{"rejection while stock was available", []porcupine.Operation{
			op(0, reserve(2), linOutput{}, 0, 10),
		}, false},
		{"stale read after a completed reserve", []porcupine.Operation{
			op(0, reserve(5), took(linState{4, 1, 0}), 0, 10),
			op(1, read, linOutput{OK: true, Avail: linState{4, 3, 3}}, 20, 30),
		}, false},
		{"allocation out of priority order", []porcupine.Operation{
			op(0, reserve(2), took(linState{0, 2, 0}), 0, 10),
		}, false},
		{"release gives back what was held", []porcupine.Operation{
			op(0, reserve(10), took(linState{4, 3, 3}), 0, 10),
			op(0, linInput{Kind: linRelease, Alloc: linState{4, 3, 3}}, linOutput{OK: true}, 20, 30),
			op(1, reserve(4), took(linState{4, 0, 0}), 40, 50),
		}, true},
		{"concurrent reserves: either order is fine", []porcupine.Operation{
			op(0, reserve(9), took(linState{4, 3, 2}), 0, 50),
			op(1, reserve(2), linOutput{}, 10, 60),
			op(2, read, linOutput{OK: true, Avail: linState{4, 3, 3}}, 5, 15),
			op(2, read, linOutput{OK: true, Avail: linState{0, 0, 1}}, 70, 80),
		}, true},
	} {
		if got := porcupine.CheckOperations(linModel(linState{4, 3, 3}), tc.history); got != tc.want {
			t.Errorf("%s: linearizable = %v, want %v", tc.name, got, tc.want)
		}
	}
}

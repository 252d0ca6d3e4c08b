package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/transload/transload/platform/sqldb"
)

// The services' own migrations, so the scratch stores have exactly the
// schema the services write (their sqlstore packages are internal to
// their modules and not importable from e2e).
const (
	inventoryMigrations = "../../../services/inventory/internal/store/sqlstore/migrations/sqlite"
	orderMigrations     = "../../../services/order/internal/store/sqlstore/migrations/sqlite"
)

// scratchStores is an inventory and an order store built with the
// services' migrations, in a consistent state: stock levels, reservations
// and orders that agree.
type scratchStores struct {
	inv, ord         *sqldb.DB
	invPath, ordPath string
}

func newScratchStores(t *testing.T) *scratchStores {
	t.Helper()
	ctx := t.Context()
	dir := t.TempDir()
	s := &scratchStores{invPath: filepath.Join(dir, "inventory.db"), ordPath: filepath.Join(dir, "order.db")}
	quiet := sqldb.WithLogger(slog.New(slog.DiscardHandler))
	var err error
	if s.inv, err = sqldb.Open(ctx, "sqlite://"+s.invPath, quiet); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.inv.Close() })
	if s.ord, err = sqldb.Open(ctx, "sqlite://"+s.ordPath, quiet); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.ord.Close() })
	if err := sqldb.Migrate(ctx, s.inv, "inventory", os.DirFS(inventoryMigrations)); err != nil {
		t.Fatal(err)
	}
	if err := sqldb.Migrate(ctx, s.ord, "orders", os.DirFS(orderMigrations)); err != nil {
		t.Fatal(err)
	}
	for _, wh := range []string{"WH-HAM", "WH-MUC"} {
		s.execInv(t, `INSERT INTO warehouses (code, display_name, priority, active, create_us, update_us) VALUES (?, ?, 1, 1, 1, 1)`, wh, wh)
	}
	// SKU-A@WH-HAM: 10 on hand; open: O1 3 (confirmed), O3 2 (held),
	// cart-1 1 (a checkout hold without an order) = 6 reserved. O2 shipped
	// 2 (committed, no longer on hand or reserved). O4 was rejected and
	// released its 4.
	s.stock(t, "SKU-A", "WH-HAM", 10, 6)
	// SKU-B: O1 1 in WH-HAM, O3 5 in WH-MUC (split).
	s.stock(t, "SKU-B", "WH-HAM", 8, 1)
	s.stock(t, "SKU-B", "WH-MUC", 8, 5)

	s.reservation(t, "R1", "O1", resConfirmed, line("SKU-A", alloc("WH-HAM", 3, 0, 0)), line("SKU-B", alloc("WH-HAM", 1, 0, 0)))
	s.order(t, "O1", "R1", 2, ol("1", "SKU-A", 3, "WH-HAM", 3), ol("2", "SKU-B", 1, "WH-HAM", 1))
	s.reservation(t, "R2", "O2", resCommitted, line("SKU-A", alloc("WH-HAM", 2, 2, 0)))
	s.order(t, "O2", "R2", 6, ol("1", "SKU-A", 2, "WH-HAM", 2))
	s.reservation(t, "R3", "O3", resHeld, line("SKU-A", alloc("WH-HAM", 2, 0, 0)), line("SKU-B", alloc("WH-MUC", 5, 0, 0)))
	s.order(t, "O3", "R3", 1, ol("1", "SKU-A", 2, "WH-HAM", 2), ol("2", "SKU-B", 5, "WH-MUC", 5))
	s.reservation(t, "R4", "O4", 3, line("SKU-A", alloc("WH-HAM", 4, 0, 4)))
	s.order(t, "O4", "R4", orderRejected, ol("1", "SKU-A", 4, "WH-HAM", 4))
	s.reservation(t, "R5", "cart-1", resHeld, line("SKU-A", alloc("WH-HAM", 1, 0, 0)))
	return s
}

func (s *scratchStores) execInv(t *testing.T, q string, args ...any) {
	t.Helper()
	if _, err := s.inv.SQL().ExecContext(t.Context(), q, args...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

func (s *scratchStores) execOrd(t *testing.T, q string, args ...any) {
	t.Helper()
	if _, err := s.ord.SQL().ExecContext(t.Context(), q, args...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

func (s *scratchStores) stock(t *testing.T, sku, wh string, onHand, reserved int64) {
	t.Helper()
	s.execInv(t, `INSERT INTO stock_levels (sku, warehouse_code, on_hand, reserved, revision, update_us) VALUES (?, ?, ?, ?, 1, 1)`,
		sku, wh, onHand, reserved)
}

type testAlloc struct {
	WH string `json:"wh"`
	Q  int64  `json:"q"`
	C  int64  `json:"c,omitempty"`
	R  int64  `json:"r,omitempty"`
}

type testLine struct {
	SKU   string      `json:"sku"`
	Req   int64       `json:"req"`
	Alloc []testAlloc `json:"alloc"`
}

func alloc(wh string, q, committed, released int64) testAlloc {
	return testAlloc{WH: wh, Q: q, C: committed, R: released}
}

func line(sku string, as ...testAlloc) testLine {
	l := testLine{SKU: sku, Alloc: as}
	for _, a := range as {
		l.Req += a.Q
	}
	return l
}

// reservation writes a reservation row in inventory's JSON line format
// (inventory.ReservationLine).
func (s *scratchStores) reservation(t *testing.T, id, ref string, state int, lines ...testLine) {
	t.Helper()
	b, err := json.Marshal(lines)
	if err != nil {
		t.Fatal(err)
	}
	s.execInv(t, `INSERT INTO reservations (id, request_id, request_hash, reference_id, channel, state, strategy, allow_split,
		backorder_policy, lines, create_us, update_us, version) VALUES (?, ?, 'h', ?, 'web', ?, 1, 1, 1, ?, 1, 1, 1)`,
		id, "req-"+id, ref, state, string(b))
}

type testOrderLine struct {
	id, sku, wh         string
	quantity, allocated int64
}

func ol(id, sku string, quantity int64, wh string, allocated int64) testOrderLine {
	return testOrderLine{id: id, sku: sku, quantity: quantity, wh: wh, allocated: allocated}
}

func (s *scratchStores) order(t *testing.T, id, reservation string, state int, lines ...testOrderLine) {
	t.Helper()
	s.execOrd(t, `INSERT INTO orders (order_id, customer_id, channel, currency, ship_to, subtotal_minor, tax_minor, total_minor,
		state, create_request_id, reservation_id, created_us, updated_us, version) VALUES (?, 'C0001', 'web', 'EUR', '{}', 0, 0, 0, ?, ?, ?, 1, 1, 1)`,
		id, state, "create-"+id, reservation)
	for i, l := range lines {
		s.execOrd(t, `INSERT INTO order_lines (order_id, line_no, line_id, sku, quantity, unit_price_minor, extended_minor) VALUES (?, ?, ?, ?, ?, 0, 0)`,
			id, i+1, l.id, l.sku, l.quantity)
		if l.allocated > 0 {
			s.execOrd(t, `INSERT INTO order_allocations (order_id, line_id, alloc_no, warehouse_id, allocated) VALUES (?, ?, 1, ?, ?)`,
				id, l.id, l.wh, l.allocated)
		}
	}
}

func (s *scratchStores) check(t *testing.T) Oversold {
	t.Helper()
	got, err := checkOversoldStores(t.Context(), "sqlite://"+s.invPath, s.ordPath)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func TestCheckOversoldStoresConsistent(t *testing.T) {
	t.Parallel()
	s := newScratchStores(t)
	got := s.check(t)
	if got.Count != 0 {
		t.Fatalf("consistent stores: %v", got)
	}
	if got.Levels != 3 || got.Orders != 3 {
		t.Fatalf("checked %d levels and %d orders, want 3 and 3 (O4 is rejected)", got.Levels, got.Orders)
	}
	if !strings.HasPrefix(got.String(), "0 oversell violations") {
		t.Errorf("String() = %q", got.String())
	}
}

// TestCheckOversoldStoresFails breaks the consistent stores in one way per
// case and wants the check to name the breakage.
func TestCheckOversoldStoresFails(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		breakIt func(t *testing.T, s *scratchStores)
		// want are the kinds and a detail substring each.
		want map[string]string
	}{
		{
			name: "over-allocation: a reservation beyond on-hand that the stock level never counted",
			breakIt: func(t *testing.T, s *scratchStores) {
				s.reservation(t, "R6", "O6", resConfirmed, line("SKU-B", alloc("WH-MUC", 20, 0, 0)))
				s.order(t, "O6", "R6", 2, ol("1", "SKU-B", 20, "WH-MUC", 20))
			},
			want: map[string]string{
				violationOverAllocated: "SKU-B@WH-MUC: reservations hold 25 open, on hand 8",
				violationCounterDrift:  "SKU-B@WH-MUC: reservations hold 25 open, the stock level counts 5 reserved",
			},
		},
		{
			name: "double allocation: a second, committed reservation for order O1",
			breakIt: func(t *testing.T, s *scratchStores) {
				s.reservation(t, "R7", "O1", resCommitted, line("SKU-A", alloc("WH-MUC", 3, 3, 0)))
				s.stock(t, "SKU-A", "WH-MUC", 5, 0)
			},
			want: map[string]string{violationDoubleAllocated: "order O1 (lines 1 SKU-A×3, 2 SKU-B×1): reservation R7 also allocates it, besides R1"},
		},
		{
			name: "double allocation: the order's reservation allocates a line twice",
			breakIt: func(t *testing.T, s *scratchStores) {
				s.execInv(t, `UPDATE reservations SET lines = ? WHERE id = 'R3'`,
					mustJSON(t, []testLine{line("SKU-A", alloc("WH-HAM", 2, 0, 0)), line("SKU-B", alloc("WH-MUC", 5, 0, 0), alloc("WH-HAM", 5, 0, 0))}))
				s.execInv(t, `UPDATE stock_levels SET reserved = reserved + 5 WHERE sku = 'SKU-B' AND warehouse_code = 'WH-HAM'`)
			},
			want: map[string]string{violationDoubleAllocated: "order O3 line 2 (SKU-B): reservation R3 keeps 5 of SKU-B@WH-HAM, the order allocated 0"},
		},
		{
			name: "double allocation: two orders share one reservation",
			breakIt: func(t *testing.T, s *scratchStores) {
				s.order(t, "O8", "R2", 6, ol("1", "SKU-A", 2, "WH-HAM", 2))
			},
			want: map[string]string{violationDoubleAllocated: "order O8 (lines 1 SKU-A×2): its reservation R2 is also the allocation of O2"},
		},
		{
			name: "unallocated: an accepted order whose reservation was released",
			breakIt: func(t *testing.T, s *scratchStores) {
				s.execInv(t, `UPDATE reservations SET state = 3, lines = ? WHERE id = 'R3'`,
					mustJSON(t, []testLine{line("SKU-A", alloc("WH-HAM", 2, 0, 2)), line("SKU-B", alloc("WH-MUC", 5, 0, 5))}))
				s.execInv(t, `UPDATE stock_levels SET reserved = reserved - 2 WHERE sku = 'SKU-A' AND warehouse_code = 'WH-HAM'`)
				s.execInv(t, `UPDATE stock_levels SET reserved = reserved - 5 WHERE sku = 'SKU-B' AND warehouse_code = 'WH-MUC'`)
			},
			want: map[string]string{violationUnallocated: "order O3 (lines 1 SKU-A×2, 2 SKU-B×5): reservation R3 is in state 3"},
		},
		{
			name: "unallocated: an accepted order line the order store never allocated",
			breakIt: func(t *testing.T, s *scratchStores) {
				s.execOrd(t, `DELETE FROM order_allocations WHERE order_id = 'O2'`)
			},
			want: map[string]string{violationUnallocated: "order O2 line 1 (SKU-A): 0 of 2 allocated in the order store"},
		},
		{
			name: "bad allocation: committed beyond its quantity",
			breakIt: func(t *testing.T, s *scratchStores) {
				s.execInv(t, `UPDATE reservations SET lines = ? WHERE id = 'R2'`, mustJSON(t, []testLine{line("SKU-A", alloc("WH-HAM", 2, 3, 0))}))
			},
			want: map[string]string{violationBadAllocation: "reservation R2 allocates 2 of SKU-A@WH-HAM, committed 3"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := newScratchStores(t)
			tt.breakIt(t, s)
			got := s.check(t)
			if got.Count == 0 {
				t.Fatalf("the check passed a broken store: %v", got)
			}
			for kind, detail := range tt.want {
				if got.ByKind[kind] == 0 {
					t.Errorf("no %q violation in %v", kind, got)
				}
				if !containsDetail(got.Details, kind+": "+detail) {
					t.Errorf("no detail %q in\n%s", kind+": "+detail, strings.Join(got.Details, "\n"))
				}
			}
			if got.Count != len(got.Details) {
				t.Errorf("Count %d, %d details", got.Count, len(got.Details))
			}
		})
	}
}

// TestCheckOversoldStoresBoth is the brief's case: one over-allocation and
// one double allocation in the same stores, each named.
func TestCheckOversoldStoresBoth(t *testing.T) {
	t.Parallel()
	s := newScratchStores(t)
	s.reservation(t, "R6", "O6", resConfirmed, line("SKU-B", alloc("WH-MUC", 20, 0, 0)))
	s.order(t, "O6", "R6", 2, ol("1", "SKU-B", 20, "WH-MUC", 20))
	s.reservation(t, "R7", "O1", resCommitted, line("SKU-A", alloc("WH-HAM", 3, 3, 0)))
	got := s.check(t)
	for _, want := range []string{
		violationOverAllocated + ": SKU-B@WH-MUC",
		violationDoubleAllocated + ": order O1 (lines 1 SKU-A×3, 2 SKU-B×1): reservation R7 also allocates it",
	} {
		if !containsDetail(got.Details, want) {
			t.Errorf("no detail %q in %v", want, got)
		}
	}
	if !strings.Contains(got.String(), "SKU-B@WH-MUC") {
		t.Errorf("String() does not name the over-allocated level: %q", got.String())
	}
}

// TestCheckOversoldStoresLossIsNotOversell: stock lost under existing
// reservations (inventory's oversold column) leaves reservations short of
// on-hand without Transload having sold too much; it is listed, not
// counted, and an extra allocation on top of it still is.
func TestCheckOversoldStoresLossIsNotOversell(t *testing.T) {
	t.Parallel()
	s := newScratchStores(t)
	// 3 of WH-MUC's 8 SKU-B damaged while 5 were reserved: on hand 5,
	// all reserved, nothing lost beyond.
	s.execInv(t, `UPDATE stock_levels SET on_hand = 5, reserved = 5 WHERE sku = 'SKU-B' AND warehouse_code = 'WH-MUC'`)
	if got := s.check(t); got.Count != 0 || len(got.LossShortfalls) != 0 {
		t.Fatalf("loss within unreserved stock: %v", got)
	}
	// 2 more damaged: on hand 3, reserved 3, 2 recorded as oversold.
	s.execInv(t, `UPDATE stock_levels SET on_hand = 3, reserved = 3, oversold = 2 WHERE sku = 'SKU-B' AND warehouse_code = 'WH-MUC'`)
	got := s.check(t)
	if got.Count != 0 || len(got.LossShortfalls) != 1 || !strings.Contains(got.LossShortfalls[0], "SKU-B@WH-MUC") {
		t.Fatalf("loss under reservations: %v, shortfalls %q", got, got.LossShortfalls)
	}
	// One more unit allocated on top: that one is oversold.
	s.reservation(t, "R9", "cart-9", resHeld, line("SKU-B", alloc("WH-MUC", 1, 0, 0)))
	got = s.check(t)
	if got.ByKind[violationOverAllocated] != 1 || !containsDetail(got.Details, violationOverAllocated+": SKU-B@WH-MUC: reservations hold 6 open, on hand 3 (short 3, of which 2 recorded as lost)") {
		t.Fatalf("allocation beyond loss: %v", got)
	}
}

func TestCheckOversoldStoresErrors(t *testing.T) {
	t.Parallel()
	s := newScratchStores(t)
	missing := filepath.Join(t.TempDir(), "nope.db")
	if _, err := checkOversoldStores(t.Context(), s.invPath, missing); err == nil {
		t.Error("a missing order store is no error")
	}
	if _, err := os.Stat(missing); err == nil {
		t.Error("the check created the missing store")
	}
	// The stores swapped: the order store has no stock_levels table.
	if _, err := checkOversoldStores(t.Context(), s.ordPath, s.ordPath); err == nil {
		t.Error("an order store read as inventory is no error")
	}
	if _, err := checkOversoldStores(t.Context(), "postgres://x/y", s.ordPath); err == nil {
		t.Error("a PostgreSQL DSN is no error")
	}
}

// TestCheckOversoldStoresReadOnly: the check never writes the stores it
// reads (they belong to running services).
func TestCheckOversoldStoresReadOnly(t *testing.T) {
	t.Parallel()
	s := newScratchStores(t)
	db, err := openReadOnly("sqlite://" + s.invPath)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.ExecContext(context.Background(), `DELETE FROM stock_levels`); err == nil {
		t.Fatal("a write through the check's connection succeeded")
	}
}

func containsDetail(details []string, want string) bool {
	for _, d := range details {
		if strings.HasPrefix(d, want) {
			return true
		}
	}
	return false
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(fmt.Errorf("marshal: %w", err))
	}
	return string(b)
}

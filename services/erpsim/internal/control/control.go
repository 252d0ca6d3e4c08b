// Package control is erpsim's control API, served on the admin HTTP
// listener next to /metrics, /healthz and /readyz, so tests and demos can
// flip the simulated ERP's faults, inspect the sales orders it received and
// make its stock move:
//
//	GET    /control/faults        current faults
//	POST   /control/faults        change faults (omitted fields keep their value)
//	DELETE /control/faults        clear every fault
//	GET    /control/sales-orders  sales orders with their submission counts
//	GET    /control/journal       posted journal lines with their totals
//	POST   /control/stock-events  record a stock movement (appears in ListStockEvents)
//	POST   /control/prices        change list prices and customer contracts (appear in ListPriceEvents; prices.go)
package control

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"time"

	"github.com/transload/transload/services/erpsim/internal/erp"
	"github.com/transload/transload/services/erpsim/internal/faults"
)

// ERP is what the control API reads and changes in the simulated ERP.
type ERP interface {
	SalesOrders(ctx context.Context) ([]erp.SalesOrder, error)
	RecordStockEvent(ctx context.Context, ev erp.StockEvent) (erp.StockEvent, error)
	RecordPriceChanges(ctx context.Context, ch erp.PriceChanges) ([]erp.PriceEvent, error)
}

// Handler serves the control API.
type Handler struct {
	faults *faults.Faults
	erp    ERP
	logger *slog.Logger
	mux    *http.ServeMux
}

// maxBody bounds request bodies; control requests are tiny.
const maxBody = 64 << 10

// New returns the control API over f and e.
func New(f *faults.Faults, e ERP, logger *slog.Logger) *Handler {
	h := &Handler{faults: f, erp: e, logger: logger, mux: http.NewServeMux()}
	h.mux.HandleFunc("GET /control/faults", h.getFaults)
	h.mux.HandleFunc("POST /control/faults", h.postFaults)
	h.mux.HandleFunc("DELETE /control/faults", h.deleteFaults)
	h.mux.HandleFunc("GET /control/sales-orders", h.getSalesOrders)
	h.mux.HandleFunc("GET /control/journal", h.getJournal)
	h.mux.HandleFunc("POST /control/stock-events", h.postStockEvent)
	h.mux.HandleFunc("POST /control/prices", h.postPrices)
	return h
}

// ServeHTTP dispatches to the control routes.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.mux.ServeHTTP(w, r) }

// Faults is the JSON shape of the fault state.
type Faults struct {
	Down         bool   `json:"down"`
	SlowMS       int64  `json:"slowMs"`
	RejectNext   int    `json:"rejectNext"`
	RejectReason string `json:"rejectReason"`
	// RejectCustomers: every new sales order of these customers is
	// rejected with rejectReason while they are listed.
	RejectCustomers []string `json:"rejectCustomers,omitempty"`
	LoseAnswers     int      `json:"loseAnswers,omitempty"`
	// Posting faults (journal.go).
	PostRejectCustomers []string `json:"postRejectCustomers,omitempty"`
	PostRejectAccounts  []string `json:"postRejectAccounts,omitempty"`
	PostRejectNext      int      `json:"postRejectNext,omitempty"`
}

// FaultsPatch is the body of POST /control/faults; omitted fields keep
// their current value.
type FaultsPatch struct {
	Down         *bool   `json:"down"`
	SlowMS       *int64  `json:"slowMs"`
	RejectNext   *int    `json:"rejectNext"`
	RejectReason *string `json:"rejectReason"`
	// RejectCustomers replaces the customers whose new sales orders are
	// all rejected ([] clears).
	RejectCustomers *[]string `json:"rejectCustomers"`
	LoseAnswers     *int      `json:"loseAnswers"`
	// Posting faults: journal lines of these customers or GL accounts are
	// rejected ([] clears), and the next postRejectNext lines that would be
	// posted.
	PostRejectCustomers *[]string `json:"postRejectCustomers"`
	PostRejectAccounts  *[]string `json:"postRejectAccounts"`
	PostRejectNext      *int      `json:"postRejectNext"`
}

func faultsJSON(st faults.State) Faults {
	return Faults{Down: st.Down, SlowMS: st.Slow.Milliseconds(), RejectNext: st.RejectNext, RejectReason: st.RejectReason.String(),
		RejectCustomers: st.RejectCustomers,
		LoseAnswers:     st.LoseAnswers, PostRejectCustomers: st.PostRejectCustomers, PostRejectAccounts: st.PostRejectAccounts,
		PostRejectNext: st.PostRejectNext}
}

// Error is the JSON body of every 4xx/5xx answer.
type Error struct {
	Error string `json:"error"`
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v) // the client went away; nothing to do
}

func badRequest(w http.ResponseWriter, format string, args ...any) {
	writeJSON(w, http.StatusBadRequest, Error{Error: fmt.Sprintf(format, args...)})
}

func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		badRequest(w, "invalid JSON body: %v", err)
		return false
	}
	return true
}

func (h *Handler) getFaults(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, faultsJSON(h.faults.Get()))
}

func (h *Handler) postFaults(w http.ResponseWriter, r *http.Request) {
	var p FaultsPatch
	if !decode(w, r, &p) {
		return
	}
	st := h.faults.Get()
	if p.Down != nil {
		st.Down = *p.Down
	}
	if p.SlowMS != nil {
		if *p.SlowMS < 0 {
			badRequest(w, "slowMs must be >= 0")
			return
		}
		st.Slow = time.Duration(*p.SlowMS) * time.Millisecond
	}
	if p.RejectNext != nil {
		if *p.RejectNext < 0 {
			badRequest(w, "rejectNext must be >= 0")
			return
		}
		st.RejectNext = *p.RejectNext
	}
	if p.RejectCustomers != nil {
		st.RejectCustomers = slices.Clone(*p.RejectCustomers)
	}
	if p.LoseAnswers != nil {
		if *p.LoseAnswers < 0 {
			badRequest(w, "loseAnswers must be >= 0")
			return
		}
		st.LoseAnswers = *p.LoseAnswers
	}
	if !applyPostingPatch(w, p, &st) {
		return
	}
	if p.RejectReason != nil {
		reason, err := erp.ParseRejectionReason(*p.RejectReason)
		if err != nil {
			badRequest(w, "rejectReason: %v (use CREDIT_HOLD, CREDIT_LIMIT, UNKNOWN_CUSTOMER, UNKNOWN_SKU, PRICE_MISMATCH, BLOCKED_ITEM or OTHER)", err)
			return
		}
		st.RejectReason = reason
	}
	h.faults.Set(st)
	got := h.faults.Get()
	h.logger.InfoContext(r.Context(), "erpsim: faults changed",
		slog.Bool("down", got.Down), slog.Duration("slow", got.Slow),
		slog.Int("reject_next", got.RejectNext), slog.Any("reject_customers", got.RejectCustomers),
		slog.String("reject_reason", got.RejectReason.String()))
	writeJSON(w, http.StatusOK, faultsJSON(got))
}

func (h *Handler) deleteFaults(w http.ResponseWriter, r *http.Request) {
	h.faults.Set(faults.State{})
	h.logger.InfoContext(r.Context(), "erpsim: faults cleared")
	writeJSON(w, http.StatusOK, faultsJSON(h.faults.Get()))
}

// SalesOrder is one entry of GET /control/sales-orders.
type SalesOrder struct {
	OrderID          string    `json:"orderId"`
	ERPOrderNumber   string    `json:"erpOrderNumber"`
	Submissions      int       `json:"submissions"`
	CustomerID       string    `json:"customerId"`
	State            string    `json:"state"`
	RejectionReason  string    `json:"rejectionReason,omitempty"`
	RejectionMessage string    `json:"rejectionMessage,omitempty"`
	GrandTotalMinor  int64     `json:"grandTotalMinor"`
	Currency         string    `json:"currency"`
	CreateTime       time.Time `json:"createTime"`
}

// SalesOrders is the body of GET /control/sales-orders: count is the
// number of distinct sales orders (one per order id).
type SalesOrders struct {
	Count  int          `json:"count"`
	Orders []SalesOrder `json:"orders"`
}

func (h *Handler) getSalesOrders(w http.ResponseWriter, r *http.Request) {
	orders, err := h.erp.SalesOrders(r.Context())
	if err != nil {
		h.logger.ErrorContext(r.Context(), "erpsim: list sales orders", slog.Any("error", err))
		writeJSON(w, http.StatusInternalServerError, Error{Error: "internal error"})
		return
	}
	out := SalesOrders{Count: len(orders), Orders: make([]SalesOrder, 0, len(orders))}
	for _, o := range orders {
		so := SalesOrder{
			OrderID: o.OrderID, ERPOrderNumber: o.ERPOrderNumber, Submissions: o.Submissions,
			CustomerID: o.CustomerID, State: o.State.String(), GrandTotalMinor: o.GrandTotalMinor,
			Currency: o.Currency, CreateTime: o.CreateTime,
		}
		if o.State == erp.OrderRejected {
			so.RejectionReason, so.RejectionMessage = o.RejectionReason.String(), o.RejectionMessage
		}
		out.Orders = append(out.Orders, so)
	}
	writeJSON(w, http.StatusOK, out)
}

// StockEventRequest is the body of POST /control/stock-events.
type StockEventRequest struct {
	SKU           string `json:"sku"`
	WarehouseCode string `json:"warehouseCode"`
	// Kind is RECEIPT, ADJUSTMENT, TRANSFER_IN, TRANSFER_OUT, SHIPMENT or
	// SET_ON_HAND.
	Kind                     string `json:"kind"`
	Quantity                 int64  `json:"quantity"`
	ReasonCode               string `json:"reasonCode,omitempty"`
	Reference                string `json:"reference,omitempty"`
	CounterpartWarehouseCode string `json:"counterpartWarehouseCode,omitempty"`
}

// StockEvent is the recorded event in the answer of POST
// /control/stock-events.
type StockEvent struct {
	EventID        string    `json:"eventId"`
	SKU            string    `json:"sku"`
	WarehouseCode  string    `json:"warehouseCode"`
	Kind           string    `json:"kind"`
	Quantity       int64     `json:"quantity"`
	SourceSequence int64     `json:"sourceSequence"`
	OccurTime      time.Time `json:"occurTime"`
}

var stockKinds = map[string]erp.StockEventKind{
	"RECEIPT":      erp.StockReceipt,
	"ADJUSTMENT":   erp.StockAdjustment,
	"TRANSFER_IN":  erp.StockTransferIn,
	"TRANSFER_OUT": erp.StockTransferOut,
	"SHIPMENT":     erp.StockShipment,
	"SET_ON_HAND":  erp.StockSetOnHand,
}

func (h *Handler) postStockEvent(w http.ResponseWriter, r *http.Request) {
	var req StockEventRequest
	if !decode(w, r, &req) {
		return
	}
	kind, ok := stockKinds[req.Kind]
	if !ok {
		badRequest(w, "kind %q: use RECEIPT, ADJUSTMENT, TRANSFER_IN, TRANSFER_OUT, SHIPMENT or SET_ON_HAND", req.Kind)
		return
	}
	ev, err := h.erp.RecordStockEvent(r.Context(), erp.StockEvent{
		SKU: req.SKU, WarehouseCode: req.WarehouseCode, Kind: kind, Quantity: req.Quantity,
		ReasonCode: req.ReasonCode, Reference: req.Reference, Counterpart: req.CounterpartWarehouseCode,
	})
	if errors.Is(err, erp.ErrInvalidStockEvent) {
		badRequest(w, "%v", err)
		return
	}
	if err != nil {
		h.logger.ErrorContext(r.Context(), "erpsim: record stock event", slog.Any("error", err))
		writeJSON(w, http.StatusInternalServerError, Error{Error: "internal error"})
		return
	}
	writeJSON(w, http.StatusCreated, StockEvent{
		EventID: ev.EventID, SKU: ev.SKU, WarehouseCode: ev.WarehouseCode, Kind: req.Kind,
		Quantity: ev.Quantity, SourceSequence: ev.SourceSequence, OccurTime: ev.OccurTime,
	})
}

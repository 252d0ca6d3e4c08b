// Package control is the simulator's control API, served on the admin HTTP
// port next to /metrics, /healthz and /readyz. Tests and operators use it to
// inject faults, inspect what the WMS received and simulate return receipts.
//
//	GET  /control/faults                               current faults
//	POST /control/faults                               {"down":bool,"slowMs":int,"rejectNext":int,"duplicateNext":int,"holdReturns":bool}; omitted fields keep their value
//	GET  /control/shipment-requests                    {"count":n,"requests":[{"requestId","orderId","warehouse","state","submissions"}]}
//	POST /control/returns/{expectedReturnId}:receive   optional {"lines":[{"lineId","sku","quantity","condition","disposition","note"}]}
package control

import (
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"

	"github.com/transload/transload/services/wmssim/internal/faults"
	"github.com/transload/transload/services/wmssim/internal/wms"
)

// maxBody bounds control request bodies.
const maxBody = 1 << 20

// Handler serves the control routes, all under /control/.
type Handler struct {
	svc    *wms.Service
	faults *faults.Set
	logger *slog.Logger
	mux    *http.ServeMux
}

// New returns the control API on svc and set.
func New(svc *wms.Service, set *faults.Set, logger *slog.Logger) *Handler {
	if logger == nil {
		logger = slog.Default()
	}
	h := &Handler{svc: svc, faults: set, logger: logger, mux: http.NewServeMux()}
	h.mux.HandleFunc("GET /control/faults", h.getFaults)
	h.mux.HandleFunc("POST /control/faults", h.setFaults)
	h.mux.HandleFunc("GET /control/shipment-requests", h.listShipmentRequests)
	h.mux.HandleFunc("POST /control/returns/{action}", h.receiveReturn)
	return h
}

// ServeHTTP dispatches to the control routes; mount h on "/control/".
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.mux.ServeHTTP(w, r) }

type errorBody struct {
	Error string `json:"error"`
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v) // the client went away; nothing to do
}

func (h *Handler) getFaults(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, h.faults.Get())
}

// faultsPatch is the POST /control/faults body; nil fields are unchanged.
type faultsPatch struct {
	Down          *bool `json:"down"`
	SlowMs        *int  `json:"slowMs"`
	RejectNext    *int  `json:"rejectNext"`
	DuplicateNext *int  `json:"duplicateNext"`
	HoldReturns   *bool `json:"holdReturns"`
}

func (h *Handler) setFaults(w http.ResponseWriter, r *http.Request) {
	var p faultsPatch
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		writeJSON(w, http.StatusBadRequest, errorBody{Error: "body must be {\"down\":bool,\"slowMs\":int,\"rejectNext\":int,\"duplicateNext\":int,\"holdReturns\":bool}"})
		return
	}
	if (p.SlowMs != nil && *p.SlowMs < 0) || (p.RejectNext != nil && *p.RejectNext < 0) || (p.DuplicateNext != nil && *p.DuplicateNext < 0) {
		writeJSON(w, http.StatusBadRequest, errorBody{Error: "slowMs, rejectNext and duplicateNext must not be negative"})
		return
	}
	f := h.faults.Get()
	if p.Down != nil {
		f.Down = *p.Down
	}
	if p.SlowMs != nil {
		f.SlowMs = *p.SlowMs
	}
	if p.RejectNext != nil {
		f.RejectNext = *p.RejectNext
	}
	if p.DuplicateNext != nil {
		f.DuplicateNext = *p.DuplicateNext
	}
	if p.HoldReturns != nil {
		f.HoldReturns = *p.HoldReturns
	}
	h.faults.Replace(f)
	h.logger.InfoContext(r.Context(), "faults changed", slog.Bool("down", f.Down), slog.Int("slow_ms", f.SlowMs), slog.Int("reject_next", f.RejectNext), slog.Int("duplicate_next", f.DuplicateNext), slog.Bool("hold_returns", f.HoldReturns))
	writeJSON(w, http.StatusOK, h.faults.Get())
}

// ShipmentRequestSummary is one entry of GET /control/shipment-requests.
type ShipmentRequestSummary struct {
	RequestID   string `json:"requestId"`
	OrderID     string `json:"orderId"`
	Warehouse   string `json:"warehouse"`
	State       string `json:"state"`
	Submissions int64  `json:"submissions"`
}

// ShipmentRequestList is the body of GET /control/shipment-requests.
type ShipmentRequestList struct {
	Count    int                      `json:"count"`
	Requests []ShipmentRequestSummary `json:"requests"`
}

func (h *Handler) listShipmentRequests(w http.ResponseWriter, r *http.Request) {
	rs, err := h.svc.ListShipmentRequests(r.Context())
	if err != nil {
		h.logger.ErrorContext(r.Context(), "list shipment requests", slog.Any("error", err))
		writeJSON(w, http.StatusInternalServerError, errorBody{Error: "internal error"})
		return
	}
	out := ShipmentRequestList{Count: len(rs), Requests: make([]ShipmentRequestSummary, 0, len(rs))}
	for _, sr := range rs {
		out.Requests = append(out.Requests, ShipmentRequestSummary{
			RequestID: sr.ID, OrderID: sr.Order.OrderID, Warehouse: sr.Order.Warehouse,
			State: string(sr.State), Submissions: sr.Submissions,
		})
	}
	writeJSON(w, http.StatusOK, out)
}

// ReceiveRequest is the optional body of the receive route.
type ReceiveRequest struct {
	Lines []wms.ReceiptLine `json:"lines"`
}

func (h *Handler) receiveReturn(w http.ResponseWriter, r *http.Request) {
	id, ok := strings.CutSuffix(r.PathValue("action"), ":receive")
	if !ok || id == "" {
		writeJSON(w, http.StatusNotFound, errorBody{Error: "use POST /control/returns/{expectedReturnId}:receive"})
		return
	}
	var req ReceiveRequest
	if r.ContentLength != 0 {
		dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&req); err != nil && !errors.Is(err, io.EOF) {
			writeJSON(w, http.StatusBadRequest, errorBody{Error: "body must be {\"lines\":[{\"lineId\",\"sku\",\"quantity\",\"condition\",\"disposition\",\"note\"}]}"})
			return
		}
	}
	ev, err := h.svc.ReceiveReturn(r.Context(), id, req.Lines)
	var invalid *wms.InvalidReceiptError
	switch {
	case errors.Is(err, wms.ErrExpectedReturnNotFound):
		writeJSON(w, http.StatusNotFound, errorBody{Error: "expected return not found"})
	case errors.As(err, &invalid):
		writeJSON(w, http.StatusConflict, errorBody{Error: invalid.Error()})
	case err != nil:
		h.logger.ErrorContext(r.Context(), "receive return", slog.Any("error", err))
		writeJSON(w, http.StatusInternalServerError, errorBody{Error: "internal error"})
	default:
		writeJSON(w, http.StatusOK, ev)
	}
}

package control

import (
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/transload/transload/services/erpsim/internal/erp"
)

// PriceRow is one list price of POST /control/prices: the new price of sku
// on priceListId (in its unit; empty unit means the product's base unit).
type PriceRow struct {
	PriceListID    string `json:"priceListId"`
	SKU            string `json:"sku"`
	Unit           string `json:"unit,omitempty"`
	UnitPriceMinor int64  `json:"unitPriceMinor"`
}

// PricesRequest is the body of POST /control/prices: the list prices to
// set, applied all or nothing.
type PricesRequest struct {
	ListPrices []PriceRow `json:"listPrices"`
}

// PriceEvent is one recorded change in the answer of POST /control/prices.
type PriceEvent struct {
	EventID        string    `json:"eventId"`
	SourceSequence int64     `json:"sourceSequence"`
	PriceListID    string    `json:"priceListId"`
	SKU            string    `json:"sku"`
	Unit           string    `json:"unit"`
	UnitPriceMinor int64     `json:"unitPriceMinor"`
	Currency       string    `json:"currency"`
	OccurTime      time.Time `json:"occurTime"`
}

// PricesResponse is the answer of POST /control/prices.
type PricesResponse struct {
	PriceEvents []PriceEvent `json:"priceEvents"`
}

// postPrices changes list prices in the ERP: each row becomes a price
// event in the feed (ListPriceEvents / WatchPriceEvents) and the price
// export. 400 for an empty body, unknown price list or SKU, negative or
// duplicate rows; nothing is changed then.
func (h *Handler) postPrices(w http.ResponseWriter, r *http.Request) {
	var req PricesRequest
	if !decode(w, r, &req) {
		return
	}
	prices := make([]erp.ListPrice, 0, len(req.ListPrices))
	for _, p := range req.ListPrices {
		prices = append(prices, erp.ListPrice{PriceListID: p.PriceListID, SKU: p.SKU, UoM: p.Unit, UnitPriceMinor: p.UnitPriceMinor})
	}
	evs, err := h.erp.RecordPriceChanges(r.Context(), prices)
	if errors.Is(err, erp.ErrInvalidPriceChange) {
		badRequest(w, "%v", err)
		return
	}
	if err != nil {
		h.logger.ErrorContext(r.Context(), "erpsim: record price changes", slog.Any("error", err))
		writeJSON(w, http.StatusInternalServerError, Error{Error: "internal error"})
		return
	}
	out := PricesResponse{PriceEvents: make([]PriceEvent, 0, len(evs))}
	for _, ev := range evs {
		out.PriceEvents = append(out.PriceEvents, PriceEvent{EventID: ev.EventID, SourceSequence: ev.Seq,
			PriceListID: ev.Price.PriceListID, SKU: ev.Price.SKU, Unit: ev.Price.UoM, UnitPriceMinor: ev.Price.UnitPriceMinor,
			Currency: ev.Currency, OccurTime: ev.OccurTime})
	}
	h.logger.InfoContext(r.Context(), "erpsim: prices changed", slog.Int("count", len(evs)))
	writeJSON(w, http.StatusCreated, out)
}

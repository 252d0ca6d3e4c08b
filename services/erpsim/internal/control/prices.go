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

// ContractRow is one customer contract of POST /control/prices: the whole
// contract as it is from now on (it replaces the contract with this id).
// startTime empty means valid since ever, endTime empty open-ended; an
// ended contract is a contract whose endTime has passed.
type ContractRow struct {
	ContractID  string             `json:"contractId"`
	CustomerID  string             `json:"customerId"`
	DisplayName string             `json:"displayName,omitempty"`
	StartTime   time.Time          `json:"startTime,omitzero"`
	EndTime     time.Time          `json:"endTime,omitzero"`
	Prices      []ContractPriceRow `json:"prices"`
}

// ContractPriceRow is one contracted SKU: exactly one of unitPriceMinor (a
// fixed net price in EUR, > 0) and discountBasisPoints (1..10000 off the
// customer's list price). Empty unit means the product's base unit.
type ContractPriceRow struct {
	SKU                 string `json:"sku"`
	Unit                string `json:"unit,omitempty"`
	UnitPriceMinor      int64  `json:"unitPriceMinor,omitempty"`
	DiscountBasisPoints int32  `json:"discountBasisPoints,omitempty"`
}

// PricesRequest is the body of POST /control/prices: the list prices to
// set and the contracts to create or replace, applied all or nothing.
type PricesRequest struct {
	ListPrices []PriceRow    `json:"listPrices"`
	Contracts  []ContractRow `json:"contracts,omitempty"`
}

// PriceEvent is one recorded change in the answer of POST /control/prices:
// a list price (the list price fields) or a contract (contract set).
type PriceEvent struct {
	EventID        string       `json:"eventId"`
	SourceSequence int64        `json:"sourceSequence"`
	PriceListID    string       `json:"priceListId"`
	SKU            string       `json:"sku"`
	Unit           string       `json:"unit"`
	UnitPriceMinor int64        `json:"unitPriceMinor"`
	Currency       string       `json:"currency"`
	Contract       *ContractRow `json:"contract,omitempty"`
	OccurTime      time.Time    `json:"occurTime"`
}

// PricesResponse is the answer of POST /control/prices.
type PricesResponse struct {
	PriceEvents []PriceEvent `json:"priceEvents"`
}

// FieldError is the 400 answer of POST /control/prices: the message and
// the request field at fault (e.g. "contracts[0].prices[1].sku").
type FieldError struct {
	Error string `json:"error"`
	Field string `json:"field,omitempty"`
}

// postPrices changes list prices and customer contracts in the ERP: each
// list price row and each contract becomes a price event in the feed
// (ListPriceEvents / WatchPriceEvents) and shows in the price export. 400
// naming the field for an empty body, an unknown price list, SKU or
// customer, a negative price, a contract price that is neither or both of
// a fixed price and a discount, or duplicate rows; nothing is changed then.
func (h *Handler) postPrices(w http.ResponseWriter, r *http.Request) {
	var req PricesRequest
	if !decode(w, r, &req) {
		return
	}
	var ch erp.PriceChanges
	for _, p := range req.ListPrices {
		ch.ListPrices = append(ch.ListPrices, erp.ListPrice{PriceListID: p.PriceListID, SKU: p.SKU, UoM: p.Unit, UnitPriceMinor: p.UnitPriceMinor})
	}
	for _, c := range req.Contracts {
		ch.Contracts = append(ch.Contracts, contractFromRow(c))
	}
	evs, err := h.erp.RecordPriceChanges(r.Context(), ch)
	var inv *erp.InvalidPriceChangeError
	switch {
	case errors.As(err, &inv):
		writeJSON(w, http.StatusBadRequest, FieldError{Error: inv.Error(), Field: inv.Field})
		return
	case errors.Is(err, erp.ErrInvalidPriceChange):
		badRequest(w, "%v", err)
		return
	case err != nil:
		h.logger.ErrorContext(r.Context(), "erpsim: record price changes", slog.Any("error", err))
		writeJSON(w, http.StatusInternalServerError, Error{Error: "internal error"})
		return
	}
	out := PricesResponse{PriceEvents: make([]PriceEvent, 0, len(evs))}
	for _, ev := range evs {
		pe := PriceEvent{EventID: ev.EventID, SourceSequence: ev.Seq,
			PriceListID: ev.Price.PriceListID, SKU: ev.Price.SKU, Unit: ev.Price.UoM, UnitPriceMinor: ev.Price.UnitPriceMinor,
			Currency: ev.Currency, OccurTime: ev.OccurTime}
		if ev.Contract != nil {
			row := contractToRow(*ev.Contract)
			pe.Contract, pe.Currency = &row, erp.Currency
		}
		out.PriceEvents = append(out.PriceEvents, pe)
	}
	h.logger.InfoContext(r.Context(), "erpsim: prices changed", slog.Int("count", len(evs)))
	writeJSON(w, http.StatusCreated, out)
}

func contractFromRow(c ContractRow) erp.Contract {
	out := erp.Contract{ID: c.ContractID, CustomerID: c.CustomerID, DisplayName: c.DisplayName, Start: c.StartTime.UTC(), End: c.EndTime.UTC()}
	if out.DisplayName == "" {
		out.DisplayName = c.ContractID
	}
	for _, p := range c.Prices {
		out.Prices = append(out.Prices, erp.ContractPrice{SKU: p.SKU, UoM: p.Unit, UnitPriceMinor: p.UnitPriceMinor, DiscountBps: p.DiscountBasisPoints})
	}
	return out
}

func contractToRow(c erp.Contract) ContractRow {
	out := ContractRow{ContractID: c.ID, CustomerID: c.CustomerID, DisplayName: c.DisplayName, StartTime: c.Start, EndTime: c.End}
	for _, p := range c.Prices {
		out.Prices = append(out.Prices, ContractPriceRow{SKU: p.SKU, Unit: p.UoM, UnitPriceMinor: p.UnitPriceMinor, DiscountBasisPoints: p.DiscountBps})
	}
	return out
}

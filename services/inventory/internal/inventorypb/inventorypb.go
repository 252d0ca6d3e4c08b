// Package inventorypb converts inventory domain values to their
// transload.inventory.v1 messages, and the inbound schedules that arrive in
// messages back. It is pure and shared by the gRPC API, the event builders
// and the ERP client, so a resource looks the same in a response and in an
// event, and an inbound schedule reads the same from every contract.
package inventorypb

import (
	"strconv"
	"time"

	"google.golang.org/genproto/googleapis/type/date"
	"google.golang.org/protobuf/types/known/timestamppb"

	commonv1 "github.com/transload/transload/gen/transload/common/v1"
	inventoryv1 "github.com/transload/transload/gen/transload/inventory/v1"
	"github.com/transload/transload/services/inventory/internal/inventory"
)

// Timestamp returns t as a Timestamp, nil for the zero time.
func Timestamp(t time.Time) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return timestamppb.New(t)
}

// Date returns d as a google.type.Date, nil for the zero date.
func Date(d inventory.Date) *date.Date {
	if d.IsZero() {
		return nil
	}
	return &date.Date{Year: int32(d.Year), Month: int32(d.Month), Day: int32(d.Day)}
}

// WarehouseName is "warehouses/{code}".
func WarehouseName(code string) string { return "warehouses/" + code }

// StockLevelName is "warehouses/{code}/stockLevels/{sku}".
func StockLevelName(code, sku string) string { return WarehouseName(code) + "/stockLevels/" + sku }

// Warehouse converts a warehouse.
func Warehouse(w inventory.Warehouse) *inventoryv1.Warehouse {
	out := &inventoryv1.Warehouse{
		Name:        WarehouseName(w.Code),
		Code:        w.Code,
		DisplayName: w.DisplayName,
		Region:      w.Region,
		Priority:    w.Priority,
		Channels:    w.Channels,
		Active:      w.Active,
		Etag:        strconv.FormatInt(w.UpdateTime.UnixMicro(), 36),
		CreateTime:  Timestamp(w.CreateTime),
		UpdateTime:  Timestamp(w.UpdateTime),
	}
	if a := w.Address; a.Recipient != "" || len(a.Lines) > 0 || a.Locality != "" || a.PostalCode != "" || a.RegionCode != "" {
		out.Address = &commonv1.Address{
			Recipient: a.Recipient, Lines: a.Lines, Locality: a.Locality,
			AdministrativeArea: a.AdministrativeArea, PostalCode: a.PostalCode, RegionCode: a.RegionCode,
		}
	}
	return out
}

// inboundMessage is an inbound supply of either contract that carries one:
// erp.v1 and inventory.v1 spell it alike.
type inboundMessage interface {
	GetQuantity() int64
	GetExpectedDate() *date.Date
	GetReference() string
}

// InboundFromProto converts a received inbound schedule; nil for none.
func InboundFromProto[M inboundMessage](in []M) []inventory.InboundSupply {
	var out []inventory.InboundSupply
	for _, s := range in {
		d := s.GetExpectedDate()
		out = append(out, inventory.InboundSupply{
			Quantity:     s.GetQuantity(),
			ExpectedDate: inventory.Date{Year: int(d.GetYear()), Month: int(d.GetMonth()), Day: int(d.GetDay())},
			Reference:    s.GetReference(),
		})
	}
	return out
}

// Inbound converts an inbound schedule.
func Inbound(in []inventory.InboundSupply) []*inventoryv1.InboundSupply {
	out := make([]*inventoryv1.InboundSupply, 0, len(in))
	for _, s := range in {
		out = append(out, &inventoryv1.InboundSupply{Quantity: s.Quantity, ExpectedDate: Date(s.ExpectedDate), Reference: s.Reference})
	}
	return out
}

// StockLevel converts a stock level.
func StockLevel(l inventory.StockLevel) *inventoryv1.StockLevel {
	return &inventoryv1.StockLevel{
		Name:          StockLevelName(l.WarehouseCode, l.SKU),
		Sku:           l.SKU,
		WarehouseCode: l.WarehouseCode,
		OnHand:        l.OnHand,
		Reserved:      l.Reserved,
		Available:     l.Available(),
		Oversold:      l.Oversold(),
		Inbound:       Inbound(l.Inbound),
		InboundTotal:  l.InboundTotal,
		Sequence:      l.Sequence,
		SourceSystem:  l.SourceSystem,
		Revision:      l.Revision,
		UpdateTime:    Timestamp(l.UpdateTime),
	}
}

// Quantities converts stock quantities.
func Quantities(q inventory.Quantities) *inventoryv1.StockQuantities {
	return &inventoryv1.StockQuantities{OnHand: q.OnHand, Reserved: q.Reserved, Available: q.Available(), InboundTotal: q.InboundTotal}
}

// Reservation converts a reservation.
func Reservation(r inventory.Reservation) *inventoryv1.Reservation {
	out := &inventoryv1.Reservation{
		Name:               r.Name(),
		ReferenceId:        r.ReferenceID,
		Channel:            r.Channel,
		State:              inventoryv1.Reservation_State(r.State),
		AllocationStrategy: inventoryv1.AllocationStrategy(r.Strategy),
		AllowSplit:         r.AllowSplit,
		BackorderPolicy:    inventoryv1.BackorderPolicy(r.BackorderPolicy),
		DestinationRegion:  r.DestinationRegion,
		CreateTime:         Timestamp(r.CreateTime),
		UpdateTime:         Timestamp(r.UpdateTime),
		Etag:               strconv.FormatInt(r.Version, 10),
	}
	if r.State == inventory.StateHeld {
		out.ExpireTime = Timestamp(r.ExpireTime)
	}
	for _, l := range r.Lines {
		pl := &inventoryv1.ReservationLine{
			Sku:                 l.SKU,
			RequestedQuantity:   l.Requested,
			AllocatedQuantity:   l.Allocated(),
			BackorderedQuantity: l.Backordered,
			UnfulfilledQuantity: l.Unfulfilled,
		}
		for _, a := range l.Allocations {
			pl.Allocations = append(pl.Allocations, &inventoryv1.Allocation{
				WarehouseCode:     a.WarehouseCode,
				Quantity:          a.Quantity,
				CommittedQuantity: a.Committed,
				ReleasedQuantity:  a.Released,
				OpenQuantity:      a.Open(),
			})
		}
		out.Lines = append(out.Lines, pl)
	}
	return out
}

// ReservationQuantities converts moved quantities.
func ReservationQuantities(qs []inventory.ReservationQuantity) []*inventoryv1.ReservationQuantity {
	out := make([]*inventoryv1.ReservationQuantity, 0, len(qs))
	for _, q := range qs {
		out = append(out, &inventoryv1.ReservationQuantity{Sku: q.SKU, WarehouseCode: q.WarehouseCode, Quantity: q.Quantity})
	}
	return out
}

// Reconciliation converts a reconciliation run.
func Reconciliation(r inventory.Reconciliation) *inventoryv1.Reconciliation {
	return &inventoryv1.Reconciliation{
		Name:                  r.Name(),
		State:                 inventoryv1.Reconciliation_State(r.State),
		SnapshotSource:        r.SnapshotSource,
		SnapshotTime:          Timestamp(r.SnapshotTime),
		ApplyCorrections:      r.ApplyCorrections,
		WarehouseCodes:        r.WarehouseCodes,
		Skus:                  r.SKUs,
		ComparedCount:         r.Compared,
		MatchedCount:          r.Matched,
		VarianceCount:         r.Variances,
		CorrectedCount:        r.Corrected,
		SkippedCount:          r.Skipped,
		AbsoluteVarianceTotal: r.AbsoluteVarianceTotal,
		ErrorMessage:          r.ErrorMessage,
		CreateTime:            Timestamp(r.CreateTime),
		EndTime:               Timestamp(r.EndTime),
	}
}

// Variance converts a reconciliation variance.
func Variance(v inventory.Variance) *inventoryv1.ReconciliationVariance {
	return &inventoryv1.ReconciliationVariance{
		Name:              "reconciliations/" + v.ReconciliationID + "/variances/" + v.SKU + "@" + v.WarehouseCode,
		Sku:               v.SKU,
		WarehouseCode:     v.WarehouseCode,
		Kind:              inventoryv1.ReconciliationVariance_Kind(v.Kind),
		ExpectedOnHand:    v.ExpectedOnHand,
		TransloadOnHand:   v.TransloadOnHand,
		Variance:          v.Delta(),
		SnapshotSequence:  v.SnapshotSequence,
		TransloadSequence: v.TransloadSequence,
		Corrected:         v.Corrected,
		CreateTime:        Timestamp(v.CreateTime),
	}
}

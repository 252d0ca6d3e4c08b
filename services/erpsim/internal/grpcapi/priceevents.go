package grpcapi

import (
	"context"

	erpv1 "github.com/transload/transload/gen/transload/erp/v1"
	"github.com/transload/transload/platform/aip"
	"github.com/transload/transload/services/erpsim/internal/erp"
	"google.golang.org/grpc"
)

// --- price feed ---

// priceCursorPrefix differs from the stock feed's, so a stock cursor given
// to the price feed is INVALID_CURSOR rather than a wrong position.
const priceCursorPrefix = "pe1|"

func encodePriceCursor(seq int64) string { return encodeFeedCursor(priceCursorPrefix, seq) }

func decodePriceCursor(c string) (int64, error) { return decodeFeedCursor(priceCursorPrefix, c) }

func priceEventToProto(ev erp.PriceEvent) *erpv1.PriceEvent {
	out := &erpv1.PriceEvent{EventId: ev.EventID, SourceSequence: ev.Seq, OccurTime: ts(ev.OccurTime)}
	if ev.Contract != nil {
		out.Contract = contractToProto(*ev.Contract)
	} else {
		out.ListPrice = listPriceToProto(ev.Price, ev.Currency)
	}
	return out
}

// ListPriceEvents reads the price change feed from a cursor.
func (s *Server) ListPriceEvents(ctx context.Context, req *erpv1.ListPriceEventsRequest) (*erpv1.ListPriceEventsResponse, error) {
	after, err := decodePriceCursor(req.GetCursor())
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	size := int(aip.ClampPageSize(req.GetPageSize(), defaultEventPage, maxEventPage))
	evs, head, err := s.svc.PriceEvents(ctx, after, size)
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	if after > head {
		return nil, s.fail(ctx, erp.ErrInvalidCursor) // a position this feed never reached
	}
	last := after
	out := &erpv1.ListPriceEventsResponse{PriceEvents: make([]*erpv1.PriceEvent, 0, len(evs))}
	for _, ev := range evs {
		out.PriceEvents = append(out.PriceEvents, priceEventToProto(ev))
		last = ev.Seq
	}
	out.NextCursor, out.HasMore = encodePriceCursor(last), last < head
	return out, nil
}

// WatchPriceEvents pushes the price change feed from a cursor, as
// WatchStockEvents does the stock feed: the backlog, then each change as
// soon as it is committed (woken by the service's price commit signal).
func (s *Server) WatchPriceEvents(req *erpv1.WatchPriceEventsRequest, stream grpc.ServerStreamingServer[erpv1.WatchPriceEventsResponse]) error {
	after, err := decodePriceCursor(req.GetCursor())
	if err != nil {
		return s.fail(stream.Context(), err)
	}
	return watchFeed(stream.Context(), s, after, s.svc.PriceFeedChanged, s.svc.PriceEvents,
		func(ev erp.PriceEvent) int64 { return ev.Seq },
		func(evs []erp.PriceEvent, next int64) error {
			out := &erpv1.WatchPriceEventsResponse{PriceEvents: make([]*erpv1.PriceEvent, 0, len(evs)), NextCursor: encodePriceCursor(next)}
			for _, ev := range evs {
				out.PriceEvents = append(out.PriceEvents, priceEventToProto(ev))
			}
			return stream.Send(out)
		})
}

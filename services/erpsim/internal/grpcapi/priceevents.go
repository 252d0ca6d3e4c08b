package grpcapi

import (
	"context"
	"encoding/base64"
	"strconv"
	"strings"

	erpv1 "github.com/transload/transload/gen/transload/erp/v1"
	"github.com/transload/transload/platform/aip"
	"github.com/transload/transload/services/erpsim/internal/erp"
	"google.golang.org/grpc"
)

// --- price feed ---

// priceCursorPrefix differs from the stock feed's, so a stock cursor given
// to the price feed is INVALID_CURSOR rather than a wrong position.
const priceCursorPrefix = "pe1|"

func encodePriceCursor(seq int64) string {
	return base64.RawURLEncoding.EncodeToString([]byte(priceCursorPrefix + strconv.FormatInt(seq, 10)))
}

func decodePriceCursor(c string) (int64, error) {
	if c == "" {
		return 0, nil
	}
	raw, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil || !strings.HasPrefix(string(raw), priceCursorPrefix) {
		return 0, erp.ErrInvalidCursor
	}
	n, err := strconv.ParseInt(strings.TrimPrefix(string(raw), priceCursorPrefix), 10, 64)
	if err != nil || n < 0 {
		return 0, erp.ErrInvalidCursor
	}
	return n, nil
}

func priceEventToProto(ev erp.PriceEvent) *erpv1.PriceEvent {
	return &erpv1.PriceEvent{EventId: ev.EventID, SourceSequence: ev.Seq, OccurTime: ts(ev.OccurTime),
		ListPrice: listPriceToProto(ev.Price, ev.Currency)}
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
	ctx := stream.Context()
	after, err := decodePriceCursor(req.GetCursor())
	if err != nil {
		return s.fail(ctx, err)
	}
	first := true
	for {
		changed := s.svc.PriceFeedChanged()
		evs, head, err := s.svc.PriceEvents(ctx, after, maxEventPage)
		if err != nil {
			return s.fail(ctx, err)
		}
		if after > head {
			return s.fail(ctx, erp.ErrInvalidCursor)
		}
		if len(evs) > 0 || first {
			out := &erpv1.WatchPriceEventsResponse{PriceEvents: make([]*erpv1.PriceEvent, 0, len(evs))}
			for _, ev := range evs {
				out.PriceEvents = append(out.PriceEvents, priceEventToProto(ev))
				after = ev.Seq
			}
			out.NextCursor = encodePriceCursor(after)
			if err := stream.Send(out); err != nil {
				return err
			}
			first = false
		}
		if after < head {
			continue
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return s.fail(ctx, ctx.Err())
		case <-s.stopping:
			return errStopping()
		}
	}
}

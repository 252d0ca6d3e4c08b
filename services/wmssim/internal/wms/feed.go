package wms

import (
	"context"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
)

// Page sizes of the event feeds.
const (
	DefaultPageSize = 100
	MaxPageSize     = 1000
)

// Cursor prefixes per feed: a cursor of one feed is invalid for the other.
const (
	shipmentCursorPrefix = "wmssim.se.v1:"
	returnCursorPrefix   = "wmssim.re.v1:"
)

func encodeCursor(prefix string, pos int64) string {
	return base64.RawURLEncoding.EncodeToString([]byte(prefix + strconv.FormatInt(pos, 10)))
}

// decodeCursor parses cursor ("" is the feed start) and checks it is not
// beyond head, which no cursor this simulator produced can be.
func decodeCursor(cursor, prefix, feed string, head int64) (int64, error) {
	if cursor == "" {
		return 0, nil
	}
	raw, err := base64.RawURLEncoding.DecodeString(cursor)
	if err != nil {
		return 0, &InvalidCursorError{Feed: feed}
	}
	rest, ok := strings.CutPrefix(string(raw), prefix)
	if !ok {
		return 0, &InvalidCursorError{Feed: feed}
	}
	pos, err := strconv.ParseInt(rest, 10, 64)
	if err != nil || pos < 0 || pos > head || strconv.FormatInt(pos, 10) != rest {
		return 0, &InvalidCursorError{Feed: feed}
	}
	return pos, nil
}

func pageSize(n int) int {
	switch {
	case n <= 0:
		return DefaultPageSize
	case n > MaxPageSize:
		return MaxPageSize
	default:
		return n
	}
}

// ShipmentEventPage is one page of the shipment event feed.
type ShipmentEventPage struct {
	Events     []ShipmentEvent
	NextCursor string
	HasMore    bool
}

// ListShipmentEvents returns up to size events after cursor ("" = the
// oldest) oldest first. NextCursor is never empty; an invalid cursor fails
// with *InvalidCursorError.
func (s *Service) ListShipmentEvents(ctx context.Context, cursor string, size int) (ShipmentEventPage, error) {
	head, err := s.store.ShipmentEventHead(ctx)
	if err != nil {
		return ShipmentEventPage{}, fmt.Errorf("shipment event head: %w", err)
	}
	after, err := decodeCursor(cursor, shipmentCursorPrefix, FeedShipmentEvents, head)
	if err != nil {
		return ShipmentEventPage{}, err
	}
	size = pageSize(size)
	evs, err := s.store.ShipmentEvents(ctx, after, size+1)
	if err != nil {
		return ShipmentEventPage{}, fmt.Errorf("shipment events: %w", err)
	}
	p := ShipmentEventPage{}
	if len(evs) > size {
		evs, p.HasMore = evs[:size], true
	}
	if len(evs) > 0 {
		after = evs[len(evs)-1].Position
		if s.faults.TakeDuplicate() {
			// Injected at-least-once delivery: the next read starts
			// with this page's last event again.
			after--
			p.HasMore = true
		}
	}
	p.Events, p.NextCursor = evs, encodeCursor(shipmentCursorPrefix, after)
	return p, nil
}

// ReturnEventPage is one page of the return event feed.
type ReturnEventPage struct {
	Events     []ReturnEvent
	NextCursor string
	HasMore    bool
}

// ListReturnEvents is ListShipmentEvents for the return feed.
func (s *Service) ListReturnEvents(ctx context.Context, cursor string, size int) (ReturnEventPage, error) {
	head, err := s.store.ReturnEventHead(ctx)
	if err != nil {
		return ReturnEventPage{}, fmt.Errorf("return event head: %w", err)
	}
	after, err := decodeCursor(cursor, returnCursorPrefix, FeedReturnEvents, head)
	if err != nil {
		return ReturnEventPage{}, err
	}
	size = pageSize(size)
	evs, err := s.store.ReturnEvents(ctx, after, size+1)
	if err != nil {
		return ReturnEventPage{}, fmt.Errorf("return events: %w", err)
	}
	p := ReturnEventPage{}
	if len(evs) > size {
		evs, p.HasMore = evs[:size], true
	}
	if len(evs) > 0 {
		after = evs[len(evs)-1].Position
		if s.faults.TakeDuplicate() {
			// Injected at-least-once delivery: the next read starts
			// with this page's last event again.
			after--
			p.HasMore = true
		}
	}
	p.Events, p.NextCursor = evs, encodeCursor(returnCursorPrefix, after)
	return p, nil
}

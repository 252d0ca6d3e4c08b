package wms

import (
	"context"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
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

// EventPage is one page of an event feed.
type EventPage[E any] struct {
	Events     []E
	NextCursor string
	HasMore    bool
}

// ShipmentEventPage is one page of the shipment event feed.
type ShipmentEventPage = EventPage[ShipmentEvent]

// ReturnEventPage is one page of the return event feed.
type ReturnEventPage = EventPage[ReturnEvent]

// feedEvent is an event of a feed: it knows its feed position.
type feedEvent interface {
	ShipmentEvent | ReturnEvent
	feedPosition() int64
}

func (ev ShipmentEvent) feedPosition() int64 { return ev.Position }

func (ev ReturnEvent) feedPosition() int64 { return ev.Position }

// feed is how the service reads one event feed from the store.
type feed[E feedEvent] struct {
	name, prefix string
	head         func(context.Context) (int64, error)
	read         func(ctx context.Context, after int64, limit int) ([]E, error)
}

// ListShipmentEvents returns up to size (at least 1) events after cursor
// ("" = the oldest), oldest first. NextCursor is never empty; an invalid
// cursor fails with *InvalidCursorError.
func (s *Service) ListShipmentEvents(ctx context.Context, cursor string, size int) (ShipmentEventPage, error) {
	return listEvents(ctx, s, feed[ShipmentEvent]{FeedShipmentEvents, shipmentCursorPrefix, s.store.ShipmentEventHead, s.store.ShipmentEvents}, cursor, size)
}

// ListReturnEvents is ListShipmentEvents for the return feed.
func (s *Service) ListReturnEvents(ctx context.Context, cursor string, size int) (ReturnEventPage, error) {
	return listEvents(ctx, s, feed[ReturnEvent]{FeedReturnEvents, returnCursorPrefix, s.store.ReturnEventHead, s.store.ReturnEvents}, cursor, size)
}

func listEvents[E feedEvent](ctx context.Context, s *Service, f feed[E], cursor string, size int) (EventPage[E], error) {
	head, err := f.head(ctx)
	if err != nil {
		return EventPage[E]{}, fmt.Errorf("%s head: %w", f.name, err)
	}
	after, err := decodeCursor(cursor, f.prefix, f.name, head)
	if err != nil {
		return EventPage[E]{}, err
	}
	size = max(size, 1)
	evs, err := f.read(ctx, after, size+1)
	if err != nil {
		return EventPage[E]{}, fmt.Errorf("%s: %w", f.name, err)
	}
	p := EventPage[E]{}
	if len(evs) > size {
		evs, p.HasMore = evs[:size], true
	}
	if len(evs) > 0 {
		after = evs[len(evs)-1].feedPosition()
		if s.faults.TakeDuplicate() {
			// Injected at-least-once delivery: the next read starts
			// with this page's last event again.
			after--
			p.HasMore = true
		}
	}
	p.Events, p.NextCursor = evs, encodeCursor(f.prefix, after)
	return p, nil
}

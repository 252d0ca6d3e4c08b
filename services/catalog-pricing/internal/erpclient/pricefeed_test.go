package erpclient_test

import (
	"context"
	"errors"
	"testing"

	"google.golang.org/grpc"

	commonv1 "github.com/transload/transload/gen/transload/common/v1"
	erpv1 "github.com/transload/transload/gen/transload/erp/v1"
	"github.com/transload/transload/services/catalog-pricing/internal/erpsync"
)

// feedERP answers the price change feed with one event, listed and pushed.
type feedERP struct {
	scriptedERP
}

var feedEvent = &erpv1.PriceEvent{EventId: "PRC-1", SourceSequence: 7, ListPrice: &erpv1.ListPrice{
	PriceListId: "PL-EUR", Sku: "SKU-1", Unit: "EA", UnitPrice: &commonv1.Money{AmountMinor: 1234, CurrencyCode: "EUR"}}}

func (*feedERP) ListPriceEvents(_ context.Context, req *erpv1.ListPriceEventsRequest) (*erpv1.ListPriceEventsResponse, error) {
	return &erpv1.ListPriceEventsResponse{PriceEvents: []*erpv1.PriceEvent{feedEvent}, NextCursor: req.GetCursor() + "+1", HasMore: true}, nil
}

func (*feedERP) WatchPriceEvents(req *erpv1.WatchPriceEventsRequest, st grpc.ServerStreamingServer[erpv1.WatchPriceEventsResponse]) error {
	if err := st.Send(&erpv1.WatchPriceEventsResponse{PriceEvents: []*erpv1.PriceEvent{feedEvent}, NextCursor: req.GetCursor() + "+1"}); err != nil {
		return err
	}
	<-st.Context().Done()
	return st.Context().Err()
}

// TestPriceFeedConverts: listed and pushed price events become the pricing
// domain's rows with their position, list and cursor.
func TestPriceFeedConverts(t *testing.T) {
	erp := &feedERP{}
	c := client(t, erp)
	changes, next, more, err := c.PriceChanges(t.Context(), "c0", 100)
	want := erpsync.PriceChange{Seq: 7, EventID: "PRC-1", ERPList: "PL-EUR"}
	if err != nil || next != "c0+1" || !more || len(changes) != 1 {
		t.Fatalf("PriceChanges = %+v %q %v, %v", changes, next, more, err)
	}
	if got := changes[0]; got.Seq != want.Seq || got.EventID != want.EventID || got.ERPList != want.ERPList ||
		got.Row.SKU != "SKU-1" || got.Row.UnitMinor != 1234 || got.Row.Currency != "EUR" || got.Skipped {
		t.Errorf("change = %+v", got)
	}
	stop := errors.New("stop")
	err = c.WatchPriceChanges(t.Context(), "c0", func(ch []erpsync.PriceChange, next string) error {
		if len(ch) != 1 || ch[0].Seq != 7 || next != "c0+1" {
			t.Errorf("pushed %+v %q", ch, next)
		}
		return stop
	})
	if !errors.Is(err, stop) {
		t.Errorf("WatchPriceChanges = %v, want fn's error", err)
	}
}

// TestPriceFeedUnimplemented: an adapter without the feed is ErrNoFeed for
// both forms.
func TestPriceFeedUnimplemented(t *testing.T) {
	c := client(t, &scriptedERP{})
	if _, _, _, err := c.PriceChanges(t.Context(), "", 10); !errors.Is(err, erpsync.ErrNoFeed) {
		t.Errorf("PriceChanges on an adapter without a feed: %v", err)
	}
	if err := c.WatchPriceChanges(t.Context(), "", func([]erpsync.PriceChange, string) error { return nil }); !errors.Is(err, erpsync.ErrNoFeed) {
		t.Errorf("WatchPriceChanges on an adapter without a feed: %v", err)
	}
}

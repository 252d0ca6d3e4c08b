package erpclient_test

import (
	"context"
	"errors"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"

	commonv1 "github.com/transload/transload/gen/transload/common/v1"
	erpv1 "github.com/transload/transload/gen/transload/erp/v1"
	"github.com/transload/transload/platform/apierr"
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

// contractFeedERP lists a contract change and an event of a kind the
// client does not know (neither a list price nor a contract).
type contractFeedERP struct {
	scriptedERP
}

func (*contractFeedERP) ListPriceEvents(context.Context, *erpv1.ListPriceEventsRequest) (*erpv1.ListPriceEventsResponse, error) {
	c := &erpv1.CustomerContract{ContractId: "CTR-1", CustomerId: "C0014", Prices: []*erpv1.ContractPrice{
		{Sku: "SKU-1", Unit: "EA", Price: &erpv1.ContractPrice_UnitPrice{UnitPrice: &commonv1.Money{AmountMinor: 900, CurrencyCode: "EUR"}}},
		{Sku: "SKU-2", Unit: "EA", Price: &erpv1.ContractPrice_DiscountBasisPoints{DiscountBasisPoints: 500}},
	}}
	return &erpv1.ListPriceEventsResponse{PriceEvents: []*erpv1.PriceEvent{
		{EventId: "PRC-8", SourceSequence: 8, Contract: c},
		{EventId: "PRC-9", SourceSequence: 9},
	}, NextCursor: "c9"}, nil
}

// TestPriceFeedConvertsContracts: a contract event becomes the contract as
// the full export maps it; an event of an unknown kind is skipped (not a
// list price of list "", which would look like a gap).
func TestPriceFeedConvertsContracts(t *testing.T) {
	changes, _, _, err := client(t, &contractFeedERP{}).PriceChanges(t.Context(), "", 100)
	if err != nil || len(changes) != 2 {
		t.Fatalf("PriceChanges = %+v, %v", changes, err)
	}
	k := changes[0].Contract
	if changes[0].Seq != 8 || changes[0].Skipped || k == nil || k.ID != "CTR-1" || k.CustomerID != "C0014" || k.Currency != "EUR" ||
		len(k.Terms) != 2 || !k.Terms[0].Fixed || k.Terms[0].UnitMinor != 900 || k.Terms[1].DiscountBps != 500 {
		t.Errorf("contract change = %+v (contract %+v)", changes[0], k)
	}
	if changes[1].Seq != 9 || !changes[1].Skipped || changes[1].Contract != nil {
		t.Errorf("unknown kind = %+v, want skipped", changes[1])
	}
}

// goneERP refuses every feed cursor with reason.
type goneERP struct {
	scriptedERP
	code   codes.Code
	reason erpv1.ErrorReason
}

func (g *goneERP) ListPriceEvents(context.Context, *erpv1.ListPriceEventsRequest) (*erpv1.ListPriceEventsResponse, error) {
	return nil, apierr.Error(g.code, g.reason, "refused", nil)
}

func (g *goneERP) WatchPriceEvents(*erpv1.WatchPriceEventsRequest, grpc.ServerStreamingServer[erpv1.WatchPriceEventsResponse]) error {
	return apierr.Error(g.code, g.reason, "refused", nil)
}

// TestPriceFeedCursorGone: an ERP that refuses the cursor (not its own or
// beyond its head, or expired) is erpsync.ErrCursorGone for both forms,
// which makes the follower re-read the full export; another refusal is
// not.
func TestPriceFeedCursorGone(t *testing.T) {
	for _, tc := range []struct {
		code   codes.Code
		reason erpv1.ErrorReason
		gone   bool
	}{
		{codes.InvalidArgument, erpv1.ErrorReason_ERROR_REASON_INVALID_CURSOR, true},
		{codes.FailedPrecondition, erpv1.ErrorReason_ERROR_REASON_CURSOR_EXPIRED, true},
		{codes.InvalidArgument, erpv1.ErrorReason_ERROR_REASON_PRICE_LIST_NOT_FOUND, false},
	} {
		c := client(t, &goneERP{code: tc.code, reason: tc.reason})
		_, _, _, err := c.PriceChanges(t.Context(), "pe1|9", 10)
		werr := c.WatchPriceChanges(t.Context(), "pe1|9", func([]erpsync.PriceChange, string) error { return nil })
		if errors.Is(err, erpsync.ErrCursorGone) != tc.gone || errors.Is(werr, erpsync.ErrCursorGone) != tc.gone {
			t.Errorf("%v: PriceChanges %v, WatchPriceChanges %v; want ErrCursorGone %v", tc.reason, err, werr, tc.gone)
		}
	}
}

package grpcapi

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	commonv1 "github.com/transload/transload/gen/transload/common/v1"
	orderv1 "github.com/transload/transload/gen/transload/order/v1"
	"github.com/transload/transload/platform/aip"
	"github.com/transload/transload/platform/apierr"
	"github.com/transload/transload/services/order/internal/order"
)

func TestListFilter(t *testing.T) {
	t.Parallel()
	if err := listFilter.Validate(); err != nil {
		t.Fatal(err)
	}
	from := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		filter  string
		want    order.ListQuery
		wantErr bool
	}{
		{filter: ""},
		{filter: `customer_id = "C0001"`, want: order.ListQuery{CustomerID: "C0001"}},
		{filter: `customer_id = C0001`, want: order.ListQuery{CustomerID: "C0001"}},
		{filter: `customer_id="C0001" AND channel = "web" AND state = SHIPPED`,
			want: order.ListQuery{CustomerID: "C0001", Channel: "web", State: order.StateShipped}},
		{filter: `state = STATE_CONFIRMED`, want: order.ListQuery{State: order.StateConfirmed}},
		{filter: `create_time >= "2026-01-01T00:00:00Z" AND create_time < "2026-01-01T01:00:00+01:00"`,
			want: order.ListQuery{Created: order.TimeBounds{From: from, Before: from}}},
		{filter: `create_time > "2026-01-01T00:00:00Z" AND create_time <= "2026-01-01T00:00:00Z"`,
			want: order.ListQuery{Created: order.TimeBounds{After: from, Through: from}}},
		{filter: `update_time >= "2026-01-01T00:00:00Z" AND update_time > "2026-01-01T00:00:00Z" AND update_time < "2026-01-01T00:00:00Z" AND update_time <= "2026-01-01T00:00:00Z"`,
			want: order.ListQuery{Updated: order.TimeBounds{From: from, After: from, Before: from, Through: from}}},
		{filter: `state != CANCELLED`, want: order.ListQuery{NotState: order.StateCancelled}},
		{filter: `purchase_order_number = "PO-1"`, want: order.ListQuery{PurchaseOrderNumber: "PO-1"}},
		{filter: `purchase_order_number = ""`, wantErr: true},
		{filter: `purchase_order_number != "PO-1"`, wantErr: true},
		{filter: `update_time = "2026-01-01T00:00:00Z"`, wantErr: true},
		{filter: `update_time < "soon"`, wantErr: true},
		{filter: `customer_id = "a \"quoted\" id"`, want: order.ListQuery{CustomerID: `a "quoted" id`}},
		{filter: `state = BOGUS`, wantErr: true},
		{filter: `state = UNSPECIFIED`, wantErr: true},
		{filter: `customer_id = "a" AND customer_id = "b"`, wantErr: true},
		{filter: `customer_id = "a" OR channel = "web"`, wantErr: true},
		{filter: `customer_id = "a" and channel = "web"`, wantErr: true},
		{filter: `customer_id =`, wantErr: true},
		{filter: `customer_id != "a"`, wantErr: true},
		{filter: `total > 5`, wantErr: true},
		{filter: `create_time = "2026-01-01T00:00:00Z"`, wantErr: true},
		{filter: `create_time >= "yesterday"`, wantErr: true},
		{filter: `customer_id = "unterminated`, wantErr: true},
	} {
		t.Run(tc.filter, func(t *testing.T) {
			t.Parallel()
			got, err := listFromProto(&orderv1.ListOrdersRequest{Filter: tc.filter}, "")
			if tc.wantErr {
				if !errors.Is(err, aip.ErrInvalidFilter) || !apierr.HasReason(err, commonv1.ErrorReason_ERROR_REASON_VALIDATION_FAILED) {
					t.Errorf("err = %v, want an invalid filter (VALIDATION_FAILED)", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tc.want.Limit = int(aip.DefaultPageSize) + 1
			if diff := cmp.Diff(tc.want, got.ListQuery); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// TestPageTokenBoundToQuery: a token continues the query and caller that
// made it, and nothing else.
func TestPageTokenBoundToQuery(t *testing.T) {
	t.Parallel()
	first := &orderv1.ListOrdersRequest{Filter: `channel = "web"`, PageSize: 1}
	q, err := listFromProto(first, "api_key:web-1")
	if err != nil {
		t.Fatal(err)
	}
	created := time.UnixMicro(1234).UTC()
	page, tok := listPage(q, []*order.Order{{ID: "O-1", CreatedAt: created}, {ID: "O-2", CreatedAt: created}})
	if len(page) != 1 || tok == "" {
		t.Fatalf("page %d orders, token %q; want 1 and a token", len(page), tok)
	}
	next := &orderv1.ListOrdersRequest{Filter: `channel="web"`, PageSize: 1, PageToken: tok}
	got, err := listFromProto(next, "api_key:web-1")
	if err != nil {
		t.Fatal(err)
	}
	if got.AfterID != "O-1" || !got.AfterTime.Equal(created) || got.Limit != 2 {
		t.Errorf("cursor = %+v", got.ListQuery)
	}
	for name, tc := range map[string]struct {
		req    *orderv1.ListOrdersRequest
		caller string
	}{
		"other filter":    {&orderv1.ListOrdersRequest{Filter: `channel = "b2b"`, PageToken: tok}, "api_key:web-1"},
		"other ordering":  {&orderv1.ListOrdersRequest{Filter: `channel = "web"`, OrderBy: "create_time", PageToken: tok}, "api_key:web-1"},
		"update ordering": {&orderv1.ListOrdersRequest{Filter: `channel = "web"`, OrderBy: "update_time desc", PageToken: tok}, "api_key:web-1"},
		"other caller":    {&orderv1.ListOrdersRequest{Filter: `channel = "web"`, PageToken: tok}, "api_key:web-2"},
		"garbage":         {&orderv1.ListOrdersRequest{Filter: `channel = "web"`, PageToken: "not-a-token"}, "api_key:web-1"},
	} {
		_, err := listFromProto(tc.req, tc.caller)
		if status.Code(err) != codes.InvalidArgument || !apierr.HasReason(err, commonv1.ErrorReason_ERROR_REASON_INVALID_PAGE_TOKEN) {
			t.Errorf("%s: err = %v, want INVALID_PAGE_TOKEN", name, err)
		}
	}
}

// TestListOrderBy: every accepted order_by selects its sort, an update_time
// page continues after the row's update time, and others are rejected.
func TestListOrderBy(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		orderBy       string
		byUpdate, asc bool
		wantErr       bool
	}{
		{orderBy: ""},
		{orderBy: "create_time desc"},
		{orderBy: "create_time", asc: true},
		{orderBy: "create_time asc", asc: true},
		{orderBy: "update_time desc", byUpdate: true},
		{orderBy: "update_time", byUpdate: true, asc: true},
		{orderBy: "update_time  asc", byUpdate: true, asc: true},
		{orderBy: "total desc", wantErr: true},
		{orderBy: "update_time sideways", wantErr: true},
	} {
		t.Run(tc.orderBy, func(t *testing.T) {
			t.Parallel()
			q, err := listFromProto(&orderv1.ListOrdersRequest{OrderBy: tc.orderBy}, "")
			if tc.wantErr {
				if iae := (*order.InvalidArgumentError)(nil); !errors.As(err, &iae) || iae.Field != "order_by" {
					t.Errorf("err = %v, want an invalid order_by", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if q.ByUpdateTime != tc.byUpdate || q.Ascending != tc.asc {
				t.Errorf("ByUpdateTime, Ascending = %v, %v; want %v, %v", q.ByUpdateTime, q.Ascending, tc.byUpdate, tc.asc)
			}
		})
	}
	req := &orderv1.ListOrdersRequest{OrderBy: "update_time", PageSize: 1}
	q, err := listFromProto(req, "")
	if err != nil {
		t.Fatal(err)
	}
	created, updated := time.UnixMicro(1000).UTC(), time.UnixMicro(2000).UTC()
	_, tok := listPage(q, []*order.Order{{ID: "O-1", CreatedAt: created, UpdatedAt: updated}, {ID: "O-2"}})
	req.PageToken = tok
	got, err := listFromProto(req, "")
	if err != nil {
		t.Fatal(err)
	}
	if got.AfterID != "O-1" || !got.AfterTime.Equal(updated) {
		t.Errorf("cursor = %v %s, want the update time %v and O-1", got.AfterTime, got.AfterID, updated)
	}
}

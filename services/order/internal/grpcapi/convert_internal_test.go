package grpcapi

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	orderv1 "github.com/transload/transload/gen/transload/order/v1"
	"github.com/transload/transload/services/order/internal/order"
)

func TestParseFilter(t *testing.T) {
	t.Parallel()
	from := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		filter  string
		want    order.ListQuery
		wantErr bool
	}{
		{filter: ""},
		{filter: `customer_id = "C0001"`, want: order.ListQuery{CustomerID: "C0001"}},
		{filter: `customer_id="C0001" AND channel = "web" AND state = SHIPPED`,
			want: order.ListQuery{CustomerID: "C0001", Channel: "web", State: order.StateShipped}},
		{filter: `create_time >= "2026-01-01T00:00:00Z" AND create_time < "2026-01-01T01:00:00+01:00"`,
			want: order.ListQuery{CreatedFrom: from, CreatedBefore: from}},
		{filter: `customer_id = "a \"quoted\" id"`, want: order.ListQuery{CustomerID: `a "quoted" id`}},
		{filter: `state = BOGUS`, wantErr: true},
		{filter: `state = UNSPECIFIED`, wantErr: true},
		{filter: `customer_id = C0001`, wantErr: true},
		{filter: `customer_id = "a" AND customer_id = "b"`, wantErr: true},
		{filter: `customer_id = "a" OR channel = "web"`, wantErr: true},
		{filter: `customer_id =`, wantErr: true},
		{filter: `total > 5`, wantErr: true},
		{filter: `create_time >= "yesterday"`, wantErr: true},
		{filter: `customer_id = "unterminated`, wantErr: true},
	} {
		var got order.ListQuery
		err := parseFilter(tc.filter, &got)
		if tc.wantErr {
			var ia *order.InvalidArgumentError
			if !errors.As(err, &ia) || ia.Field != "filter" {
				t.Errorf("%q: err = %v, want an InvalidArgumentError on filter", tc.filter, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tc.filter, err)
			continue
		}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("%q (-want +got):\n%s", tc.filter, diff)
		}
	}
}

func TestPageTokenBoundToQuery(t *testing.T) {
	t.Parallel()
	q, err := listFromProto(&orderv1.ListOrdersRequest{Filter: `channel = "web"`})
	if err != nil {
		t.Fatal(err)
	}
	tok := encodePageToken(pageToken{Fingerprint: q.fingerprint, CreatedUS: 1234, OrderID: "O-1"})
	got, err := listFromProto(&orderv1.ListOrdersRequest{Filter: `channel = "web"`, PageToken: tok})
	if err != nil {
		t.Fatal(err)
	}
	if got.AfterID != "O-1" || got.AfterCreatedAt.UnixMicro() != 1234 || got.Limit != defaultPageSize {
		t.Errorf("cursor = %+v", got.ListQuery)
	}
	for name, req := range map[string]*orderv1.ListOrdersRequest{
		"other filter":   {Filter: `channel = "b2b"`, PageToken: tok},
		"other ordering": {Filter: `channel = "web"`, OrderBy: "create_time", PageToken: tok},
		"garbage":        {Filter: `channel = "web"`, PageToken: "not-a-token"},
	} {
		if _, err := listFromProto(req); !errors.Is(err, order.ErrInvalidPageToken) {
			t.Errorf("%s: err = %v, want ErrInvalidPageToken", name, err)
		}
	}
}

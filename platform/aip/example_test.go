package aip_test

import (
	"fmt"
	"time"

	"google.golang.org/grpc/status"

	"github.com/transload/transload/platform/aip"
)

type order struct {
	ID      string
	Created time.Time
}

// A list handler declares its filter once, parses the request's filter,
// decodes the page token against the same query, and finishes the page
// with KeysetPage.
func Example() {
	states := map[string]int32{"STATE_UNSPECIFIED": 0, "STATE_RECEIVED": 1, "STATE_SHIPPED": 2}
	schema := aip.Schema{
		{Name: "customer_id"},
		{Name: "state", Kind: aip.KindEnum, Enum: states, EnumPrefix: "STATE_"},
		{Name: "create_time", Kind: aip.KindTime, Ops: []aip.Op{aip.OpGe, aip.OpLt}},
	}

	filter := `customer_id = "C-100" AND state = SHIPPED AND create_time >= "2026-11-01T00:00:00Z"`
	f, err := schema.Parse(filter)
	if err != nil {
		fmt.Println(err)
		return
	}
	state, _ := f.Find("state", aip.OpEq)
	from, _ := f.Find("create_time", aip.OpGe)
	fmt.Println("state", state.Enum, "from", from.Time.Format(time.DateOnly))
	fmt.Println(f)

	// First page: no token. The store returns up to size+1 rows after the
	// cursor (none yet).
	q := aip.Query{Method: "order.v1.ListOrders", Caller: "key-1", Filter: filter}
	size := int(aip.ClampPageSize(2, aip.DefaultPageSize, aip.MaxPageSize))
	t0 := time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)
	rows := []order{{"o-1", t0}, {"o-2", t0.Add(time.Hour)}, {"o-3", t0.Add(2 * time.Hour)}}
	page, next := aip.KeysetPage(rows, size, q, func(o order) []aip.Key {
		return []aip.Key{aip.KeyOf(o.Created), aip.KeyOf(o.ID)}
	})
	fmt.Println(len(page), "orders, more:", next != "")

	// Second page: the token resumes after o-2 for the same query only.
	var after time.Time
	var afterID string
	if err := aip.DecodePageToken(next, q, &after, &afterID); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("after", afterID, after.Format(time.TimeOnly))

	other := q
	other.Filter = `state = RECEIVED`
	err = aip.DecodePageToken(next, other, &after, &afterID)
	fmt.Println(status.Code(err))

	_, err = schema.Parse(`colour = "red"`)
	fmt.Println(status.Code(err), err)
	// Output:
	// state 2 from 2026-11-01
	// customer_id = "C-100" AND state = SHIPPED AND create_time >= "2026-11-01T00:00:00Z"
	// 2 orders, more: true
	// after o-2 10:00:00
	// InvalidArgument
	// InvalidArgument filter: unknown field "colour"; use customer_id, state or create_time (at offset 0)
}

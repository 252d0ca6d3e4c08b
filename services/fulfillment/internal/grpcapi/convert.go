package grpcapi

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"time"

	fulfillmentv1 "github.com/transload/transload/gen/transload/fulfillment/v1"
	"github.com/transload/transload/services/fulfillment/internal/fulfillment"
)

// parseParent returns the order id of "orders/{order}" ("" for "orders/-").
// The shape is enforced by protovalidate.
func parseParent(parent string) string {
	order := strings.TrimPrefix(parent, "orders/")
	if order == "-" {
		return ""
	}
	return order
}

// parseName splits "orders/{order}/{collection}/{id}"; order is "" for "-".
func parseName(name string) (order, id string) {
	parts := strings.Split(name, "/")
	if len(parts) != 4 {
		return "", ""
	}
	order, id = parts[1], parts[3]
	if order == "-" {
		order = ""
	}
	return order, id
}

// clause is one `field op value` comparison of an AIP-160 filter.
type clause struct {
	field, op, value string
}

// parseFilter parses the supported AIP-160 subset: comparisons (=, >=, <)
// joined by AND; values are bare words or double-quoted strings.
func parseFilter(filter string) ([]clause, error) {
	filter = strings.TrimSpace(filter)
	if filter == "" {
		return nil, nil
	}
	var out []clause
	for _, part := range splitAnd(filter) {
		part = strings.TrimSpace(part)
		var c clause
		for _, op := range []string{">=", "<=", "!=", "=", "<", ">"} {
			if i := strings.Index(part, op); i > 0 {
				c = clause{field: strings.TrimSpace(part[:i]), op: op, value: strings.TrimSpace(part[i+len(op):])}
				break
			}
		}
		if c.field == "" || c.value == "" {
			return nil, &badFieldError{field: "filter", reason: "INVALID_FILTER", msg: "cannot parse filter term " + quote(part)}
		}
		if len(c.value) >= 2 && c.value[0] == '"' && c.value[len(c.value)-1] == '"' {
			c.value = c.value[1 : len(c.value)-1]
		}
		out = append(out, c)
	}
	return out, nil
}

// splitAnd splits on the AND keyword outside double quotes.
func splitAnd(s string) []string {
	var parts []string
	inQuote := false
	start := 0
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] == '"':
			inQuote = !inQuote
		case !inQuote && i+5 <= len(s) && s[i:i+5] == " AND ":
			parts = append(parts, s[start:i])
			start = i + 5
			i += 4
		}
	}
	return append(parts, s[start:])
}

func quote(s string) string { return `"` + s + `"` }

func unsupported(c clause) error {
	return &badFieldError{field: "filter", reason: "UNSUPPORTED_FILTER",
		msg: "unsupported filter term " + quote(c.field+" "+c.op+" "+c.value)}
}

func parseTime(c clause) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, c.value)
	if err != nil {
		return time.Time{}, &badFieldError{field: "filter", reason: "INVALID_FILTER", msg: c.field + " needs an RFC 3339 time"}
	}
	return t.UTC(), nil
}

func requestFilterFromProto(req *fulfillmentv1.ListFulfillmentRequestsRequest) (fulfillment.RequestFilter, error) {
	f := fulfillment.RequestFilter{
		OrderID:   parseParent(req.GetParent()),
		PageSize:  int(req.GetPageSize()),
		PageToken: req.GetPageToken(),
		Desc:      strings.HasSuffix(req.GetOrderBy(), " desc"),
	}
	clauses, err := parseFilter(req.GetFilter())
	if err != nil {
		return f, err
	}
	for _, c := range clauses {
		switch {
		case c.field == "state" && c.op == "=":
			v, ok := fulfillmentv1.FulfillmentRequest_State_value["STATE_"+c.value]
			if !ok || v == 0 {
				return f, unsupported(c)
			}
			f.State = fulfillment.RequestState(v)
		case c.field == "warehouse_id" && c.op == "=":
			f.WarehouseID = c.value
		case c.field == "customer_id" && c.op == "=":
			f.CustomerID = c.value
		case c.field == "create_time" && c.op == ">=":
			if f.CreatedFrom, err = parseTime(c); err != nil {
				return f, err
			}
		case c.field == "create_time" && c.op == "<":
			if f.CreatedBefore, err = parseTime(c); err != nil {
				return f, err
			}
		default:
			return f, unsupported(c)
		}
	}
	return f, nil
}

func shipmentFilterFromProto(req *fulfillmentv1.ListShipmentsRequest) (fulfillment.ShipmentFilter, error) {
	f := fulfillment.ShipmentFilter{
		OrderID:      parseParent(req.GetParent()),
		PageSize:     int(req.GetPageSize()),
		PageToken:    req.GetPageToken(),
		Desc:         strings.HasSuffix(req.GetOrderBy(), " desc"),
		ByUpdateTime: strings.HasPrefix(req.GetOrderBy(), "update_time"),
	}
	clauses, err := parseFilter(req.GetFilter())
	if err != nil {
		return f, err
	}
	for _, c := range clauses {
		switch {
		case c.field == "state" && c.op == "=":
			v, ok := fulfillmentv1.Shipment_State_value["STATE_"+c.value]
			if !ok || v == 0 {
				return f, unsupported(c)
			}
			f.State = fulfillment.ShipmentState(v)
		case c.field == "warehouse_id" && c.op == "=":
			f.WarehouseID = c.value
		case c.field == "customer_id" && c.op == "=":
			f.CustomerID = c.value
		case c.field == "fulfillment_request_id" && c.op == "=":
			f.RequestID = c.value
		case c.field == "tracking_number" && c.op == "=":
			f.TrackingNumber = c.value
		case c.field == "update_time" && c.op == ">=":
			if f.UpdatedFrom, err = parseTime(c); err != nil {
				return f, err
			}
		case c.field == "update_time" && c.op == "<":
			if f.UpdatedBefore, err = parseTime(c); err != nil {
				return f, err
			}
		default:
			return f, unsupported(c)
		}
	}
	return f, nil
}

// fingerprint is a short hash of a mutation's payload, stored with its
// idempotency key.
func fingerprint(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

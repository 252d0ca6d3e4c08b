package grpcapi

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	orderv1 "github.com/transload/transload/gen/transload/order/v1"
	"github.com/transload/transload/services/order/internal/order"
	"github.com/transload/transload/services/order/internal/orderpb"
)

// orderIDFromName returns the {order} of "orders/{order}" (the pattern is
// enforced by protovalidate).
func orderIDFromName(name string) string { return strings.TrimPrefix(name, "orders/") }

func createFromProto(r *orderv1.CreateOrderRequest, actor order.Actor, corr string) order.CreateParams {
	p := order.CreateParams{
		RequestID: r.GetRequestId(), CustomerID: r.GetCustomerId(), Channel: r.GetChannel(),
		Currency: r.GetCurrencyCode(), ShipTo: orderpb.AddressFromProto(r.GetShipTo()),
		CustomerPONumber: r.GetCustomerPoNumber(), Notes: r.GetNotes(), Actor: actor, CorrelationID: corr,
	}
	for _, l := range r.GetLines() {
		p.Lines = append(p.Lines, order.QuoteLine{SKU: l.GetSku(), Quantity: l.GetQuantity()})
	}
	if et := r.GetExpectedTotal(); et != nil {
		p.HasExpectedTotal = true
		p.ExpectedTotalMinor = et.GetAmountMinor()
		p.ExpectedCurrency = et.GetCurrencyCode()
	}
	return p
}

func progressFromProto(r *orderv1.RecordShipmentProgressRequest, actor order.Actor, corr string) order.ProgressParams {
	p := order.ProgressParams{
		OrderID: orderIDFromName(r.GetName()), EventID: r.GetEventId(), ShipmentID: r.GetShipmentId(),
		FulfillmentRequestID: r.GetFulfillmentRequestId(), WarehouseID: r.GetWarehouseId(),
		Milestone: order.Milestone(r.GetMilestone()), TrackingNumber: r.GetTrackingNumber(),
		OccurredAt: r.GetOccurTime().AsTime(), Actor: actor, CorrelationID: corr,
	}
	for _, l := range r.GetLines() {
		p.Lines = append(p.Lines, order.ShipmentLine{LineID: l.GetLineId(), Quantity: l.GetQuantity()})
	}
	return p
}

// listQuery is a parsed ListOrders request.
type listQuery struct {
	order.ListQuery
	// fingerprint binds page tokens to the filter and ordering.
	fingerprint string
}

const defaultPageSize = 50

// pageToken is the opaque cursor of ListOrders (base64url JSON).
type pageToken struct {
	Fingerprint string `json:"f"`
	CreatedUS   int64  `json:"t"`
	OrderID     string `json:"o"`
}

func encodePageToken(t pageToken) string {
	b, _ := json.Marshal(t) // plain struct; cannot fail
	return base64.RawURLEncoding.EncodeToString(b)
}

func listFromProto(r *orderv1.ListOrdersRequest) (listQuery, error) {
	var q listQuery
	size := int(r.GetPageSize())
	if size == 0 {
		size = defaultPageSize
	}
	q.Limit = size
	ob := strings.TrimSpace(r.GetOrderBy())
	q.Ascending = ob == "create_time" || ob == "create_time asc"
	if err := parseFilter(r.GetFilter(), &q.ListQuery); err != nil {
		return q, err
	}
	sum := sha256.Sum256([]byte(r.GetFilter() + "\x00" + fmt.Sprint(q.Ascending)))
	q.fingerprint = hex.EncodeToString(sum[:8])
	if tok := r.GetPageToken(); tok != "" {
		b, err := base64.RawURLEncoding.DecodeString(tok)
		var pt pageToken
		if err != nil || json.Unmarshal(b, &pt) != nil || pt.Fingerprint != q.fingerprint || pt.OrderID == "" {
			return q, order.ErrInvalidPageToken
		}
		q.AfterCreatedAt = time.UnixMicro(pt.CreatedUS).UTC()
		q.AfterID = pt.OrderID
	}
	return q, nil
}

// parseFilter parses the AIP-160 subset of ListOrders: comparisons joined
// by AND; customer_id = "..", channel = "..", state = NAME,
// create_time >= "RFC3339", create_time < "RFC3339".
func parseFilter(f string, q *order.ListQuery) error {
	toks, err := tokenize(f)
	if err != nil {
		return &order.InvalidArgumentError{Field: "filter", Message: err.Error()}
	}
	bad := func(msg string) error { return &order.InvalidArgumentError{Field: "filter", Message: msg} }
	seen := map[string]bool{}
	for i := 0; i < len(toks); {
		if i > 0 {
			if toks[i].text != "AND" || toks[i].quoted {
				return bad("comparisons must be joined by AND")
			}
			i++
		}
		if i+3 > len(toks) {
			return bad("incomplete comparison")
		}
		field, op, val := toks[i], toks[i+1], toks[i+2]
		i += 3
		key := field.text + op.text
		if seen[key] {
			return bad(field.text + " appears more than once")
		}
		seen[key] = true
		switch {
		case field.text == "customer_id" && op.text == "=" && val.quoted:
			q.CustomerID = val.text
		case field.text == "channel" && op.text == "=" && val.quoted:
			q.Channel = val.text
		case field.text == "state" && op.text == "=" && !val.quoted:
			v, ok := orderv1.Order_State_value["STATE_"+val.text]
			if !ok || v == 0 {
				return bad("unknown state " + val.text)
			}
			q.State = order.State(v)
		case field.text == "create_time" && (op.text == ">=" || op.text == "<") && val.quoted:
			t, err := time.Parse(time.RFC3339Nano, val.text)
			if err != nil {
				return bad("create_time needs an RFC 3339 time")
			}
			if op.text == ">=" {
				q.CreatedFrom = t.UTC()
			} else {
				q.CreatedBefore = t.UTC()
			}
		default:
			return bad(fmt.Sprintf("unsupported comparison %s %s", field.text, op.text))
		}
	}
	return nil
}

type token struct {
	text   string
	quoted bool
}

func tokenize(s string) ([]token, error) {
	var out []token
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n':
			i++
		case c == '"':
			j := i + 1
			var b strings.Builder
			for ; j < len(s) && s[j] != '"'; j++ {
				if s[j] == '\\' && j+1 < len(s) {
					j++
				}
				b.WriteByte(s[j])
			}
			if j >= len(s) {
				return nil, fmt.Errorf("unterminated string")
			}
			out = append(out, token{text: b.String(), quoted: true})
			i = j + 1
		case c == '=':
			out = append(out, token{text: "="})
			i++
		case c == '>' || c == '<':
			if i+1 < len(s) && s[i+1] == '=' {
				out = append(out, token{text: s[i : i+2]})
				i += 2
			} else {
				out = append(out, token{text: s[i : i+1]})
				i++
			}
		default:
			j := i
			for j < len(s) && !strings.ContainsRune(" \t\n=<>\"", rune(s[j])) {
				j++
			}
			out = append(out, token{text: s[i:j]})
			i = j
		}
	}
	return out, nil
}

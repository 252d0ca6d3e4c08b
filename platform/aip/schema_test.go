package aip

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var testStates = map[string]int32{"STATE_UNSPECIFIED": 0, "STATE_RECEIVED": 1, "STATE_CONFIRMED": 2, "STATE_SHIPPED": 3}

var errChannel = errors.New("channel must be a channel code")

var testSchema = Schema{
	{Name: "customer_id"},
	{Name: "channel", Check: func(t Term) error {
		if t.Value.Text == "" || strings.ToLower(t.Value.Text) != t.Value.Text {
			return errChannel
		}
		return nil
	}},
	{Name: "state", Kind: KindEnum, Enum: testStates, EnumPrefix: "STATE_", Ops: []Op{OpEq, OpNe}},
	{Name: "create_time", Kind: KindTime, Ops: []Op{OpGe, OpLt}},
	{Name: "quantity", Kind: KindInt, Ops: []Op{OpEq, OpGt, OpGe, OpLt, OpLe}},
	{Name: "active", Kind: KindBool},
	{Name: "sku", Ops: []Op{OpEq, OpHas}},
}

func TestSchemaValidate(t *testing.T) {
	t.Parallel()
	if err := testSchema.Validate(); err != nil {
		t.Fatalf("testSchema.Validate() = %v", err)
	}
	tests := []struct {
		name   string
		schema Schema
		want   string
	}{
		{"empty name", Schema{{Name: ""}}, "not a field path"},
		{"name with space", Schema{{Name: "a b"}}, "not a field path"},
		{"keyword name", Schema{{Name: "AND"}}, "not a field path"},
		{"twice", Schema{{Name: "a"}, {Name: "a"}}, `"a" declared twice`},
		{"unknown kind", Schema{{Name: "a", Kind: Kind(42)}}, "unknown kind Kind(42)"},
		{"enum without names", Schema{{Name: "a", Kind: KindEnum}}, "KindEnum needs Enum names"},
		{"enum map on string", Schema{{Name: "a", Enum: testStates}}, "for KindEnum only"},
		{"prefix matches nothing", Schema{{Name: "a", Kind: KindEnum, Enum: testStates, EnumPrefix: "KIND_"}}, `no Enum name starts with EnumPrefix "KIND_"`},
		{"empty ops", Schema{{Name: "a", Ops: []Op{}}}, "empty Ops"},
		{"unknown op", Schema{{Name: "a", Ops: []Op{"=="}}}, `unknown operator "=="`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tt.schema.Validate()
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Validate() = %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

func TestSchemaParse(t *testing.T) {
	t.Parallel()
	day := time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name, filter string
		want         []Term
	}{
		{"empty", "", nil},
		{"string quoted or bare", `customer_id = "C-100" AND channel = web`, []Term{
			{Field: "customer_id", Op: OpEq, Value: Value{Text: "C-100", Quoted: true}},
			{Field: "channel", Op: OpEq, Value: Value{Text: "web"}},
		}},
		{"enum without prefix", `state = SHIPPED`, []Term{
			{Field: "state", Op: OpEq, Value: Value{Text: "SHIPPED", Kind: KindEnum, Enum: 3}},
		}},
		{"enum with prefix and quotes", `state != "STATE_RECEIVED"`, []Term{
			{Field: "state", Op: OpNe, Value: Value{Text: "STATE_RECEIVED", Quoted: true, Kind: KindEnum, Enum: 1}},
		}},
		{"time range in UTC", `create_time >= "2026-11-27T01:00:00+01:00" AND create_time < 2026-11-28T00:00:00.5Z`, []Term{
			{Field: "create_time", Op: OpGe, Value: Value{Text: "2026-11-27T01:00:00+01:00", Quoted: true, Kind: KindTime, Time: day}},
			{Field: "create_time", Op: OpLt, Value: Value{Text: "2026-11-28T00:00:00.5Z", Kind: KindTime, Time: day.Add(24*time.Hour + 500*time.Millisecond)}},
		}},
		{"integers", `quantity > -3 AND quantity <= 9223372036854775807`, []Term{
			{Field: "quantity", Op: OpGt, Value: Value{Text: "-3", Kind: KindInt, Int: -3}},
			{Field: "quantity", Op: OpLe, Value: Value{Text: "9223372036854775807", Kind: KindInt, Int: 1<<63 - 1}},
		}},
		{"bool true", `active = true`, []Term{{Field: "active", Op: OpEq, Value: Value{Text: "true", Kind: KindBool, Bool: true}}}},
		{"bool false", `active = false`, []Term{{Field: "active", Op: OpEq, Value: Value{Text: "false", Kind: KindBool}}}},
		{"has prefix", `sku:"DRL-*"`, []Term{{Field: "sku", Op: OpHas, Value: Value{Text: "DRL-*", Quoted: true}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := testSchema.Parse(tt.filter)
			if err != nil {
				t.Fatalf("Parse(%q) error: %v", tt.filter, err)
			}
			if diff := cmp.Diff(tt.want, got.Terms, ignorePos); diff != "" {
				t.Errorf("Parse(%q) (-want +got):\n%s", tt.filter, diff)
			}
		})
	}
}

func TestSchemaParseErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, filter string
		pos          int
		msg          string
	}{
		{"syntax error passes through", `state = "x`, 8, "unterminated string"},
		{"unknown field", `a = 1 AND colour = red`, 0, `unknown field "a"; use customer_id, channel, state, create_time, quantity, active or sku`},
		{"operator not allowed", `customer_id != "C-1"`, 0, "customer_id does not support !=; use ="},
		{"operator not in list", `create_time = "2026-11-27T00:00:00Z"`, 0, "create_time does not support =; use >= or <"},
		{"repeated field and op", `state = SHIPPED AND customer_id = x AND state = RECEIVED`, 40, "state = appears more than once"},
		{"unknown enum", `state = LOST`, 0, `unknown state "LOST"; use RECEIVED, CONFIRMED or SHIPPED`},
		{"unspecified enum", `state = UNSPECIFIED`, 0, `unknown state "UNSPECIFIED"`},
		{"enum is case sensitive", `state = shipped`, 0, `unknown state "shipped"`},
		{"bad time", `create_time >= "yesterday"`, 0, `create_time needs an RFC 3339 time such as "2026-11-27T00:00:00Z", not "yesterday"`},
		{"date only", `create_time >= 2026-11-27`, 0, "needs an RFC 3339 time"},
		{"bad int", `quantity > 1.5`, 0, `quantity needs an integer, not "1.5"`},
		{"int overflow", `quantity > 9223372036854775808`, 0, "quantity needs an integer"},
		{"bad bool", `active = TRUE`, 0, `active needs true or false, not "TRUE"`},
		{"check rejects", `customer_id = x AND channel = WEB`, 20, "channel must be a channel code"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := testSchema.Parse(tt.filter)
			checkFilterError(t, tt.filter, err, tt.pos, tt.msg)
		})
	}
}

func TestSchemaParseCheckCause(t *testing.T) {
	t.Parallel()
	_, err := testSchema.Parse(`channel = WEB`)
	if !errors.Is(err, errChannel) {
		t.Errorf("errors.Is(%v, errChannel) = false; the Check error must stay reachable", err)
	}
}

func TestEmptySchemaTakesNoFilter(t *testing.T) {
	t.Parallel()
	if _, err := (Schema{}).Parse(""); err != nil {
		t.Errorf(`Parse("") = %v`, err)
	}
	_, err := Schema{}.Parse("a = 1")
	var fe *FilterError
	if !errors.As(err, &fe) || fe.Msg != "this list takes no filter" {
		t.Errorf(`Parse("a = 1") = %v, want "this list takes no filter"`, err)
	}
}

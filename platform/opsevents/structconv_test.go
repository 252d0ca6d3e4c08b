package opsevents

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/encoding/prototext"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/testing/protocmp"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	// Every contract message registers itself, for the sweep over them.
	_ "github.com/transload/transload/gen/transload/catalog/v1"
	commonv1 "github.com/transload/transload/gen/transload/common/v1"
	_ "github.com/transload/transload/gen/transload/erp/v1"
	fulfillmentv1 "github.com/transload/transload/gen/transload/fulfillment/v1"
	inventoryv1 "github.com/transload/transload/gen/transload/inventory/v1"
	_ "github.com/transload/transload/gen/transload/ops/v1"
	orderv1 "github.com/transload/transload/gen/transload/order/v1"
	_ "github.com/transload/transload/gen/transload/storefront/v1"
	_ "github.com/transload/transload/gen/transload/wms/v1"
)

// roundTrip is what toStruct did before messageStruct: the message's
// protobuf JSON read back as a Struct.
func roundTrip(m proto.Message) (*structpb.Struct, error) {
	return jsonStruct(protojson.Marshal(m))
}

// checkSame fails t unless toStruct(m) is exactly the round trip's Struct
// (or error), and unless messageStruct, when it renders m itself, renders
// the round trip's Struct. It reports whether messageStruct rendered m.
func checkSame(t testing.TB, m proto.Message) (direct bool) {
	t.Helper()
	want, wantErr := roundTrip(m)
	direct_, ok := messageStruct(m.ProtoReflect())
	if ok && wantErr != nil {
		t.Fatalf("%s: messageStruct rendered %v where the round trip fails: %v\nmessage: %v",
			m.ProtoReflect().Descriptor().FullName(), direct_, wantErr, prototext.Format(m))
	}
	got, gotErr := toStruct(m)
	if fmt.Sprint(gotErr) != fmt.Sprint(wantErr) {
		t.Fatalf("%s: toStruct error %v, round trip error %v", m.ProtoReflect().Descriptor().FullName(), gotErr, wantErr)
	}
	if ok {
		sameStruct(t, m, want, direct_)
	}
	sameStruct(t, m, want, got)
	return ok
}

// sameStruct fails t unless got is want, down to the bits of every number
// (proto.Equal alone takes -0 for 0).
func sameStruct(t testing.TB, m proto.Message, want, got *structpb.Struct) {
	t.Helper()
	if diff := cmp.Diff(want, got, protocmp.Transform()); diff != "" {
		t.Fatalf("%s: converted Struct differs from the round trip (-want +got):\n%s\nmessage: %v",
			m.ProtoReflect().Descriptor().FullName(), diff, prototext.Format(m))
	}
	det := proto.MarshalOptions{Deterministic: true}
	wb, err1 := det.Marshal(want)
	gb, err2 := det.Marshal(got)
	if err1 != nil || err2 != nil || string(wb) != string(gb) {
		t.Fatalf("%s: converted Struct encodes differently from the round trip (%v, %v)\nwant %v\ngot  %v",
			m.ProtoReflect().Descriptor().FullName(), err1, err2, want, got)
	}
}

// auditedTypes are the messages the services pass to Record as before and
// after (orderpb.Encoder.Audit, fulfillmentpb.withAudit,
// inventory's events.*Audit and ReconciliationStarted).
func auditedTypes() []proto.Message {
	return []proto.Message{
		&orderv1.Order{}, &orderv1.ErpQueueEntry{},
		&fulfillmentv1.FulfillmentRequest{},
		&inventoryv1.Reservation{}, &inventoryv1.StockLevel{}, &inventoryv1.Reconciliation{},
	}
}

// sampleOrder is an order as the order service audits one: three lines with
// allocations, totals, an ERP submission and a state history.
func sampleOrder() *orderv1.Order {
	at := func(s int) *timestamppb.Timestamp {
		return timestamppb.New(time.Date(2026, 12, 7, 10, 0, s, 123456000, time.UTC))
	}
	money := func(m int64) *commonv1.Money { return &commonv1.Money{CurrencyCode: "EUR", AmountMinor: m} }
	o := &orderv1.Order{
		Name: "orders/O-7f3a9c", OrderId: "O-7f3a9c", CustomerId: "C-1001", Channel: "storefront", CurrencyCode: "EUR",
		ShipTo: &commonv1.Address{Recipient: "Müller GmbH", Lines: []string{"Hauptstraße 5", "Tor 2"},
			Locality: "Berlin", PostalCode: "10115", RegionCode: "DE"},
		Totals:          &orderv1.OrderTotals{Subtotal: money(12990), Tax: money(2468), Total: money(15458)},
		State:           orderv1.Order_STATE_CONFIRMED,
		CreateRequestId: "req-42", CustomerPoNumber: "PO-77", ReservationId: "R-9", ErpOrderReference: "SO-100233",
		ErpSubmission: &orderv1.ErpSubmission{AttemptCount: 1, LastAttemptTime: at(2)},
		CreateTime:    at(0), UpdateTime: at(3), ConfirmTime: at(3), Etag: `W/"4"`,
	}
	for i := range 3 {
		o.Lines = append(o.Lines, &orderv1.OrderLine{
			LineId: fmt.Sprintf("L%d", i+1), Sku: fmt.Sprintf("SKU-%04d", 17*i+3), Quantity: int64(i + 1), Unit: "EA",
			UnitPrice: money(4330), ExtendedPrice: money(4330 * int64(i+1)), PriceRuleId: "rule-base", PriceQuoteId: "q-1",
			Allocations: []*orderv1.LineAllocation{{WarehouseId: "WH-1", AllocatedQuantity: int64(i + 1)}},
		})
	}
	for i, st := range []orderv1.Order_State{orderv1.Order_STATE_ACCEPTED_PENDING_ERP, orderv1.Order_STATE_CONFIRMED} {
		o.StateHistory = append(o.StateHistory, &orderv1.OrderStateChange{
			PreviousState: orderv1.Order_State(i), State: st, OccurTime: at(i * 3),
			Actor: &commonv1.AuditActor{Kind: "service", Id: "order"}, CorrelationId: "corr-1",
		})
	}
	return o
}

// TestAuditedMessagesConvertDirectly proves the converter on the messages
// the services audit: each converts without the round trip, to exactly the
// round trip's Struct, both as the order service's sample order and
// populated in every field and at random.
func TestAuditedMessagesConvertDirectly(t *testing.T) {
	t.Parallel()
	if !checkSame(t, sampleOrder()) {
		t.Fatal("the sample order took the round trip")
	}
	r := rand.New(rand.NewPCG(12, 1))
	for _, typ := range auditedTypes() {
		full := typ.ProtoReflect().New()
		(&filler{r: r}).fill(full, 0)
		if !checkSame(t, full.Interface()) {
			t.Errorf("%s populated in every field took the round trip", full.Descriptor().FullName())
		}
		for range 200 {
			m := typ.ProtoReflect().New()
			(&filler{r: r, skip: 0.4, wild: true}).fill(m, 0)
			checkSame(t, m.Interface())
		}
	}
}

// TestContractMessagesMatchTheRoundTrip sweeps every message of the
// contracts (gen) and of descriptorpb (rich: nested messages, enums,
// repeated, int64, bytes, options, proto2 required fields), populated at
// random with fixed seeds.
func TestContractMessagesMatchTheRoundTrip(t *testing.T) {
	t.Parallel()
	var types []protoreflect.MessageType
	protoregistry.GlobalTypes.RangeMessages(func(mt protoreflect.MessageType) bool {
		name := mt.Descriptor().FullName()
		if name == "google.protobuf.Struct" {
			return true // toStruct passes a Struct through as it is
		}
		if strings.HasPrefix(string(name), "transload.") || name.Parent() == "google.protobuf" {
			types = append(types, mt)
		}
		return true
	})
	if len(types) < 100 {
		t.Fatalf("only %d message types registered", len(types))
	}
	direct := 0
	for i, mt := range types {
		r := rand.New(rand.NewPCG(uint64(i), 7))
		for range 20 {
			m := mt.New()
			(&filler{r: r, skip: 0.5, wild: true}).fill(m, 0)
			if checkSame(t, m.Interface()) {
				direct++
			}
		}
	}
	if direct < len(types)*20/3 {
		t.Errorf("only %d of %d messages converted directly", direct, len(types)*20)
	}
}

// TestRandomRichMessagesMatchTheRoundTrip is the property: for random
// messages of a type holding every field kind, as singular, proto3
// optional, oneof, repeated and map fields (every key kind), and every
// well-known type, the converter's Struct is the round trip's; and it
// does render most of them itself.
func TestRandomRichMessagesMatchTheRoundTrip(t *testing.T) {
	t.Parallel()
	rich, legacy := richTypes(t)
	direct, total := 0, 0
	for seed := range uint64(1000) {
		r := rand.New(rand.NewPCG(seed, 99))
		mt := rich
		if seed%5 == 0 {
			mt = legacy
		}
		m := mt.New()
		(&filler{r: r, skip: 0.92, wild: true}).fill(m, 0)
		if checkSame(t, m.Interface()) {
			direct++
		}
		total++
	}
	if direct < total/3 {
		t.Errorf("only %d of %d random messages converted directly", direct, total)
	}
}

// FuzzMessageStruct runs the property from a seed (`go test -fuzz
// FuzzMessageStruct` explores further).
func FuzzMessageStruct(f *testing.F) {
	for seed := range uint64(20) {
		f.Add(seed, 0.25)
	}
	rich, legacy := richTypes(f)
	f.Fuzz(func(t *testing.T, seed uint64, skip float64) {
		r := rand.New(rand.NewPCG(seed, seed>>32))
		mt := rich
		if seed%4 == 0 {
			mt = legacy
		}
		m := mt.New()
		// Leave out at least half the fields: a Rich with every field set
		// three levels deep is too large to fuzz quickly.
		(&filler{r: r, skip: 0.5 + math.Mod(math.Abs(skip), 0.5), wild: true}).fill(m, 0)
		checkSame(t, m.Interface())
	})
}

// TestRareCasesFallBackToTheRoundTrip pins what the converter leaves to the
// round trip, and that toStruct's answer is still the round trip's.
func TestRareCasesFallBackToTheRoundTrip(t *testing.T) {
	t.Parallel()
	rich, legacy := richTypes(t)
	set := func(mt protoreflect.MessageType, field string, v func(m protoreflect.Message, fd protoreflect.FieldDescriptor) protoreflect.Value) proto.Message {
		m := mt.New()
		fd := m.Descriptor().Fields().ByName(protoreflect.Name(field))
		if fd == nil {
			t.Fatalf("no field %s", field)
		}
		m.Set(fd, v(m, fd))
		return m.Interface()
	}
	msg := func(p proto.Message) func(protoreflect.Message, protoreflect.FieldDescriptor) protoreflect.Value {
		return func(protoreflect.Message, protoreflect.FieldDescriptor) protoreflect.Value {
			return protoreflect.ValueOfMessage(p.ProtoReflect())
		}
	}
	str := func(s string) func(protoreflect.Message, protoreflect.FieldDescriptor) protoreflect.Value {
		return func(protoreflect.Message, protoreflect.FieldDescriptor) protoreflect.Value {
			return protoreflect.ValueOfString(s)
		}
	}
	anyMsg, _ := anypb.New(&commonv1.Money{CurrencyCode: "EUR", AmountMinor: 5})
	deep := rich.New()
	cur := deep
	for range maxStructDepth + 5 {
		fd := cur.Descriptor().Fields().ByName("f_message")
		cur = cur.Mutable(fd).Message()
	}
	cur.Set(cur.Descriptor().Fields().ByName("f_string"), protoreflect.ValueOfString("bottom"))
	withExt := legacy.New()
	withExt.Set(legacy.Descriptor().Fields().ByName("req"), protoreflect.ValueOfInt32(1))
	ext := dynamicpb.NewExtensionType(legacy.Descriptor().ParentFile().Extensions().ByName("ext_note"))
	withExt.Set(ext.TypeDescriptor(), protoreflect.ValueOfString("x"))

	for name, m := range map[string]proto.Message{
		"Any":                     set(rich, "f_any", msg(anyMsg)),
		"FieldMask":               set(rich, "f_field_mask", msg(&fieldmaskpb.FieldMask{Paths: []string{"a_b"}})),
		"invalid UTF-8":           set(rich, "f_string", str("bad \xff")),
		"invalid UTF-8 in Struct": set(rich, "f_struct", msg(&structpb.Struct{Fields: map[string]*structpb.Value{"\xfe": structpb.NewNullValue()}})),
		"timestamp out of range":  set(rich, "f_timestamp", msg(&timestamppb.Timestamp{Seconds: maxTimestampSeconds + 1})),
		"negative nanos":          set(rich, "f_timestamp", msg(&timestamppb.Timestamp{Nanos: -1})),
		"duration signs differ":   set(rich, "f_duration", msg(&durationpb.Duration{Seconds: 1, Nanos: -1})),
		"Value without a kind":    set(rich, "f_value", msg(&structpb.Value{})),
		"NaN in a Value":          set(rich, "f_value", msg(structpb.NewNumberValue(math.NaN()))),
		"infinity in a ListValue": set(rich, "f_list_value", msg(&structpb.ListValue{Values: []*structpb.Value{structpb.NewNumberValue(math.Inf(-1))}})),
		"top-level Timestamp":     timestamppb.New(time.Unix(5, 0)),
		"top-level wrapper":       wrapperspb.String("x"),
		"required field unset":    legacy.New().Interface(),
		"extension":               withExt.Interface(),
		"nested too deep":         deep.Interface(),
	} {
		if _, ok := messageStruct(m.ProtoReflect()); ok {
			t.Errorf("%s: converted directly, want the round trip", name)
		}
		checkSame(t, m)
	}
	// The fallback still answers: an Any renders as the round trip does.
	got, err := toStruct(set(rich, "f_any", msg(anyMsg)))
	if err != nil || got.GetFields()["fAny"].GetStructValue().GetFields()["amountMinor"].GetStringValue() != "5" {
		t.Errorf("Any through the round trip = %v, %v", got, err)
	}
}

// TestSpecialValuesConvertDirectly covers the protojson forms that are easy
// to get subtly wrong, each rendered by the converter itself.
func TestSpecialValuesConvertDirectly(t *testing.T) {
	t.Parallel()
	rich, _ := richTypes(t)
	cases := map[string]func(m protoreflect.Message){}
	for _, f := range []float64{math.NaN(), math.Inf(1), math.Inf(-1), math.Copysign(0, -1), 0.1, 1e-7, 1e21, 3.4028235e38, math.MaxFloat64, math.SmallestNonzeroFloat64, 16777217} {
		cases[fmt.Sprintf("float %v", f)] = func(m protoreflect.Message) {
			m.Set(m.Descriptor().Fields().ByName("f_float"), protoreflect.ValueOfFloat32(float32(f)))
			m.Set(m.Descriptor().Fields().ByName("f_double"), protoreflect.ValueOfFloat64(f))
			m.Set(m.Descriptor().Fields().ByName("f_float_value"), protoreflect.ValueOfMessage(wrapperspb.Float(float32(f)).ProtoReflect()))
		}
	}
	for _, ts := range []*timestamppb.Timestamp{{Seconds: minTimestampSeconds}, {Seconds: maxTimestampSeconds, Nanos: maxNanos}, {Nanos: 1000}, {Nanos: 1000000}, {Seconds: -1, Nanos: 5}} {
		cases[fmt.Sprintf("timestamp %v", ts)] = func(m protoreflect.Message) {
			m.Set(m.Descriptor().Fields().ByName("f_timestamp"), protoreflect.ValueOfMessage(ts.ProtoReflect()))
		}
	}
	for _, d := range []*durationpb.Duration{{}, {Seconds: -maxDurationSeconds, Nanos: -maxNanos}, {Nanos: -5}, {Seconds: 3, Nanos: 120000000}, {Seconds: maxDurationSeconds}} {
		cases[fmt.Sprintf("duration %v", d)] = func(m protoreflect.Message) {
			m.Set(m.Descriptor().Fields().ByName("f_duration"), protoreflect.ValueOfMessage(d.ProtoReflect()))
		}
	}
	cases["unknown enum number"] = func(m protoreflect.Message) {
		m.Set(m.Descriptor().Fields().ByName("f_enum"), protoreflect.ValueOfEnum(42))
	}
	cases["null value"] = func(m protoreflect.Message) {
		m.Set(m.Descriptor().Fields().ByName("o_null"), protoreflect.ValueOfEnum(0))
	}
	cases["empty proto3 optional and oneof"] = func(m protoreflect.Message) {
		m.Set(m.Descriptor().Fields().ByName("o_string"), protoreflect.ValueOfString(""))
		m.Set(m.Descriptor().Fields().ByName("c_int64"), protoreflect.ValueOfInt64(0))
	}
	cases["int64 extremes and bytes"] = func(m protoreflect.Message) {
		m.Set(m.Descriptor().Fields().ByName("f_int64"), protoreflect.ValueOfInt64(math.MinInt64))
		m.Set(m.Descriptor().Fields().ByName("f_uint64"), protoreflect.ValueOfUint64(math.MaxUint64))
		m.Set(m.Descriptor().Fields().ByName("f_bytes"), protoreflect.ValueOfBytes([]byte{0, 0xff, 0xfe, 'a'}))
	}
	cases["json name"] = func(m protoreflect.Message) {
		m.Set(m.Descriptor().Fields().ByName("custom_named"), protoreflect.ValueOfString("x"))
	}
	cases["empty message and Struct"] = func(m protoreflect.Message) {
		m.Set(m.Descriptor().Fields().ByName("f_empty"), protoreflect.ValueOfMessage((&emptypb.Empty{}).ProtoReflect()))
		m.Set(m.Descriptor().Fields().ByName("f_struct"), protoreflect.ValueOfMessage((&structpb.Struct{}).ProtoReflect()))
		m.Mutable(m.Descriptor().Fields().ByName("f_message"))
	}
	for name, setup := range cases {
		m := rich.New()
		setup(m)
		if !checkSame(t, m.Interface()) {
			t.Errorf("%s: took the round trip", name)
		}
	}
}

// filler populates messages at random.
type filler struct {
	r *rand.Rand
	// skip is the probability of leaving a field out (0 sets every field,
	// the last of a oneof winning).
	skip float64
	// wild allows, now and then, values protojson rejects: invalid UTF-8,
	// a Timestamp or Duration out of range.
	wild bool
}

// fill populates m: repeated and map fields get up to three entries, and
// messages nest up to depth 3. Values lean to the edges (zero, extremes,
// NaN and infinities, unknown enum numbers).
func (f *filler) fill(m protoreflect.Message, depth int) {
	r := f.r
	switch m.Descriptor().FullName() {
	case "google.protobuf.Timestamp":
		secs := r.Int64N(maxTimestampSeconds-minTimestampSeconds+1) + minTimestampSeconds
		if f.wild && r.IntN(20) == 0 {
			secs = maxTimestampSeconds + 1 + r.Int64N(10)
		}
		setWKT(m, secs, int64(nanos(r)))
		return
	case "google.protobuf.Duration":
		secs := r.Int64N(2*maxDurationSeconds+1) - maxDurationSeconds
		ns := int64(nanos(r))
		if secs < 0 || (secs == 0 && r.IntN(2) == 0) {
			ns = -ns
		}
		if f.wild && r.IntN(20) == 0 {
			ns = -ns
		}
		setWKT(m, secs, ns)
		return
	case "google.protobuf.Value":
		// One kind, as a Value must have (wild: sometimes none, or a
		// number JSON cannot hold).
		if f.wild && r.IntN(20) == 0 {
			if r.IntN(2) == 0 {
				m.Set(m.Descriptor().Fields().ByName("number_value"), protoreflect.ValueOfFloat64(math.Inf(1)))
			}
			return
		}
		kinds := m.Descriptor().Oneofs().ByName("kind").Fields()
		n := kinds.Len()
		if depth >= 3 {
			n = 4 // null, number, string, bool: no nesting
		}
		fd := kinds.Get(r.IntN(n))
		v := f.value(fd, func() protoreflect.Value { return m.NewField(fd) }, depth)
		if fd.Kind() == protoreflect.DoubleKind && (math.IsNaN(v.Float()) || math.IsInf(v.Float(), 0)) {
			v = protoreflect.ValueOfFloat64(1.5)
		}
		m.Set(fd, v)
		return
	}
	fields := m.Descriptor().Fields()
	for i := range fields.Len() {
		fd := fields.Get(i)
		if r.Float64() < f.skip || (depth >= 3 && fd.Message() != nil) {
			continue
		}
		if md := fd.Message(); md != nil && wellKnown(md.FullName()) == wktOther && r.IntN(10) != 0 {
			continue // an Any or FieldMask takes the whole message to the round trip
		}
		switch {
		case fd.IsList():
			l := m.Mutable(fd).List()
			for range r.IntN(4) {
				l.Append(f.value(fd, l.NewElement, depth))
			}
		case fd.IsMap():
			mp := m.Mutable(fd).Map()
			for range r.IntN(4) {
				k := f.value(fd.MapKey(), nil, depth).MapKey()
				mp.Set(k, f.value(fd.MapValue(), mp.NewValue, depth))
			}
		default:
			m.Set(fd, f.value(fd, func() protoreflect.Value { return m.NewField(fd) }, depth))
		}
	}
}

func setWKT(m protoreflect.Message, secs, ns int64) {
	m.Set(m.Descriptor().Fields().ByNumber(1), protoreflect.ValueOfInt64(secs))
	m.Set(m.Descriptor().Fields().ByNumber(2), protoreflect.ValueOfInt32(int32(ns)))
}

// nanos returns nanoseconds with 0, 3, 6 or 9 significant digits.
func nanos(r *rand.Rand) int {
	switch r.IntN(4) {
	case 0:
		return 0
	case 1:
		return r.IntN(1000) * 1000000
	case 2:
		return r.IntN(1000000) * 1000
	}
	return r.IntN(1000000000)
}

// value returns a random value of fd's kind; newMsg makes the message of a
// message kind.
func (f *filler) value(fd protoreflect.FieldDescriptor, newMsg func() protoreflect.Value, depth int) protoreflect.Value {
	r := f.r
	ints := []int64{0, 1, -1, math.MaxInt32, math.MinInt32, math.MaxInt64, math.MinInt64, 1 << 53, 1<<53 + 1}
	pickInt := func() int64 {
		if r.IntN(2) == 0 {
			return ints[r.IntN(len(ints))]
		}
		return r.Int64()
	}
	floats := []float64{0, math.Copysign(0, -1), math.NaN(), math.Inf(1), math.Inf(-1), 0.1, 1e-7, 1e21, 123.456, 3.4028235e38, 1e39, math.MaxFloat64, math.SmallestNonzeroFloat64}
	pickFloat := func() float64 {
		if r.IntN(2) == 0 {
			return floats[r.IntN(len(floats))]
		}
		return (r.Float64() - 0.5) * math.Pow(10, float64(r.IntN(40)-20))
	}
	switch fd.Kind() {
	case protoreflect.BoolKind:
		return protoreflect.ValueOfBool(r.IntN(2) == 0)
	case protoreflect.StringKind:
		strs := []string{"", "abc", "Hauptstraße 5", "quote \" backslash \\ newline \n tab \t", "\u2028\u0000<>&", "😀", "orders/O-1"}
		if f.wild && r.IntN(40) == 0 {
			return protoreflect.ValueOfString("bad \xff\xfe")
		}
		return protoreflect.ValueOfString(strs[r.IntN(len(strs))])
	case protoreflect.BytesKind:
		b := make([]byte, r.IntN(8))
		for i := range b {
			b[i] = byte(r.UintN(256))
		}
		return protoreflect.ValueOfBytes(b)
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		return protoreflect.ValueOfInt32(int32(pickInt()))
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		return protoreflect.ValueOfUint32(uint32(pickInt()))
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		return protoreflect.ValueOfInt64(pickInt())
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return protoreflect.ValueOfUint64(uint64(pickInt()))
	case protoreflect.FloatKind:
		return protoreflect.ValueOfFloat32(float32(pickFloat()))
	case protoreflect.DoubleKind:
		return protoreflect.ValueOfFloat64(pickFloat())
	case protoreflect.EnumKind:
		vals := fd.Enum().Values()
		if r.IntN(10) == 0 {
			return protoreflect.ValueOfEnum(protoreflect.EnumNumber(r.IntN(200) - 100))
		}
		return protoreflect.ValueOfEnum(vals.Get(r.IntN(vals.Len())).Number())
	case protoreflect.MessageKind, protoreflect.GroupKind:
	}
	v := newMsg()
	f.fill(v.Message(), depth+1)
	return v
}

// richTypes returns the dynamic test messages opsevents.test.Rich (proto3:
// every kind singular, optional, in a oneof, repeated and as map values
// under every key kind; every well-known type; a nested Rich; a custom
// json_name) and opsevents.test.Legacy (proto2: a required field, a group,
// an extension).
func richTypes(t testing.TB) (rich, legacy protoreflect.MessageType) {
	t.Helper()
	files := new(protoregistry.Files)
	for _, fdp := range richFiles() {
		for _, dep := range fdp.GetDependency() {
			if _, err := files.FindFileByPath(dep); err == nil {
				continue
			}
			d, err := protoregistry.GlobalFiles.FindFileByPath(dep)
			if err != nil {
				t.Fatal(err)
			}
			if err := files.RegisterFile(d); err != nil {
				t.Fatal(err)
			}
		}
		fd, err := protodesc.NewFile(fdp, files)
		if err != nil {
			t.Fatal(err)
		}
		if err := files.RegisterFile(fd); err != nil {
			t.Fatal(err)
		}
	}
	find := func(name protoreflect.FullName) protoreflect.MessageType {
		d, err := files.FindDescriptorByName(name)
		if err != nil {
			t.Fatal(err)
		}
		return dynamicpb.NewMessageType(d.(protoreflect.MessageDescriptor))
	}
	return find("opsevents.test.Rich"), find("opsevents.test.Legacy")
}

func richFiles() []*descriptorpb.FileDescriptorProto {
	type kind struct {
		name string
		typ  descriptorpb.FieldDescriptorProto_Type
		ref  string
	}
	scalars := []kind{
		{"bool", descriptorpb.FieldDescriptorProto_TYPE_BOOL, ""},
		{"string", descriptorpb.FieldDescriptorProto_TYPE_STRING, ""},
		{"bytes", descriptorpb.FieldDescriptorProto_TYPE_BYTES, ""},
		{"int32", descriptorpb.FieldDescriptorProto_TYPE_INT32, ""},
		{"sint32", descriptorpb.FieldDescriptorProto_TYPE_SINT32, ""},
		{"sfixed32", descriptorpb.FieldDescriptorProto_TYPE_SFIXED32, ""},
		{"uint32", descriptorpb.FieldDescriptorProto_TYPE_UINT32, ""},
		{"fixed32", descriptorpb.FieldDescriptorProto_TYPE_FIXED32, ""},
		{"int64", descriptorpb.FieldDescriptorProto_TYPE_INT64, ""},
		{"sint64", descriptorpb.FieldDescriptorProto_TYPE_SINT64, ""},
		{"sfixed64", descriptorpb.FieldDescriptorProto_TYPE_SFIXED64, ""},
		{"uint64", descriptorpb.FieldDescriptorProto_TYPE_UINT64, ""},
		{"fixed64", descriptorpb.FieldDescriptorProto_TYPE_FIXED64, ""},
		{"float", descriptorpb.FieldDescriptorProto_TYPE_FLOAT, ""},
		{"double", descriptorpb.FieldDescriptorProto_TYPE_DOUBLE, ""},
		{"enum", descriptorpb.FieldDescriptorProto_TYPE_ENUM, ".opsevents.test.Color"},
		{"null", descriptorpb.FieldDescriptorProto_TYPE_ENUM, ".google.protobuf.NullValue"},
	}
	msg := descriptorpb.FieldDescriptorProto_TYPE_MESSAGE
	messages := []kind{
		{"message", msg, ".opsevents.test.Rich"},
		{"timestamp", msg, ".google.protobuf.Timestamp"},
		{"duration", msg, ".google.protobuf.Duration"},
		{"bool_value", msg, ".google.protobuf.BoolValue"},
		{"int32_value", msg, ".google.protobuf.Int32Value"},
		{"int64_value", msg, ".google.protobuf.Int64Value"},
		{"uint32_value", msg, ".google.protobuf.UInt32Value"},
		{"uint64_value", msg, ".google.protobuf.UInt64Value"},
		{"float_value", msg, ".google.protobuf.FloatValue"},
		{"double_value", msg, ".google.protobuf.DoubleValue"},
		{"string_value", msg, ".google.protobuf.StringValue"},
		{"bytes_value", msg, ".google.protobuf.BytesValue"},
		{"struct", msg, ".google.protobuf.Struct"},
		{"value", msg, ".google.protobuf.Value"},
		{"list_value", msg, ".google.protobuf.ListValue"},
		{"empty", msg, ".google.protobuf.Empty"},
		{"any", msg, ".google.protobuf.Any"},
		{"field_mask", msg, ".google.protobuf.FieldMask"},
	}
	opt := descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL
	rep := descriptorpb.FieldDescriptorProto_LABEL_REPEATED
	rich := &descriptorpb.DescriptorProto{Name: proto.String("Rich")}
	n := int32(0)
	add := func(name string, label descriptorpb.FieldDescriptorProto_Label, k kind) *descriptorpb.FieldDescriptorProto {
		n++
		f := &descriptorpb.FieldDescriptorProto{Name: proto.String(name), Number: proto.Int32(n), Label: label.Enum(), Type: k.typ.Enum()}
		if k.ref != "" {
			f.TypeName = proto.String(k.ref)
		}
		rich.Field = append(rich.Field, f)
		return f
	}
	rich.OneofDecl = append(rich.OneofDecl, &descriptorpb.OneofDescriptorProto{Name: proto.String("choice")})
	all := append(append([]kind{}, scalars...), messages...)
	for _, k := range all {
		add("c_"+k.name, opt, k).OneofIndex = proto.Int32(0)
	}
	for _, k := range all {
		add("f_"+k.name, opt, k)
		add("r_"+k.name, rep, k)
		if k.typ != msg {
			f := add("o_"+k.name, opt, k)
			f.Proto3Optional = proto.Bool(true)
			f.OneofIndex = proto.Int32(int32(len(rich.OneofDecl)))
			rich.OneofDecl = append(rich.OneofDecl, &descriptorpb.OneofDescriptorProto{Name: proto.String("_o_" + k.name)})
		}
	}
	keys := []kind{scalars[0], scalars[1], scalars[3], scalars[4], scalars[5], scalars[6], scalars[7], scalars[8], scalars[9], scalars[10], scalars[11], scalars[12]}
	for _, key := range keys {
		for _, val := range []kind{scalars[1], scalars[13], scalars[15], messages[0], messages[1], messages[13], scalars[8]} {
			field := "m_" + key.name + "_" + val.name
			entry := mapEntryName(field)
			rich.NestedType = append(rich.NestedType, &descriptorpb.DescriptorProto{
				Name: proto.String(entry),
				Field: []*descriptorpb.FieldDescriptorProto{
					{Name: proto.String("key"), Number: proto.Int32(1), Label: opt.Enum(), Type: key.typ.Enum()},
					{Name: proto.String("value"), Number: proto.Int32(2), Label: opt.Enum(), Type: val.typ.Enum(), TypeName: nilIfEmpty(val.ref)},
				},
				Options: &descriptorpb.MessageOptions{MapEntry: proto.Bool(true)},
			})
			add(field, rep, kind{typ: msg, ref: ".opsevents.test.Rich." + entry})
		}
	}
	add("custom_named", opt, scalars[1]).JsonName = proto.String("someOtherName")
	add("snake_case_3d_name", opt, scalars[3])

	legacy := &descriptorpb.DescriptorProto{
		Name: proto.String("Legacy"),
		Field: []*descriptorpb.FieldDescriptorProto{
			{Name: proto.String("req"), Number: proto.Int32(1), Label: descriptorpb.FieldDescriptorProto_LABEL_REQUIRED.Enum(), Type: scalars[3].typ.Enum()},
			{Name: proto.String("note"), Number: proto.Int32(2), Label: opt.Enum(), Type: scalars[1].typ.Enum(), DefaultValue: proto.String("dflt")},
			{Name: proto.String("item"), Number: proto.Int32(3), Label: rep.Enum(), Type: descriptorpb.FieldDescriptorProto_TYPE_GROUP.Enum(), TypeName: proto.String(".opsevents.test.Legacy.Item")},
			{Name: proto.String("rich"), Number: proto.Int32(4), Label: opt.Enum(), Type: msg.Enum(), TypeName: proto.String(".opsevents.test.Rich")},
			{Name: proto.String("size"), Number: proto.Int32(5), Label: opt.Enum(), Type: scalars[15].typ.Enum(), TypeName: proto.String(".opsevents.test.Legacy.Size")},
		},
		NestedType: []*descriptorpb.DescriptorProto{{
			Name:  proto.String("Item"),
			Field: []*descriptorpb.FieldDescriptorProto{{Name: proto.String("sku"), Number: proto.Int32(1), Label: opt.Enum(), Type: scalars[1].typ.Enum()}},
		}},
		ExtensionRange: []*descriptorpb.DescriptorProto_ExtensionRange{{Start: proto.Int32(100), End: proto.Int32(200)}},
	}
	legacy.EnumType = []*descriptorpb.EnumDescriptorProto{{
		Name: proto.String("Size"),
		Value: []*descriptorpb.EnumValueDescriptorProto{
			{Name: proto.String("SIZE_SMALL"), Number: proto.Int32(1)},
			{Name: proto.String("SIZE_LARGE"), Number: proto.Int32(-2)},
		},
	}}
	return []*descriptorpb.FileDescriptorProto{{
		Name:    proto.String("opsevents_test/rich.proto"),
		Package: proto.String("opsevents.test"),
		Syntax:  proto.String("proto3"),
		Dependency: []string{"google/protobuf/timestamp.proto", "google/protobuf/duration.proto", "google/protobuf/wrappers.proto",
			"google/protobuf/struct.proto", "google/protobuf/empty.proto", "google/protobuf/any.proto", "google/protobuf/field_mask.proto"},
		MessageType: []*descriptorpb.DescriptorProto{rich},
		EnumType: []*descriptorpb.EnumDescriptorProto{{
			Name: proto.String("Color"),
			Value: []*descriptorpb.EnumValueDescriptorProto{
				{Name: proto.String("COLOR_UNSPECIFIED"), Number: proto.Int32(0)},
				{Name: proto.String("COLOR_RED"), Number: proto.Int32(1)},
				{Name: proto.String("COLOR_BLUE"), Number: proto.Int32(-2)},
			},
		}},
	}, {
		Name:        proto.String("opsevents_test/legacy.proto"),
		Package:     proto.String("opsevents.test"),
		Syntax:      proto.String("proto2"),
		Dependency:  []string{"opsevents_test/rich.proto"},
		MessageType: []*descriptorpb.DescriptorProto{legacy},
		Extension: []*descriptorpb.FieldDescriptorProto{{
			Name: proto.String("ext_note"), Number: proto.Int32(100), Label: opt.Enum(), Type: scalars[1].typ.Enum(), Extendee: proto.String(".opsevents.test.Legacy"),
		}},
	}}
}

// mapEntryName is protoc's name of a map field's entry message.
func mapEntryName(field string) string {
	var b strings.Builder
	up := true
	for _, c := range field {
		switch {
		case c == '_':
			up = true
		case up:
			b.WriteString(strings.ToUpper(string(c)))
			up = false
		default:
			b.WriteRune(c)
		}
	}
	return b.String() + "Entry"
}

func nilIfEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return proto.String(s)
}

// BenchmarkOrderStruct compares the converter with the JSON round trip it
// replaces on the order service's sample order (report the ratio of the
// two in one run).
func BenchmarkOrderStruct(b *testing.B) {
	o := sampleOrder()
	b.Run("direct", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, ok := messageStruct(o.ProtoReflect()); !ok {
				b.Fatal("round trip")
			}
		}
	})
	b.Run("roundtrip", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := roundTrip(o); err != nil {
				b.Fatal(err)
			}
		}
	})
}

package opsevents

import (
	"encoding/base64"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/structpb"
)

// messageStruct renders m as the google.protobuf.Struct that
// protojson.Unmarshal would make of protojson.Marshal(m) (default options:
// lowerCamel JSON names, enums by name, 64-bit integers as strings, bytes as
// base64, unpopulated fields omitted, well-known types in their JSON form),
// without the JSON in between: audit records are built inside the services'
// write transactions, and the round trip was most of their cost.
//
// ok is false when m holds something it does not render itself, so the
// caller takes the round trip instead and gets exactly its result or error:
// a message that is itself a well-known type (its JSON is not an object),
// google.protobuf.Any and FieldMask, extensions, MessageSets, invalid UTF-8,
// a Timestamp or Duration out of range, a Value with no kind or a
// non-finite number, fields sharing a JSON name, nesting deeper than
// maxStructDepth, and unset required (proto2) fields.
func messageStruct(m protoreflect.Message) (s *structpb.Struct, ok bool) {
	if wellKnown(m.Descriptor().FullName()) != wktNone {
		return nil, false
	}
	s, ok = plainMessage(m, 0)
	if !ok || proto.CheckInitialized(m.Interface()) != nil {
		return nil, false
	}
	return s, true
}

// maxStructDepth bounds the nesting messageStruct renders itself, far below
// protojson's decoding recursion limit (10000); deeper messages take the
// round trip.
const maxStructDepth = 100

// wkt is a google.protobuf type with its own JSON form.
type wkt int

const (
	wktNone wkt = iota
	wktTimestamp
	wktDuration
	wktWrapper
	wktStruct
	wktListValue
	wktValue
	wktOther // Any, FieldMask: left to protojson
)

// wellKnown classifies a message by name as protojson does: only these
// google.protobuf messages have a special JSON form (Empty has none, nor
// have the descriptor messages in the same package).
func wellKnown(name protoreflect.FullName) wkt {
	if name.Parent() != "google.protobuf" {
		return wktNone
	}
	switch name.Name() {
	case "Timestamp":
		return wktTimestamp
	case "Duration":
		return wktDuration
	case "BoolValue", "Int32Value", "Int64Value", "UInt32Value", "UInt64Value",
		"FloatValue", "DoubleValue", "StringValue", "BytesValue":
		return wktWrapper
	case "Struct":
		return wktStruct
	case "ListValue":
		return wktListValue
	case "Value":
		return wktValue
	case "Any", "FieldMask":
		return wktOther
	}
	return wktNone
}

// plainMessage renders a message without a special JSON form: its
// populated fields by JSON name.
func plainMessage(m protoreflect.Message, depth int) (*structpb.Struct, bool) {
	if depth > maxStructDepth {
		return nil, false
	}
	if ms, isSet := m.Descriptor().(interface{ IsMessageSet() bool }); isSet && ms.IsMessageSet() {
		return nil, false
	}
	fields := make(map[string]*structpb.Value, m.Descriptor().Fields().Len())
	ok, n := true, 0
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		if fd.IsExtension() {
			ok = false
			return false
		}
		var val *structpb.Value
		switch {
		case fd.IsList():
			val, ok = listValue(v.List(), fd, depth+1)
		case fd.IsMap():
			val, ok = mapValue(v.Map(), fd, depth+1)
		default:
			val, ok = singular(v, fd, depth+1)
		}
		if !ok {
			return false
		}
		fields[fd.JSONName()] = val
		n++
		return true
	})
	// Two fields with one JSON name would be a duplicate key, which the
	// round trip rejects.
	if !ok || n != len(fields) {
		return nil, false
	}
	return &structpb.Struct{Fields: fields}, true
}

func listValue(l protoreflect.List, fd protoreflect.FieldDescriptor, depth int) (*structpb.Value, bool) {
	vals := make([]*structpb.Value, l.Len())
	for i := range vals {
		v, ok := singular(l.Get(i), fd, depth)
		if !ok {
			return nil, false
		}
		vals[i] = v
	}
	return listOf(&structpb.ListValue{Values: vals}), true
}

func mapValue(mp protoreflect.Map, fd protoreflect.FieldDescriptor, depth int) (*structpb.Value, bool) {
	s, ok := mapStruct(mp, fd, depth)
	if !ok {
		return nil, false
	}
	return structValue(s), true
}

// mapStruct renders a map as protojson does: an object keyed by the keys'
// string forms.
func mapStruct(mp protoreflect.Map, fd protoreflect.FieldDescriptor, depth int) (*structpb.Struct, bool) {
	if depth > maxStructDepth {
		return nil, false
	}
	vfd := fd.MapValue()
	fields := make(map[string]*structpb.Value, mp.Len())
	ok := true
	mp.Range(func(k protoreflect.MapKey, v protoreflect.Value) bool {
		key := k.String()
		if !utf8.ValidString(key) {
			ok = false
			return false
		}
		var val *structpb.Value
		if val, ok = singular(v, vfd, depth+1); !ok {
			return false
		}
		fields[key] = val
		return true
	})
	if !ok {
		return nil, false
	}
	return &structpb.Struct{Fields: fields}, true
}

// singular renders one value of fd's kind (a field, list element or map
// value).
func singular(v protoreflect.Value, fd protoreflect.FieldDescriptor, depth int) (*structpb.Value, bool) {
	switch fd.Kind() {
	case protoreflect.BoolKind:
		return boolValue(v.Bool()), true
	case protoreflect.StringKind:
		s := v.String()
		if !utf8.ValidString(s) {
			return nil, false
		}
		return stringValue(s), true
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		return numberValue(float64(v.Int())), true
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		return numberValue(float64(v.Uint())), true
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		return stringValue(strconv.FormatInt(v.Int(), 10)), true
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return stringValue(strconv.FormatUint(v.Uint(), 10)), true
	case protoreflect.FloatKind:
		return floatValue(v.Float(), 32), true
	case protoreflect.DoubleKind:
		return floatValue(v.Float(), 64), true
	case protoreflect.BytesKind:
		return stringValue(base64.StdEncoding.EncodeToString(v.Bytes())), true
	case protoreflect.EnumKind:
		ed := fd.Enum()
		if ed.FullName() == "google.protobuf.NullValue" {
			return nullValue(), true
		}
		if d := ed.Values().ByNumber(v.Enum()); d != nil {
			return stringValue(string(d.Name())), true
		}
		return numberValue(float64(v.Enum())), true
	case protoreflect.MessageKind, protoreflect.GroupKind:
		return messageValue(v.Message(), depth)
	}
	return nil, false
}

// floatValue renders a float or double: the special values as the strings
// protojson writes, a float as the double its shortest decimal form reads
// back as.
func floatValue(f float64, bits int) *structpb.Value {
	switch {
	case math.IsNaN(f):
		return stringValue("NaN")
	case math.IsInf(f, 1):
		return stringValue("Infinity")
	case math.IsInf(f, -1):
		return stringValue("-Infinity")
	}
	if bits == 32 {
		var buf [32]byte
		f, _ = strconv.ParseFloat(string(strconv.AppendFloat(buf[:0], f, 'g', -1, 32)), 64)
	}
	return numberValue(f)
}

// messageValue renders a message field's value: a well-known type in its
// JSON form, any other message as an object.
func messageValue(m protoreflect.Message, depth int) (*structpb.Value, bool) {
	if depth > maxStructDepth {
		return nil, false
	}
	fds := m.Descriptor().Fields()
	switch wellKnown(m.Descriptor().FullName()) {
	case wktTimestamp:
		s, ok := timestampString(m.Get(fds.ByNumber(1)).Int(), m.Get(fds.ByNumber(2)).Int())
		return stringValue(s), ok
	case wktDuration:
		s, ok := durationString(m.Get(fds.ByNumber(1)).Int(), m.Get(fds.ByNumber(2)).Int())
		return stringValue(s), ok
	case wktWrapper:
		fd := fds.ByNumber(1)
		return singular(m.Get(fd), fd, depth)
	case wktStruct:
		fd := fds.ByNumber(1)
		return mapValue(m.Get(fd).Map(), fd, depth)
	case wktListValue:
		fd := fds.ByNumber(1)
		return listValue(m.Get(fd).List(), fd, depth+1)
	case wktValue:
		fd := m.WhichOneof(m.Descriptor().Oneofs().ByName("kind"))
		if fd == nil {
			return nil, false
		}
		v := m.Get(fd)
		if fd.Kind() == protoreflect.DoubleKind && (math.IsNaN(v.Float()) || math.IsInf(v.Float(), 0)) {
			return nil, false
		}
		return singular(v, fd, depth)
	case wktOther:
		return nil, false
	case wktNone:
	}
	s, ok := plainMessage(m, depth)
	if !ok {
		return nil, false
	}
	return structValue(s), true
}

// Ranges protojson accepts for Timestamp and Duration.
const (
	minTimestampSeconds = -62135596800
	maxTimestampSeconds = 253402300799
	maxDurationSeconds  = 315576000000
	maxNanos            = 999999999
)

// timestampString is protojson's form of a Timestamp: RFC 3339 in UTC with
// 0, 3, 6 or 9 fractional digits.
func timestampString(secs, nanos int64) (string, bool) {
	if secs < minTimestampSeconds || secs > maxTimestampSeconds || nanos < 0 || nanos > maxNanos {
		return "", false
	}
	x := time.Unix(secs, nanos).UTC().Format("2006-01-02T15:04:05.000000000")
	return trimFraction(x) + "Z", true
}

// durationString is protojson's form of a Duration: seconds with 0, 3, 6
// or 9 fractional digits and the suffix "s".
func durationString(secs, nanos int64) (string, bool) {
	if secs < -maxDurationSeconds || secs > maxDurationSeconds || nanos < -maxNanos || nanos > maxNanos ||
		(secs > 0 && nanos < 0) || (secs < 0 && nanos > 0) {
		return "", false
	}
	sign := ""
	if secs < 0 || nanos < 0 {
		sign, secs, nanos = "-", -secs, -nanos
	}
	frac := strconv.FormatInt(nanos, 10)
	x := sign + strconv.FormatInt(secs, 10) + "." + strings.Repeat("0", 9-len(frac)) + frac
	return trimFraction(x) + "s", true
}

// trimFraction drops trailing groups of three zeros from a nine-digit
// fraction, and the point with the last.
func trimFraction(x string) string {
	x = strings.TrimSuffix(x, "000")
	x = strings.TrimSuffix(x, "000")
	return strings.TrimSuffix(x, ".000")
}

// The Values are allocated with their kinds, one allocation each instead of
// structpb.New*Value's two.

func stringValue(s string) *structpb.Value {
	return withKind(structpb.Value_StringValue{StringValue: s}, func(v *structpb.Value, k *structpb.Value_StringValue) { v.Kind = k })
}

func numberValue(f float64) *structpb.Value {
	return withKind(structpb.Value_NumberValue{NumberValue: f}, func(v *structpb.Value, k *structpb.Value_NumberValue) { v.Kind = k })
}

func boolValue(b bool) *structpb.Value {
	return withKind(structpb.Value_BoolValue{BoolValue: b}, func(v *structpb.Value, k *structpb.Value_BoolValue) { v.Kind = k })
}

func nullValue() *structpb.Value {
	return withKind(structpb.Value_NullValue{}, func(v *structpb.Value, k *structpb.Value_NullValue) { v.Kind = k })
}

func structValue(s *structpb.Struct) *structpb.Value {
	return withKind(structpb.Value_StructValue{StructValue: s}, func(v *structpb.Value, k *structpb.Value_StructValue) { v.Kind = k })
}

func listOf(l *structpb.ListValue) *structpb.Value {
	return withKind(structpb.Value_ListValue{ListValue: l}, func(v *structpb.Value, k *structpb.Value_ListValue) { v.Kind = k })
}

// withKind returns a Value allocated together with its kind k; set links
// them (Value.Kind's interface type is unexported, so it cannot be a type
// constraint).
func withKind[K any](k K, set func(*structpb.Value, *K)) *structpb.Value {
	p := &struct {
		v structpb.Value
		k K
	}{k: k}
	set(&p.v, &p.k)
	return &p.v
}

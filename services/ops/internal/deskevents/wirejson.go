package deskevents

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"unicode/utf8"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	opsv1 "github.com/transload/transload/gen/transload/ops/v1"
)

// The audit consumer reads AuditRecordedEvent without decoding its before
// and after resources into Struct messages (events.WithRawPayload):
// decoding the whole payload was half of its CPU per event, and the
// resources are only stored as JSON. wireAudit decodes every other field
// with proto.Unmarshal and keeps before and after as wire bytes;
// wireStructJSON encodes them exactly as structJSON encodes the decoded
// Struct (pinned by FuzzWireStructJSON and FuzzOpsEventDecoding), and
// fails where proto.Unmarshal would (malformed wire data, invalid UTF-8).

// Field numbers of transload.ops.v1.AuditRecordedEvent's resources and of
// google.protobuf.Struct, Value and ListValue.
const (
	auditBeforeField = 6
	auditAfterField  = 7

	structFieldsField = 1
	mapKeyField       = 1
	mapValueField     = 2

	valueNull   = 1
	valueNumber = 2
	valueString = 3
	valueBool   = 4
	valueStruct = 5
	valueList   = 6

	listValuesField = 1

	// wireDepthLimit is proto.Unmarshal's default recursion limit.
	wireDepthLimit = 10000
)

var errWire = errors.New("deskevents: malformed audit resource")

// wireAudit decodes an AuditRecordedEvent payload: msg without its
// resources, and the wire bytes of each occurrence of before and after
// (nil: absent; several occurrences merge, as proto.Unmarshal merges them).
func wireAudit(data []byte) (msg *opsv1.AuditRecordedEvent, before, after [][]byte, err error) {
	rest := make([]byte, 0, 256)
	for b := data; len(b) > 0; {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return nil, nil, nil, fmt.Errorf("%w: %w", errWire, protowire.ParseError(n))
		}
		m := protowire.ConsumeFieldValue(num, typ, b[n:])
		if m < 0 {
			return nil, nil, nil, fmt.Errorf("%w: %w", errWire, protowire.ParseError(m))
		}
		field := b[:n+m]
		b = b[n+m:]
		if typ == protowire.BytesType && (num == auditBeforeField || num == auditAfterField) {
			v, _ := protowire.ConsumeBytes(field[n:])
			if num == auditBeforeField {
				before = append(before, v)
			} else {
				after = append(after, v)
			}
			continue
		}
		rest = append(rest, field...)
	}
	msg = &opsv1.AuditRecordedEvent{}
	if err := proto.Unmarshal(rest, msg); err != nil {
		return nil, nil, nil, err
	}
	return msg, before, after, nil
}

// wireStructJSON is structJSON of the Struct merged from chunks (each the
// wire bytes of one occurrence of the field); no chunk encodes as "" (no
// object), as structJSON encodes a nil Struct.
func wireStructJSON(chunks [][]byte) (string, error) {
	if chunks == nil {
		return "", nil
	}
	b, err := appendWireStruct(make([]byte, 0, 512), chunks, 1, false)
	if err != nil {
		return "", err
	}
	return string(b), nil
}

// wireEntry is one map entry of a Struct: its key and the chunks of its
// Value.
type wireEntry struct {
	key    string
	chunks [][]byte
}

// appendWireStruct encodes the Struct merged from chunks. With check, it
// only validates as proto.Unmarshal does (a number JSON cannot hold is no
// error): for what the merge discards, which proto.Unmarshal parsed too.
func appendWireStruct(b []byte, chunks [][]byte, depth int, check bool) ([]byte, error) {
	if depth > wireDepthLimit {
		return nil, fmt.Errorf("%w: nested too deeply", errWire)
	}
	var entries []wireEntry
	for _, c := range chunks {
		err := eachField(c, func(num protowire.Number, typ protowire.Type, v []byte) error {
			if num != structFieldsField || typ != protowire.BytesType {
				return nil // unknown: proto.Unmarshal keeps it aside
			}
			e := wireEntry{chunks: [][]byte{nil}} // a missing value is an empty Value
			err := eachField(v, func(num protowire.Number, typ protowire.Type, v []byte) error {
				switch {
				case num == mapKeyField && typ == protowire.BytesType:
					if !utf8.Valid(v) {
						return fmt.Errorf("%w: invalid UTF-8 in a key", errWire)
					}
					e.key = string(v)
				case num == mapValueField && typ == protowire.BytesType:
					// A map entry's value occurring twice merges.
					if e.chunks[0] == nil {
						e.chunks = e.chunks[:0]
					}
					e.chunks = append(e.chunks, v)
				}
				return nil
			})
			if err != nil {
				return err
			}
			// A later entry with the same key replaces an earlier one,
			// which must still be well-formed.
			if i := slices.IndexFunc(entries, func(x wireEntry) bool { return x.key == e.key }); i >= 0 {
				if _, err := appendWireValue(nil, entries[i].chunks, depth+1, true); err != nil {
					return err
				}
				entries[i] = e
			} else {
				entries = append(entries, e)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	slices.SortFunc(entries, func(x, y wireEntry) int { return strings.Compare(x.key, y.key) })
	b = append(b, '{')
	var err error
	for i, e := range entries {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, e.key)
		b = append(b, ':')
		if b, err = appendWireValue(b, e.chunks, depth+1, check); err != nil {
			return nil, err
		}
	}
	return append(b, '}'), nil
}

// appendWireValue encodes the Value merged from chunks: the last kind set
// wins; a struct or list kind set several times in a row merges (entries
// replaced by key, elements appended). check is appendWireStruct's.
func appendWireValue(b []byte, chunks [][]byte, depth int, check bool) ([]byte, error) {
	if depth > wireDepthLimit {
		return nil, fmt.Errorf("%w: nested too deeply", errWire)
	}
	kind := protowire.Number(0)
	var number float64
	var str []byte
	var boolean bool
	var sub [][]byte
	for _, c := range chunks {
		err := eachField(c, func(num protowire.Number, typ protowire.Type, v []byte) error {
			prev := kind
			switch {
			case num == valueNull && typ == protowire.VarintType:
				kind = num
			case num == valueNumber && typ == protowire.Fixed64Type:
				x, _ := protowire.ConsumeFixed64(v)
				kind, number = num, math.Float64frombits(x)
			case num == valueString && typ == protowire.BytesType:
				if !utf8.Valid(v) {
					return fmt.Errorf("%w: invalid UTF-8 in a string", errWire)
				}
				kind, str = num, v
			case num == valueBool && typ == protowire.VarintType:
				x, _ := protowire.ConsumeVarint(v)
				kind, boolean = num, x != 0
			case (num == valueStruct || num == valueList) && typ == protowire.BytesType:
				if prev != num {
					if err := checkSub(prev, sub, depth); err != nil {
						return err
					}
					sub = nil
				}
				kind = num
				sub = append(sub, v)
				return nil
			default:
				return nil
			}
			// A scalar kind replaced whatever was set before.
			err := checkSub(prev, sub, depth)
			sub = nil
			return err
		})
		if err != nil {
			return nil, err
		}
	}
	// kind is a google.protobuf.Value field number, not an enum: the
	// protowire.Number constants (valid ranges) are no cases of it.
	//exhaustive:ignore
	switch kind {
	case valueString:
		return appendString(b, string(str)), nil
	case valueNumber:
		if check {
			return b, nil
		}
		return appendFloat(b, number)
	case valueBool:
		if boolean {
			return append(b, "true"...), nil
		}
		return append(b, "false"...), nil
	case valueStruct:
		return appendWireStruct(b, sub, depth, check)
	case valueList:
		b = append(b, '[')
		first := true
		for _, c := range sub {
			err := eachField(c, func(num protowire.Number, typ protowire.Type, v []byte) error {
				if num != listValuesField || typ != protowire.BytesType {
					return nil
				}
				if !first {
					b = append(b, ',')
				}
				first = false
				var err error
				b, err = appendWireValue(b, [][]byte{v}, depth+1, check)
				return err
			})
			if err != nil {
				return nil, err
			}
		}
		return append(b, ']'), nil
	default: // null, or no kind
		return append(b, "null"...), nil
	}
}

// checkSub validates sub, the chunks of a struct or list kind that a
// later kind of the Value replaced: proto.Unmarshal parsed them.
func checkSub(kind protowire.Number, sub [][]byte, depth int) error {
	switch {
	case sub == nil:
		return nil
	case kind == valueStruct:
		_, err := appendWireStruct(nil, sub, depth, true)
		return err
	default:
		_, err := appendWireValue(nil, [][]byte{protowire.AppendBytes(protowire.AppendTag(nil, valueList, protowire.BytesType), slices.Concat(sub...))}, depth, true)
		return err
	}
}

// eachField calls fn for every field of the message encoded in data, with
// the field's value: for a varint or fixed field its encoding, for a bytes
// field its content. Groups are skipped as unknown fields.
func eachField(data []byte, fn func(num protowire.Number, typ protowire.Type, v []byte) error) error {
	for b := data; len(b) > 0; {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return fmt.Errorf("%w: %w", errWire, protowire.ParseError(n))
		}
		if num > protowire.MaxValidNumber {
			return fmt.Errorf("%w: field number %d", errWire, num)
		}
		b = b[n:]
		m := protowire.ConsumeFieldValue(num, typ, b)
		if m < 0 {
			return fmt.Errorf("%w: %w", errWire, protowire.ParseError(m))
		}
		v := b[:m]
		if typ == protowire.BytesType {
			v, _ = protowire.ConsumeBytes(v)
		}
		if err := fn(num, typ, v); err != nil {
			return err
		}
		b = b[m:]
	}
	return nil
}

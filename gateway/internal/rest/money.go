package rest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"sync"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	commonv1 "github.com/transload/transload/gen/transload/common/v1"
)

// moneyName is the message whose zero amount is written out.
var moneyName = (&commonv1.Money{}).ProtoReflect().Descriptor().FullName()

// moneyAmountKey is Money.amount_minor's JSON name.
const moneyAmountKey = "amountMinor"

// moneyReach caches, per message type, whether its fields can reach a
// Money at all: the answer depends only on the type, so each type is
// worked out once instead of every response being walked.
var moneyReach sync.Map // protoreflect.FullName → bool

// reachesMoney reports whether a message of type md can hold a Money.
func reachesMoney(md protoreflect.MessageDescriptor) bool {
	if v, ok := moneyReach.Load(md.FullName()); ok {
		return v.(bool)
	}
	r := reachesMoneyFrom(md, map[protoreflect.FullName]bool{})
	moneyReach.Store(md.FullName(), r)
	return r
}

// reachesMoneyFrom is reachesMoney without the cache; seen stops
// recursive types. A map field's message is its entry, whose value
// field is followed like any other.
func reachesMoneyFrom(md protoreflect.MessageDescriptor, seen map[protoreflect.FullName]bool) bool {
	if md.FullName() == moneyName {
		return true
	}
	if seen[md.FullName()] {
		return false
	}
	seen[md.FullName()] = true
	fields := md.Fields()
	for i := range fields.Len() {
		if m := fields.Get(i).Message(); m != nil && reachesMoneyFrom(m, seen) {
			return true
		}
	}
	return false
}

// hasZeroMoney reports whether m holds a Money whose amount_minor is zero
// (protojson leaves such an amount out).
func hasZeroMoney(m protoreflect.Message) bool {
	if m.Descriptor().FullName() == moneyName {
		return m.Get(m.Descriptor().Fields().ByNumber(1)).Int() == 0
	}
	if !reachesMoney(m.Descriptor()) {
		return false
	}
	found := false
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		if fd.Message() == nil {
			return true
		}
		switch {
		case fd.IsList():
			l := v.List()
			for i := range l.Len() {
				if found = hasZeroMoney(l.Get(i).Message()); found {
					return false
				}
			}
		case fd.IsMap():
			if fd.MapValue().Message() == nil {
				return true
			}
			v.Map().Range(func(_ protoreflect.MapKey, mv protoreflect.Value) bool {
				found = hasZeroMoney(mv.Message())
				return !found
			})
		default:
			found = hasZeroMoney(v.Message())
		}
		return !found
	})
	return found
}

// withZeroAmounts rewrites data, the protojson form of a message of type
// md, so that every Money object carries "amountMinor" ("0" when
// protojson left it out). Only Money changes: other zero values stay
// omitted, as protojson's proto3 rules have them.
func withZeroAmounts(data []byte, md protoreflect.MessageDescriptor) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var out bytes.Buffer
	if err := copyValue(dec, &out, md); err != nil {
		return nil, fmt.Errorf("rewrite zero amounts: %w", err)
	}
	return out.Bytes(), nil
}

// copyValue copies one JSON value from dec to out; md is the message type
// of the value when it is a message (nil otherwise).
func copyValue(dec *json.Decoder, out *bytes.Buffer, md protoreflect.MessageDescriptor) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	switch tok {
	case json.Delim('{'):
		return copyObject(dec, out, md)
	case json.Delim('['):
		out.WriteByte('[')
		for i := 0; dec.More(); i++ {
			if i > 0 {
				out.WriteByte(',')
			}
			if err := copyValue(dec, out, md); err != nil {
				return err
			}
		}
		_, err := dec.Token()
		out.WriteByte(']')
		return err
	}
	return writeScalar(out, tok)
}

// copyObject copies an object whose '{' was read; for a Money without an
// amount it writes "amountMinor":"0" first, where protojson puts it.
func copyObject(dec *json.Decoder, out *bytes.Buffer, md protoreflect.MessageDescriptor) error {
	if md != nil && md.ParentFile().Package() == "google.protobuf" {
		md = nil // Well-known types have their own JSON forms.
	}
	var members bytes.Buffer
	hasAmount := false
	for i := 0; dec.More(); i++ {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		key, ok := tok.(string)
		if !ok {
			return errors.New("object key is not a string")
		}
		if i > 0 {
			members.WriteByte(',')
		}
		if err := writeScalar(&members, key); err != nil {
			return err
		}
		members.WriteByte(':')
		var child protoreflect.MessageDescriptor
		if md != nil {
			fd := md.Fields().ByJSONName(key)
			if fd == nil {
				fd = md.Fields().ByTextName(key)
			}
			switch {
			case fd == nil:
			case fd.IsMap():
				child = fd.MapValue().Message()
				if err := copyMap(dec, &members, child); err != nil {
					return err
				}
				continue
			default:
				child = fd.Message()
			}
			if md.FullName() == moneyName && fd != nil && fd.Number() == 1 {
				hasAmount = true
			}
		}
		if err := copyValue(dec, &members, child); err != nil {
			return err
		}
	}
	if _, err := dec.Token(); err != nil {
		return err
	}
	out.WriteByte('{')
	if md != nil && md.FullName() == moneyName && !hasAmount {
		out.WriteString(`"` + moneyAmountKey + `":"0"`)
		if members.Len() > 0 {
			out.WriteByte(',')
		}
	}
	out.Write(members.Bytes())
	out.WriteByte('}')
	return nil
}

// copyMap copies a map field's object, whose values are of type value
// (nil for scalars).
func copyMap(dec *json.Decoder, out *bytes.Buffer, value protoreflect.MessageDescriptor) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	if tok != json.Delim('{') {
		return writeScalar(out, tok) // null
	}
	out.WriteByte('{')
	for i := 0; dec.More(); i++ {
		key, err := dec.Token()
		if err != nil {
			return err
		}
		if i > 0 {
			out.WriteByte(',')
		}
		if err := writeScalar(out, key); err != nil {
			return err
		}
		out.WriteByte(':')
		if err := copyValue(dec, out, value); err != nil {
			return err
		}
	}
	_, err = dec.Token()
	out.WriteByte('}')
	return err
}

func writeScalar(out *bytes.Buffer, tok json.Token) error {
	if n, ok := tok.(json.Number); ok {
		out.WriteString(n.String())
		return nil
	}
	enc := json.NewEncoder(out)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(tok); err != nil {
		return err
	}
	out.Truncate(out.Len() - 1) // Encode's newline
	return nil
}

// marshalWithZeroAmounts marshals v with marshal and, when v is a message
// holding a zero Money, writes that amount out.
//
// The usual way is markZeroAmounts: marshal a copy whose zero amounts
// hold zeroSentinel (protojson writes a non-zero amount, first in its
// object, as "amountMinor":"<n>") and turn each sentinel back into "0"
// in the output. That is one protojson pass instead of re-tokenizing the
// whole answer with encoding/json (withZeroAmounts), which cost about
// 12 % of the gateway's CPU per placed order in the mesh profile. The
// sentinel is used only when its text appears exactly once per marked
// amount (no real amount equals it, no string or map entry spells it);
// otherwise the answer takes withZeroAmounts, as before.
func marshalWithZeroAmounts(v any, marshal func(any) ([]byte, error)) ([]byte, error) {
	m, ok := v.(proto.Message)
	if !ok || !hasZeroMoney(m.ProtoReflect()) {
		return marshal(v)
	}
	marked := proto.Clone(m)
	if n, clash := markZeroAmounts(marked.ProtoReflect()); !clash {
		data, err := marshal(marked)
		if err != nil {
			return nil, err
		}
		if bytes.Count(data, sentinelJSON) == n {
			return bytes.ReplaceAll(data, sentinelJSON, zeroJSON), nil
		}
	}
	data, err := marshal(v)
	if err != nil {
		return nil, err
	}
	return withZeroAmounts(data, m.ProtoReflect().Descriptor())
}

// zeroSentinel stands for a zero amount while an answer is marshalled
// (see marshalWithZeroAmounts); no price or total comes near it.
const zeroSentinel = math.MinInt64

var (
	sentinelJSON = []byte(`"` + moneyAmountKey + `":"` + strconv.FormatInt(zeroSentinel, 10) + `"`)
	zeroJSON     = []byte(`"` + moneyAmountKey + `":"0"`)
)

// markZeroAmounts sets every zero Money amount in m to zeroSentinel and
// returns how many it set; clash reports a Money already holding
// zeroSentinel (then the marks cannot be told apart from it).
func markZeroAmounts(m protoreflect.Message) (n int, clash bool) {
	md := m.Descriptor()
	if md.FullName() == moneyName {
		fd := md.Fields().ByNumber(1)
		switch m.Get(fd).Int() {
		case 0:
			m.Set(fd, protoreflect.ValueOfInt64(zeroSentinel))
			return 1, false
		case zeroSentinel:
			return 0, true
		}
		return 0, false
	}
	if !reachesMoney(md) {
		return 0, false
	}
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		if fd.Message() == nil {
			return true
		}
		add := func(k int, c bool) bool {
			n += k
			clash = clash || c
			return !clash
		}
		switch {
		case fd.IsList():
			l := v.List()
			for i := range l.Len() {
				if !add(markZeroAmounts(l.Get(i).Message())) {
					return false
				}
			}
		case fd.IsMap():
			if fd.MapValue().Message() == nil {
				return true
			}
			v.Map().Range(func(_ protoreflect.MapKey, mv protoreflect.Value) bool {
				return add(markZeroAmounts(mv.Message()))
			})
		default:
			add(markZeroAmounts(v.Message()))
		}
		return !clash
	})
	return n, clash
}

package cache

import (
	"encoding/json"
	"fmt"

	"google.golang.org/protobuf/proto"
)

// Codec turns values of type T into bytes for a Store and back.
type Codec[T any] interface {
	// Marshal encodes v.
	Marshal(v T) ([]byte, error)
	// Unmarshal decodes b into a new T.
	Unmarshal(b []byte) (T, error)
}

// JSONCodec returns a Codec using encoding/json; fit for plain Go structs.
// Use ProtoCodec for protobuf messages.
func JSONCodec[T any]() Codec[T] { return jsonCodec[T]{} }

type jsonCodec[T any] struct{}

func (jsonCodec[T]) Marshal(v T) ([]byte, error) { return json.Marshal(v) }

func (jsonCodec[T]) Unmarshal(b []byte) (T, error) {
	var v T
	err := json.Unmarshal(b, &v)
	return v, err
}

// ProtoCodec returns a Codec for a generated protobuf message type M (a
// pointer such as *catalogv1.Product), using the binary wire format, which
// is compact and tolerates fields added by newer contract versions.
func ProtoCodec[M proto.Message]() Codec[M] { return protoCodec[M]{} }

type protoCodec[M proto.Message] struct{}

func (protoCodec[M]) Marshal(m M) ([]byte, error) {
	return proto.MarshalOptions{Deterministic: true}.Marshal(m)
}

func (protoCodec[M]) Unmarshal(b []byte) (M, error) {
	var zero M
	// A typed nil generated message still knows its type, so New gives a
	// fresh, empty message of it.
	m, ok := zero.ProtoReflect().New().Interface().(M)
	if !ok {
		return zero, fmt.Errorf("cache: proto codec cannot make a new %T", zero)
	}
	if err := proto.Unmarshal(b, m); err != nil {
		return zero, err
	}
	return m, nil
}

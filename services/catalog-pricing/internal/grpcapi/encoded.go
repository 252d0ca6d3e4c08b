package grpcapi

import (
	"runtime"
	"sync"
	"weak"

	"google.golang.org/grpc/encoding"
	protoenc "google.golang.org/grpc/encoding/proto"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/proto"

	catalogv1 "github.com/transload/transload/gen/transload/catalog/v1"
)

// preEncoded holds the wire bytes of quote responses marshalled once
// ahead of time (memoized quotes, see QuotePrices), keyed by a weak
// pointer to the response: an entry goes away when its response is
// collected, so it lives exactly as long as the memo keeps the response.
var preEncoded sync.Map // weak.Pointer[catalogv1.QuotePricesResponse] → []byte

// preEncode marshals m once and records the bytes for Codec; m must not
// be modified afterwards (it is shared by every caller of the memoized
// quote). On a marshal error nothing is recorded and Codec marshals m as
// usual (reporting the error then).
func preEncode(m *catalogv1.QuotePricesResponse) *catalogv1.QuotePricesResponse {
	b, err := proto.Marshal(m)
	if err != nil {
		return m
	}
	k := weak.Make(m)
	preEncoded.Store(k, b)
	runtime.AddCleanup(m, func(k weak.Pointer[catalogv1.QuotePricesResponse]) { preEncoded.Delete(k) }, k)
	return m
}

// Codec returns the gRPC codec the service's server uses (with
// grpc.ForceServerCodecV2): the standard proto codec, except that a quote
// response preEncode recorded is sent as its recorded bytes instead of
// being marshalled again. The bytes are those proto.Marshal gave for the
// same immutable message, so clients see no difference.
func Codec() encoding.CodecV2 { return codec{base: encoding.GetCodecV2(protoenc.Name)} }

type codec struct{ base encoding.CodecV2 }

func (c codec) Marshal(v any) (mem.BufferSlice, error) {
	if m, ok := v.(*catalogv1.QuotePricesResponse); ok {
		if b, ok := preEncoded.Load(weak.Make(m)); ok {
			// SliceBuffer's Free does nothing: the shared bytes never go
			// back to a pool.
			return mem.BufferSlice{mem.SliceBuffer(b.([]byte))}, nil
		}
	}
	return c.base.Marshal(v)
}

func (c codec) Unmarshal(data mem.BufferSlice, v any) error { return c.base.Unmarshal(data, v) }

func (c codec) Name() string { return c.base.Name() }

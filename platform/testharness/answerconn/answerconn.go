// Package answerconn is a grpc.ClientConnInterface for fuzzing clients of
// a neighbour's API: every unary call is answered with one fixed, well-typed
// but possibly hostile message, with no server, network or codec between.
package answerconn

import (
	"context"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// Conn answers every unary call with Answer merged into the reply; streams
// are Unimplemented.
type Conn struct{ Answer proto.Message }

var _ grpc.ClientConnInterface = Conn{}

// Invoke merges c.Answer into reply.
func (c Conn) Invoke(_ context.Context, _ string, _, reply any, _ ...grpc.CallOption) error {
	proto.Merge(reply.(proto.Message), c.Answer)
	return nil
}

// NewStream answers Unimplemented.
func (Conn) NewStream(context.Context, *grpc.StreamDesc, string, ...grpc.CallOption) (grpc.ClientStream, error) {
	return nil, status.Error(codes.Unimplemented, "no streams")
}

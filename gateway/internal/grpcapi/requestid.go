package grpcapi

import (
	"context"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	commonv1 "github.com/transload/transload/gen/transload/common/v1"
)

// MetadataIdempotencyKey is the gRPC metadata key the REST Idempotency-Key
// header is forwarded in.
const MetadataIdempotencyKey = "idempotency-key"

// requestIDField is the field every idempotent storefront and ops mutation
// carries; the interceptor finds it by name, so a new mutation of either
// API is covered without a list.
const requestIDField protoreflect.Name = "request_id"

// RequestIDUnaryInterceptor copies the idempotency-key metadata into an
// empty `request_id` field of the request, so REST clients can send the
// standard Idempotency-Key header. A request that sets both to different
// values fails with INVALID_ARGUMENT. It must run before protovalidate
// (which requires request_id), so the gateway installs it as the outermost
// interceptor.
func RequestIDUnaryInterceptor() grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		if err := fillRequestID(ctx, req); err != nil {
			return nil, err
		}
		return handler(ctx, req)
	}
}

func fillRequestID(ctx context.Context, req any) error {
	msg, ok := req.(proto.Message)
	if !ok {
		return nil
	}
	m := msg.ProtoReflect()
	fd := m.Descriptor().Fields().ByName(requestIDField)
	if fd == nil || fd.Kind() != protoreflect.StringKind || fd.IsList() {
		return nil
	}
	md, _ := metadata.FromIncomingContext(ctx)
	vals := md.Get(MetadataIdempotencyKey)
	if len(vals) == 0 {
		return nil
	}
	key := strings.TrimSpace(vals[0])
	if key == "" {
		return nil
	}
	current := m.Get(fd).String()
	switch {
	case current == "":
		m.Set(fd, protoreflect.ValueOfString(key))
	case current != key:
		return invalidField(commonv1.ErrorReason_ERROR_REASON_VALIDATION_FAILED, "request_id",
			"differs from the Idempotency-Key header; send one or make them equal", nil)
	}
	return nil
}

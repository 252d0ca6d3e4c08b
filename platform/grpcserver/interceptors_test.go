package grpcserver

import (
	"context"
	"log/slog"
	"testing"

	"buf.build/go/protovalidate"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	commonv1 "github.com/transload/transload/gen/transload/common/v1"
	"github.com/transload/transload/platform/apierr"
)

// fakeRecvStream hands out one scripted message per RecvMsg.
type fakeRecvStream struct {
	grpc.ServerStream
	next proto.Message
}

func (f *fakeRecvStream) Context() context.Context { return context.Background() }

func (f *fakeRecvStream) RecvMsg(m any) error {
	proto.Merge(m.(proto.Message), f.next)
	return nil
}

func TestValidatingStreamChecksEveryMessage(t *testing.T) {
	t.Parallel()
	v, err := protovalidate.New()
	if err != nil {
		t.Fatal(err)
	}
	fake := &fakeRecvStream{next: &commonv1.Money{CurrencyCode: "EUR"}}
	s := &validatingStream{ServerStream: fake, logger: slog.New(slog.DiscardHandler), v: v}
	if err := s.RecvMsg(new(commonv1.Money)); err != nil {
		t.Fatalf("valid message: %v", err)
	}
	fake.next = &commonv1.Money{CurrencyCode: "euro"}
	err = s.RecvMsg(new(commonv1.Money))
	if status.Code(err) != codes.InvalidArgument {
		t.Fatalf("invalid message: %v", err)
	}
	if vs := apierr.FieldViolations(err); len(vs) != 1 || vs[0].Field != "currency_code" {
		t.Fatalf("violations = %+v", vs)
	}
}

package answerconn_test

import (
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/transload/transload/platform/testharness/answerconn"
)

func TestConnAnswersEveryCall(t *testing.T) {
	t.Parallel()
	c := answerconn.Conn{Answer: wrapperspb.String("hostile")}
	var reply wrapperspb.StringValue
	if err := c.Invoke(t.Context(), "/any.Service/Method", wrapperspb.String("x"), &reply); err != nil || reply.GetValue() != "hostile" {
		t.Fatalf("Invoke = %v, reply %q", err, reply.GetValue())
	}
	if _, err := c.NewStream(t.Context(), nil, "/any.Service/Stream"); status.Code(err) != codes.Unimplemented {
		t.Fatalf("NewStream = %v, want Unimplemented", err)
	}
}

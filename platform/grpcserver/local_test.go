package grpcserver_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"
	"google.golang.org/protobuf/types/known/wrapperspb"

	commonv1 "github.com/transload/transload/gen/transload/common/v1"
	"github.com/transload/transload/platform/apierr"
	"github.com/transload/transload/platform/correlation"
	"github.com/transload/transload/platform/grpcserver"
	"github.com/transload/transload/platform/grpcserver/grpcservertest"
)

// TestLocalConnMatchesTheListener makes the same calls over the gRPC
// listener and through LocalConn and expects the same answers, errors
// (with details), header and trailer metadata, handler view, access log
// and metrics: LocalConn must keep the whole chain.
func TestLocalConnMatchesTheListener(t *testing.T) {
	t.Parallel()
	type principalKey struct{}
	var seen = make(chan string, 1)
	probe := &grpcservertest.Probe{
		Unary: func(ctx context.Context, method string, in *wrapperspb.StringValue) (*wrapperspb.StringValue, error) {
			inMD, _ := metadata.FromIncomingContext(ctx)
			outMD, _ := metadata.FromOutgoingContext(ctx)
			_, hasDeadline := ctx.Deadline()
			seen <- fmt.Sprintf("method=%s stream-method=%s principal=%v idem=%v outgoing=%d deadline=%v correlation=%s value=%s",
				method, grpc.ServerTransportStreamFromContext(ctx).Method(), ctx.Value(principalKey{}),
				inMD.Get("idempotency-key"), len(outMD), hasDeadline, correlation.ID(ctx), in.GetValue())
			v := in.GetValue()
			in.Value = "mutated by the handler"
			switch v {
			case "status":
				_ = grpc.SetHeader(ctx, metadata.Pairs("idempotent-replayed", "true"))
				return nil, apierr.RateLimited("slow down", 2*time.Second)
			case "plain":
				return nil, errors.New("plain failure")
			case "deadline":
				return nil, fmt.Errorf("neighbour: %w", context.DeadlineExceeded)
			case "panic":
				panic("boom")
			case "header":
				_ = grpc.SetHeader(ctx, metadata.Pairs("idempotent-replayed", "true"))
			case "sendheader":
				// Sent headers are final: the correlation header the chain
				// adds later and this SetHeader are refused.
				if err := grpc.SendHeader(ctx, metadata.Pairs("idempotent-replayed", "sent")); err != nil {
					return nil, err
				}
				if grpc.SetHeader(ctx, metadata.Pairs("idempotent-replayed", "late")) == nil {
					return wrapperspb.String("late header accepted"), nil
				}
			}
			return wrapperspb.String("echo:" + v), nil
		},
	}
	auth := func(ctx context.Context, _ string) (context.Context, error) {
		md, _ := metadata.FromIncomingContext(ctx)
		if k := md.Get("x-api-key"); len(k) == 0 || k[0] != "good" {
			return nil, apierr.Unauthenticated("missing api key")
		}
		return context.WithValue(ctx, principalKey{}, "channel-1"), nil
	}
	// A first interceptor that fills the value from metadata, so it must
	// run before validation (Price's currency rule).
	first := func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		if m, ok := req.(*commonv1.Money); ok && m.GetCurrencyCode() == "" {
			md, _ := metadata.FromIncomingContext(ctx)
			if c := md.Get("currency"); len(c) > 0 {
				m.CurrencyCode = c[0]
			}
		}
		return h(ctx, req)
	}
	ts := start(t, probe, grpcserver.WithAuth(auth), grpcserver.WithFirstUnaryInterceptors(first))
	local := ts.srv.LocalConn()

	type answer struct {
		Value          string
		Code           codes.Code
		Message        string
		Details        string
		Header         []string
		TrailerID      []string
		HeaderID       []string
		Seen           string
		CallerArgAfter string
	}
	call := func(cc grpc.ClientConnInterface, md metadata.MD, v string) answer {
		t.Helper()
		ctx, cancel := context.WithTimeout(metadata.NewOutgoingContext(context.Background(), md), 5*time.Second)
		defer cancel()
		var header, trailer metadata.MD
		arg := wrapperspb.String(v)
		out := new(wrapperspb.StringValue)
		err := cc.Invoke(ctx, grpcservertest.MethodEcho, arg, out, grpc.Header(&header), grpc.Trailer(&trailer))
		st := status.Convert(err)
		a := answer{Value: out.GetValue(), Code: st.Code(), Message: st.Message(),
			Header: header.Get("idempotent-replayed"), TrailerID: trailer.Get(correlation.MetadataKey),
			HeaderID: header.Get(correlation.MetadataKey), CallerArgAfter: arg.GetValue()}
		for _, d := range st.Proto().GetDetails() {
			a.Details += d.String()
		}
		select {
		case a.Seen = <-seen:
		default:
		}
		return a
	}
	cases := []struct {
		name string
		md   metadata.MD
		v    string
	}{
		{"ok", metadata.Pairs("x-api-key", "good", correlation.MetadataKey, "c-ok", "idempotency-key", "k1"), "hello"},
		{"header", metadata.Pairs("x-api-key", "good", correlation.MetadataKey, "c-header"), "header"},
		{"sendheader", metadata.Pairs("x-api-key", "good", correlation.MetadataKey, "c-send"), "sendheader"},
		{"unauthenticated", metadata.Pairs(correlation.MetadataKey, "c-unauth"), "hello"},
		{"status error", metadata.Pairs("x-api-key", "good", correlation.MetadataKey, "c-status"), "status"},
		{"plain error", metadata.Pairs("x-api-key", "good", correlation.MetadataKey, "c-plain"), "plain"},
		{"context error", metadata.Pairs("x-api-key", "good", correlation.MetadataKey, "c-deadline"), "deadline"},
		{"panic", metadata.Pairs("x-api-key", "good", correlation.MetadataKey, "c-panic"), "panic"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			wire := call(ts.conn, tc.md, tc.v)
			loc := call(local, tc.md, tc.v)
			if diff := cmp.Diff(wire, loc); diff != "" {
				t.Errorf("listener vs LocalConn (-listener +local):\n%s", diff)
			}
			if tc.name == "ok" && (loc.Value != "echo:hello" || loc.CallerArgAfter != "hello" ||
				!strings.Contains(loc.Seen, "principal=channel-1 idem=[k1] outgoing=0 deadline=true correlation=c-ok")) {
				t.Errorf("LocalConn ok call: %+v", loc)
			}
		})
	}

	// Validation and the first interceptor: the same InvalidArgument with
	// the same violations, and a request the first interceptor completes
	// passes on both.
	for _, cc := range []grpc.ClientConnInterface{ts.conn, local} {
		client := grpcservertest.NewClient(cc)
		ctx := metadata.AppendToOutgoingContext(context.Background(), "x-api-key", "good")
		_, err := client.ShipTo(ctx, &commonv1.Address{RegionCode: "germany"})
		if !apierr.HasReason(err, commonv1.ErrorReason_ERROR_REASON_VALIDATION_FAILED) || len(apierr.FieldViolations(err)) == 0 {
			t.Errorf("%T: invalid address: %v", cc, err)
		}
		got, err := client.Price(metadata.AppendToOutgoingContext(ctx, "currency", "EUR"), &commonv1.Money{AmountMinor: 5})
		if err != nil || !proto.Equal(got, &commonv1.Money{AmountMinor: 5, CurrencyCode: "EUR"}) {
			t.Errorf("%T: price completed by the first interceptor: %v, %v", cc, got, err)
		}
		if diff := cmp.Diff(&commonv1.Money{AmountMinor: 5, CurrencyCode: "EUR"}, got, protocmp.Transform()); diff != "" {
			t.Errorf("%T: price (-want +got):\n%s", cc, diff)
		}
	}

	// The access log and the server metrics count LocalConn calls as
	// calls (the "ok" case made one each way).
	logged := 0
	for _, r := range ts.logs.Records(t) {
		if r["msg"] == "grpc call" && r["grpc.method"] == grpcservertest.MethodEcho && r["correlation_id"] == "c-ok" {
			logged++
		}
	}
	if logged != 2 {
		t.Errorf("access log has %d records of the c-ok call, want 2 (listener and LocalConn)", logged)
	}
	if _, m := httpGet(t, "http://"+ts.srv.AdminAddr().String()+"/metrics"); !strings.Contains(m, `grpc_server_handled_total{grpc_code="OK",grpc_method="Echo",grpc_service="transload.platformtest.v1.Probe",grpc_type="unary"} 6`) {
		t.Errorf("metrics do not count 6 OK Echo calls (ok, header and sendheader, both ways)")
	}

	// Unknown methods and streams.
	if err := local.Invoke(context.Background(), "/no.Such/Method", wrapperspb.String(""), new(wrapperspb.StringValue)); status.Code(err) != codes.Unimplemented {
		t.Errorf("unknown method: %v", err)
	}
	if _, err := grpcservertest.NewClient(local).Repeat(context.Background(), "x"); status.Code(err) != codes.Unimplemented {
		t.Errorf("stream: %v", err)
	}

	// Once shutdown starts, LocalConn refuses calls like a draining listener.
	ts.cancel()
	if err := <-ts.done; err != nil {
		t.Logf("serve after shutdown: %v", err)
	}
	ts.done <- nil // for the cleanup
	_, err := grpcservertest.NewClient(local).Echo(metadata.AppendToOutgoingContext(context.Background(), "x-api-key", "good"), "x")
	if status.Code(err) != codes.Unavailable {
		t.Errorf("after shutdown: %v, want Unavailable", err)
	}
}

// TestLocalConnServesThroughTheDrainDelay: during the drain delay the
// listener still takes calls, so LocalConn does too; once shutdown
// stops taking new calls LocalConn answers Unavailable.
func TestLocalConnServesThroughTheDrainDelay(t *testing.T) {
	t.Parallel()
	ts := start(t, &grpcservertest.Probe{}, grpcserver.WithDrainDelay(2*time.Second))
	client := grpcservertest.NewClient(ts.srv.LocalConn())
	if _, err := client.Echo(context.Background(), "before"); err != nil {
		t.Fatalf("before shutdown: %v", err)
	}
	ts.cancel()
	// Shutdown has begun when the health service turns NOT_SERVING.
	deadline := time.Now().Add(time.Second)
	health := healthpb.NewHealthClient(ts.srv.LocalConn())
	for {
		resp, err := health.Check(context.Background(), &healthpb.HealthCheckRequest{Service: grpcservertest.ServiceName})
		if err != nil {
			t.Fatalf("health through LocalConn: %v", err)
		}
		if resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("shutdown did not start")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if got, err := client.Echo(context.Background(), "draining"); err != nil || got != "draining" {
		t.Fatalf("during the drain delay: %q, %v", got, err)
	}
	if err := <-ts.done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	ts.done <- nil // for the cleanup
	if _, err := client.Echo(context.Background(), "after"); status.Code(err) != codes.Unavailable {
		t.Fatalf("after shutdown: %v, want Unavailable", err)
	}
}

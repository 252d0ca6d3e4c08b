package grpcserver_test

import (
	"context"
	"fmt"
	"testing"

	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/transload/transload/platform/apierr"
	"github.com/transload/transload/platform/correlation"
	"github.com/transload/transload/platform/grpcserver"
	"github.com/transload/transload/platform/grpcserver/grpcservertest"
)

// failOn answers Echo with PermissionDenied (a client error, logged at
// info) when the input is "fail".
func failOn() *grpcservertest.Probe {
	return &grpcservertest.Probe{Unary: func(_ context.Context, _ string, in *wrapperspb.StringValue) (*wrapperspb.StringValue, error) {
		if in.GetValue() == "fail" {
			return nil, apierr.PermissionDenied("not yours")
		}
		return in, nil
	}}
}

// echoRecords returns the access log records of Echo calls by code.
func echoRecords(t *testing.T, ts *testServer) (ok, failed []map[string]any) {
	t.Helper()
	for _, r := range ts.logs.Records(t) {
		if r["msg"] != "grpc call" || r["grpc.method"] != grpcservertest.MethodEcho {
			continue
		}
		if r["grpc.code"] == "OK" {
			ok = append(ok, r)
		} else {
			failed = append(failed, r)
		}
	}
	return ok, failed
}

// TestAccessLogErrors: with AccessLogErrors successful calls leave no
// record and a failed one is logged with its code and correlation id.
func TestAccessLogErrors(t *testing.T) {
	t.Parallel()
	ts := start(t, failOn(), grpcserver.WithAccessLog(grpcserver.AccessLogErrors))
	for range 5 {
		if _, err := ts.client.Echo(context.Background(), "x"); err != nil {
			t.Fatal(err)
		}
	}
	ctx := metadata.AppendToOutgoingContext(context.Background(), correlation.MetadataKey, "errors-only-1")
	if _, err := ts.client.Echo(ctx, "fail"); err == nil {
		t.Fatal("want PermissionDenied")
	}
	ok, failed := echoRecords(t, ts)
	if len(ok) != 0 {
		t.Fatalf("successful calls logged under errors: %v", ok)
	}
	if len(failed) != 1 || failed[0]["grpc.code"] != "PermissionDenied" || failed[0]["correlation_id"] != "errors-only-1" {
		t.Fatalf("failed call records = %v; want one PermissionDenied with correlation id errors-only-1", failed)
	}
}

// TestAccessLogSampled: with AccessLogSampled one successful call in
// AccessLogSampleEvery is logged (the first of each interval, marked with
// the interval) and every failed call is.
func TestAccessLogSampled(t *testing.T) {
	t.Parallel()
	ts := start(t, failOn(), grpcserver.WithAccessLog(grpcserver.AccessLogSampled))
	for range 2*grpcserver.AccessLogSampleEvery + 1 {
		if _, err := ts.client.Echo(context.Background(), "x"); err != nil {
			t.Fatal(err)
		}
	}
	for range 3 {
		if _, err := ts.client.Echo(context.Background(), "fail"); err == nil {
			t.Fatal("want PermissionDenied")
		}
	}
	ok, failed := echoRecords(t, ts)
	if len(ok) != 3 {
		t.Fatalf("%d successful calls logged; want 3 (1 in %d of %d)", len(ok), grpcserver.AccessLogSampleEvery, 2*grpcserver.AccessLogSampleEvery+1)
	}
	for _, r := range ok {
		if r["access_log.sample_every"] != float64(grpcserver.AccessLogSampleEvery) {
			t.Fatalf("sampled record without its interval: %v", r)
		}
	}
	if len(failed) != 3 {
		t.Fatalf("%d failed calls logged; want all 3", len(failed))
	}
}

func TestParseAccessLog(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]grpcserver.AccessLog{
		"": grpcserver.AccessLogAll, "all": grpcserver.AccessLogAll, "Errors": grpcserver.AccessLogErrors, "Sampled": grpcserver.AccessLogSampled,
	} {
		got, err := grpcserver.ParseAccessLog(in)
		if err != nil || got != want {
			t.Errorf("ParseAccessLog(%q) = %v, %v; want %v", in, got, err, want)
		}
		if in != "" && fmt.Sprint(got) != want.String() {
			t.Errorf("String() = %q", got)
		}
	}
	if _, err := grpcserver.ParseAccessLog("some"); err == nil {
		t.Error("ParseAccessLog(some) accepted")
	}
}

package grpcserver

import (
	"context"
	"io"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/transload/transload/platform/logging"
)

// BenchmarkLogCall measures one successful call's access log line alone:
// "discard" JSON-encodes it to io.Discard (what BenchmarkUnaryChain's
// subject pays), "devnull" also writes it to a file (/dev/null: the
// write(2) a binary logging to stdout pays per line), "errors" and
// "sampled" are AccessLogErrors and AccessLogSampled. Compare with
// BenchmarkUnaryChain/subject from the same run for the line's share of a
// call.
func BenchmarkLogCall(b *testing.B) {
	devnull, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = devnull.Close() })
	for _, c := range []struct {
		name string
		w    io.Writer
		mode AccessLog
	}{{"discard", io.Discard, AccessLogAll}, {"devnull", devnull, AccessLogAll}, {"errors", io.Discard, AccessLogErrors}, {"sampled", io.Discard, AccessLogSampled}} {
		b.Run(c.name, func(b *testing.B) {
			a := &accessLogger{logger: logging.WithContextIDs(logging.New(c.w, "bench", slog.LevelInfo)), mode: c.mode}
			ctx, _ := withCorrelation(context.Background())
			b.ReportAllocs()
			for b.Loop() {
				a.log(ctx, "/transload.catalog.v1.PricingService/QuotePrices", time.Now(), nil)
			}
		})
	}
}

// Command consoledemo serves the operations console over the in-memory
// consoletest fake, for the browser test (e2e/console) and for looking at
// the pages without the mesh. It prints one line, "console: <URL>", once
// it listens, and serves until SIGINT or SIGTERM. Sign in with
// consoletest.OperatorKey (or ViewerKey to see a viewer's refusals).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/transload/transload/gateway/internal/console"
	"github.com/transload/transload/gateway/internal/console/consoletest"
	opsv1 "github.com/transload/transload/gen/transload/ops/v1"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	// A test tool, not a service: like deploy/local's and e2e's commands it
	// prints its URL and exits non-zero on failure without svcmain.
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr) //nolint:forbidigo // test tool, see above
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "consoledemo:", err) //nolint:forbidigo // test tool, see above
		os.Exit(1)                                   //nolint:forbidigo // test tool, see above
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("consoledemo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:0", "listen address")
	if err := fs.Parse(args); err != nil {
		return err
	}
	logger := slog.New(slog.NewTextHandler(stderr, nil))
	fake := consoletest.Seed(time.Now())
	fake.Now = time.Now
	// An exception whose text is markup: the page must show it as text.
	hostile, err := structpb.NewStruct(map[string]any{"erpMessage": "<script>alert(1)</script>"})
	if err != nil {
		return fmt.Errorf("details: %w", err)
	}
	fake.Exceptions = append(fake.Exceptions, &opsv1.Exception{
		Name: "exceptions/exc-hostile", Kind: opsv1.Exception_KIND_ERP_REJECTION, Severity: opsv1.Exception_SEVERITY_LOW,
		Domain: opsv1.Exception_DOMAIN_ERP, State: opsv1.Exception_STATE_OPEN, Resource: "orders/ord-x",
		Message: "<script>alert(1)</script>", Details: hostile, OccurrenceCount: 1,
		CreateTime: timestamppb.Now(), LastOccurTime: timestamppb.Now(),
	})
	h, err := console.New(fake, console.Options{Logger: logger})
	if err != nil {
		return err
	}
	lis, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("/console/", h)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	fmt.Fprintf(stdout, "console: http://%s/console/\n", lis.Addr())
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(lis) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}

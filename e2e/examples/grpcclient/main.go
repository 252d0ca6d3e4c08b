// Command grpcclient is the Go example client of the storefront API over
// gRPC: it dials the gateway with the generated stubs
// (gen/transload/storefront/v1), sends the API key in the call metadata,
// checks availability and places an order whose request id makes a
// retry safe (the same id returns the same order, never a second one).
//
// Against `make run`:
//
//	go run ./examples/grpcclient -addr 127.0.0.1:9007 -key demo-web-key
//
// A failed call prints its status code, message and error details (the
// ErrorInfo reason clients branch on).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"time"

	"github.com/google/uuid"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	commonv1 "github.com/transload/transload/gen/transload/common/v1"
	storefrontv1 "github.com/transload/transload/gen/transload/storefront/v1"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "grpcclient:", err)
		os.Exit(1)
	}
}

// options are the command line.
type options struct {
	addr, key, customer, sku, requestID string
	quantity                            int64
	timeout                             time.Duration
}

func parse(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("grpcclient", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.addr, "addr", "127.0.0.1:9007", "the gateway's gRPC address (host:port)")
	fs.StringVar(&o.key, "key", os.Getenv("TRANSLOAD_API_KEY"), "storefront API key (default $TRANSLOAD_API_KEY)")
	fs.StringVar(&o.customer, "customer", "C0001", "customer id")
	fs.StringVar(&o.sku, "sku", "SKU-00001", "SKU to order")
	fs.Int64Var(&o.quantity, "quantity", 2, "units to order")
	fs.StringVar(&o.requestID, "request-id", "", "the order's request id: a retry with the same id returns the same order (default: a new UUID)")
	fs.DurationVar(&o.timeout, "timeout", 10*time.Second, "deadline of each call")
	if err := fs.Parse(args); err != nil {
		return options{}, err
	}
	if fs.NArg() > 0 {
		return options{}, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if o.key == "" {
		return options{}, errors.New("no API key: pass -key or set TRANSLOAD_API_KEY")
	}
	if o.quantity <= 0 {
		return options{}, fmt.Errorf("-quantity %d: must be positive", o.quantity)
	}
	if o.requestID == "" {
		o.requestID = uuid.NewString()
	}
	return o, nil
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o, err := parse(args, stderr)
	if err != nil {
		return err
	}
	// Plaintext, as `make run` serves it; use TLS credentials in production.
	conn, err := grpc.NewClient(o.addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return fmt.Errorf("dial %s: %w", o.addr, err)
	}
	defer conn.Close()
	client := storefrontv1.NewStorefrontServiceClient(conn)

	// The gateway reads the key from the "authorization" metadata entry
	// (or "x-api-key"), as REST reads the Authorization header.
	ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+o.key)

	if err := checkAvailability(ctx, client, o, stdout); err != nil {
		return err
	}
	return placeOrder(ctx, client, o, stdout)
}

func checkAvailability(ctx context.Context, client storefrontv1.StorefrontServiceClient, o options, stdout io.Writer) error {
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	resp, err := client.CheckAvailability(ctx, &storefrontv1.CheckAvailabilityRequest{
		CustomerId:   o.customer,
		CurrencyCode: "EUR",
		ShipTo:       &storefrontv1.ShipToLocation{RegionCode: "DE", PostalCode: "20457"},
		Lines:        []*storefrontv1.RequestedLine{{Sku: o.sku, Quantity: o.quantity}},
	})
	if err != nil {
		return callError("CheckAvailability", err)
	}
	for _, l := range resp.GetLines() {
		fmt.Fprintf(stdout, "availability: %s requested %d, available %d, unit price %s",
			l.GetSku(), l.GetRequestedQuantity(), l.GetAvailableQuantity(), money(l.GetUnitPrice()))
		// A line the storefront cannot serve (unknown SKU, no price) says
		// why here instead of failing the whole check.
		if issue := l.GetIssue(); issue != storefrontv1.LineIssue_LINE_ISSUE_UNSPECIFIED {
			fmt.Fprintf(stdout, " (%s)", issue)
		}
		fmt.Fprintln(stdout)
	}
	return nil
}

func placeOrder(ctx context.Context, client storefrontv1.StorefrontServiceClient, o options, stdout io.Writer) error {
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	order, err := client.CreateOrder(ctx, &storefrontv1.CreateOrderRequest{
		RequestId: o.requestID,
		Order: &storefrontv1.Order{
			CustomerId:   o.customer,
			CurrencyCode: "EUR",
			Lines:        []*storefrontv1.OrderLine{{Sku: o.sku, Quantity: o.quantity}},
			ShipTo: &commonv1.Address{
				Recipient:  "Demo GmbH",
				Lines:      []string{"Hafenstr. 1"},
				Locality:   "Hamburg",
				PostalCode: "20457",
				RegionCode: "DE",
			},
		},
	})
	if err != nil {
		return callError("CreateOrder", err)
	}
	fmt.Fprintf(stdout, "order: %s (request id %s) state %s, total %s\n",
		order.GetName(), o.requestID, order.GetState(), money(order.GetTotal()))
	return nil
}

// callError describes a failed call with its status and the details
// clients act on: ErrorInfo's reason, BadRequest's field violations,
// RetryInfo's delay.
func callError(method string, err error) error {
	st, ok := status.FromError(err)
	if !ok {
		return fmt.Errorf("%s: %w", method, err)
	}
	var details strings.Builder
	for _, d := range st.Details() {
		switch d := d.(type) {
		case *errdetails.ErrorInfo:
			fmt.Fprintf(&details, "; reason %s", d.GetReason())
		case *errdetails.BadRequest:
			for _, v := range d.GetFieldViolations() {
				fmt.Fprintf(&details, "; violation %s: %s", v.GetField(), v.GetDescription())
			}
		case *errdetails.RetryInfo:
			fmt.Fprintf(&details, "; retry after %s", d.GetRetryDelay().AsDuration())
		}
	}
	return fmt.Errorf("%s: %w%s", method, err, details.String())
}

// money formats an amount in minor units (cents) with its currency.
func money(m *commonv1.Money) string {
	if m == nil {
		return "-"
	}
	v, sign := m.GetAmountMinor(), ""
	if v < 0 {
		v, sign = -v, "-"
	}
	return fmt.Sprintf("%s%d.%02d %s", sign, v/100, v%100, m.GetCurrencyCode())
}

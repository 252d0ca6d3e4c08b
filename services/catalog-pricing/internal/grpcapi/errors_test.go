package grpcapi

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/transload/transload/platform/apierr"
	"github.com/transload/transload/services/catalog-pricing/internal/catalog"
	"github.com/transload/transload/services/catalog-pricing/internal/pricing"
)

func TestToStatus(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	cases := []struct {
		name   string
		err    error
		code   codes.Code
		reason string
		meta   map[string]string
		// violation is the field of the BadRequest violation, if any.
		violation string
	}{
		{"product not found", fmt.Errorf("get: %w", &catalog.NotFoundError{Err: catalog.ErrProductNotFound, SKU: "A", Version: "catalogVersions/3"}),
			codes.NotFound, "ERROR_REASON_PRODUCT_NOT_FOUND", map[string]string{"sku": "A", "catalog_version": "catalogVersions/3"}, ""},
		{"version not found", &catalog.NotFoundError{Err: catalog.ErrVersionNotFound, Version: "catalogVersions/current"},
			codes.NotFound, "ERROR_REASON_CATALOG_VERSION_NOT_FOUND", map[string]string{"catalog_version": "catalogVersions/current"}, ""},
		{"conflict", fmt.Errorf("publish: %w", &catalog.ConflictError{Expected: 2, Current: 3}),
			codes.Aborted, "ERROR_REASON_CATALOG_VERSION_CONFLICT", map[string]string{"expected_version": "2", "current_version": "3"}, ""},
		{"key reused", fmt.Errorf("import: %w", catalog.ErrIdempotencyKeyReused), codes.AlreadyExists, "ERROR_REASON_IDEMPOTENCY_KEY_REUSED", nil, ""},
		{"not sellable", &pricing.LineError{Index: 2, SKU: "B", Reason: pricing.LineNotSellable, Channel: "web", Status: "ON_HOLD"},
			codes.FailedPrecondition, "ERROR_REASON_PRODUCT_NOT_SELLABLE", map[string]string{"sku": "B", "line_index": "2", "channel": "web", "status": "ON_HOLD"}, ""},
		{"pack", &pricing.LineError{Index: 0, SKU: "C", Reason: pricing.LineNotPackMultiple, Quantity: 5, PackSize: 6},
			codes.InvalidArgument, "ERROR_REASON_QUANTITY_NOT_PACK_MULTIPLE", map[string]string{"quantity": "5", "pack_size": "6"}, "lines[0].quantity"},
		{"currency", &pricing.CurrencyMismatchError{Requested: "USD", Available: []string{"CHF", "EUR"}},
			codes.InvalidArgument, "ERROR_REASON_CURRENCY_MISMATCH", map[string]string{"expected_currency_code": "CHF,EUR", "currency_code": "USD"}, "currency_code"},
		{"not empty", fmt.Errorf("delete: %w", pricing.ErrPriceListNotEmpty), codes.FailedPrecondition, "ERROR_REASON_VALIDATION_FAILED", nil, "force"},
		{"price list", fmt.Errorf("x: %w", pricing.ErrPriceListNotFound), codes.NotFound, "ERROR_REASON_PRICE_LIST_NOT_FOUND", nil, ""},
		{"deadline", fmt.Errorf("db: %w", context.DeadlineExceeded), codes.DeadlineExceeded, "ERROR_REASON_DEADLINE_EXCEEDED", nil, ""},
		{"canceled", fmt.Errorf("db: %w", context.Canceled), codes.Canceled, "ERROR_REASON_CANCELLED", nil, ""},
		{"internal", errors.New("pq: relation secret_table does not exist"), codes.Internal, "ERROR_REASON_INTERNAL", nil, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := toStatus(t.Context(), log, c.err)
			if status.Code(err) != c.code || apierr.ReasonOf(err) != c.reason {
				t.Fatalf("status = %v (reason %q), want %s %s", err, apierr.ReasonOf(err), c.code, c.reason)
			}
			md := apierr.Info(err).GetMetadata()
			for k, v := range c.meta {
				if md[k] != v {
					t.Errorf("metadata %s = %q, want %q", k, md[k], v)
				}
			}
			var fields []string
			for _, v := range apierr.FieldViolations(err) {
				fields = append(fields, v.Field)
			}
			if c.violation != "" && (len(fields) != 1 || fields[0] != c.violation) {
				t.Errorf("violations on %v, want one on %s", fields, c.violation)
			}
			if strings.Contains(status.Convert(err).Message(), "secret_table") {
				t.Errorf("internal cause leaked: %q", status.Convert(err).Message())
			}
		})
	}
}

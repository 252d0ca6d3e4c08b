// Command openapi turns protoc-gen-openapiv2's per-file documents of the
// experience APIs (storefront.v1, ops.v1) into the published ones: one
// Swagger 2 document per API under gen/openapi/, its OpenAPI 3 conversion
// under gen/openapi3/, and a static HTML reference built from the OpenAPI 3
// document under gen/openapi3/docs/.
//
// It exists because the contracts are fixed while what a client generator
// needs is not in them: the REST-only conventions the gateway adds
// (Idempotency-Key, the error body with status and correlationId, response
// headers, API keys as security schemes) and fixes protoc-gen-openapiv2
// cannot express (readOnly and descriptions beside $ref). `make generate`
// runs it after buf; `make check-generate` runs it into a scratch folder and
// diffs, so a document edited by hand or out of date fails.
//
// Usage: openapi -gen DIR, where DIR is the gen folder (it reads
// DIR/openapi/transload/<api>/v1/*.swagger.json).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	err := run(ctx, os.Args[1:], os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "openapi:", err)
		os.Exit(1)
	}
}

func run(_ context.Context, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("openapi", flag.ContinueOnError)
	fs.SetOutput(stderr)
	gen := fs.String("gen", "", "the gen folder: reads openapi/transload/**, writes openapi/*.json and openapi3/**")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *gen == "" {
		return errors.New("-gen is required")
	}
	if fs.NArg() != 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	return generate(*gen)
}

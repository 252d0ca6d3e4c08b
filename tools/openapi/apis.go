package main

// ContractRelease is the release of the contracts the documents describe,
// their info.version after the API's major version ("v1 / 2026.1"): bump
// it with each contract release (`make baseline`), so a client generated
// from a document says which release it was made from.
const ContractRelease = "2026.1"

// LocalServer is the REST listener of `make run` (the gateway's HTTP_ADDR
// default).
const LocalServer = "http://127.0.0.1:8080"

// api is one published API: its package's protoc-gen-openapiv2 output and
// what the documents say about it.
type api struct {
	// ID names the published files: <ID>.json.
	ID string
	// Dir is the package's folder under openapi/ in the gen folder.
	Dir string
	// Major is the API's major version (the package suffix).
	Major string
	// Title is info.title.
	Title string
	// Intro opens info.description: the REST conventions a client
	// generator and its user need, which the service comment (kept as the
	// tag's description) tells for gRPC and REST alike.
	Intro string
}

// apis are the experience APIs, the ones the gateway serves over REST.
var apis = []api{
	{
		ID:    "storefront.v1",
		Dir:   "transload/storefront/v1",
		Major: "v1",
		Title: "Transload Storefront API",
		Intro: "The storefront experience API (transload.storefront.v1) over REST/JSON: checkout availability and prices, " +
			"products, orders, shipments, returns and webhook subscriptions for web storefronts, mobile and partner apps.",
	},
	{
		ID:    "ops.v1",
		Dir:   "transload/ops/v1",
		Major: "v1",
		Title: "Transload Operations API",
		Intro: "The operators' API (transload.ops.v1) over REST/JSON: the exception desk, dead letters and their replay, " +
			"stock reconciliation, KPIs, the audit trail and the ERP submission queue. Every call needs an operator key.",
	},
}

// restConventions closes info.description of every document.
const restConventions = `

**Authentication.** Send the API key as ` + "`Authorization: Bearer <key>`" + ` or as ` + "`X-Api-Key: <key>`" + `.

**Idempotency.** Mutations that carry a ` + "`requestId`" + ` take it from the ` + "`Idempotency-Key`" + ` header when the request
does not set it (send one or make them equal). A repeat with the same key and payload returns the original answer with
` + "`Idempotent-Replayed: true`" + `; the same key with another payload fails with 409.

**Errors.** Every error has one JSON body (the ` + "`Error`" + ` schema): a google.rpc.Status (` + "`code`, `message`, `details`" + `)
plus ` + "`status`" + ` (the gRPC code's name) and ` + "`correlationId`" + `. Branch on the ` + "`reason`" + ` of the google.rpc.ErrorInfo in
` + "`details`" + `, never on ` + "`message`" + `. 429 and 503 may carry ` + "`Retry-After`" + ` (seconds).

**Correlation.** Every response carries ` + "`X-Correlation-Id`" + ` (the request's when it sent a valid one); quote it to support.`

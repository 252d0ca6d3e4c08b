// Package aip is Transload's one reading of the list conventions of
// AIP-158 (pagination) and AIP-160 (filtering): a filter parser, opaque
// page tokens bound to the query that made them, the page-size clamp and
// the keyset page helper. Every List handler uses these, so every list
// accepts the same filters and rejects bad input with the same status.
//
// # Filter grammar
//
// The subset of AIP-160 the lists need, as one grammar:
//
//	filter  = [ term { "AND" term } ]
//	term    = field op value
//	field   = ident { "." ident }          ident = [A-Za-z_][A-Za-z0-9_]*
//	op      = "=" | "!=" | "<" | "<=" | ">" | ">=" | ":"
//	value   = string | bare
//	string  = `"` { any character except " and \ | `\"` | `\\` } `"`
//	bare    = one or more characters other than space, control characters
//	          and " ' ( ) = < > ! \ ,   (e.g. ACTIVE, 42, DRL-18V-001,
//	          2026-11-27T00:00:00Z, DRL-*)
//
// Spaces around operators and AND are optional; AND is upper case, as in
// AIP-160. OR, NOT, "-" negation, parentheses, single-quoted strings and
// escapes other than \" and \\ are rejected with a message saying so: no
// list needs them, and a filter a list cannot honour must fail rather than
// be half-applied. A bare AND, OR or NOT is a keyword, not a value; quote
// it. The wildcard of `sku:"DRL-*"` is kept in the value for the list to
// interpret.
//
// ParseFilter reads the syntax alone. Schema.Parse also checks each term
// against the list's fields: the field exists, allows the operator, and
// the value reads as the field's Kind (string, enum name, RFC 3339 time,
// integer, bool) and passes its Check. A field may appear once per
// operator. Filter.String renders a Filter back in canonical form; Quote
// builds a string literal for a filter assembled in code.
//
// Every filter problem is a *FilterError with the byte offset of the
// problem. Its GRPCStatus is InvalidArgument with ErrorInfo reason
// ERROR_REASON_VALIDATION_FAILED (common.v1 has no filter reason) and a
// BadRequest violation on "filter" with reason INVALID_FILTER.
//
// # Page tokens
//
// A page token is base64url (no padding) of a small binary payload:
//
//	version (1 byte) | query digest (8 bytes) | key count | keys | checksum (4 bytes)
//
// The query digest is SHA-256 over the Query that produced the page: the
// method, the caller, the filter, order_by and any other parameters that
// shape the result. DecodePageToken recomputes it from the request in hand,
// so a token replayed with another filter, ordering, parent or caller is
// rejected, as is one from another list. The keys are the keyset cursor
// (typed: string, integer, bool, time), or for lists paged in memory one
// integer offset. The checksum makes random or truncated input fail
// cleanly. Tokens are not encrypted or signed: they position a listing the
// server scopes again on every page, and carry nothing secret.
//
// Every token problem is a *PageTokenError whose GRPCStatus is
// InvalidArgument with ErrorInfo reason ERROR_REASON_INVALID_PAGE_TOKEN
// and a BadRequest violation on "page_token".
//
// # Pages
//
// ClampPageSize maps page_size to the number of rows to return (0 → the
// default, above the maximum → the maximum). KeysetPage takes rows fetched
// with a limit of size+1 and returns the page and the next token;
// OffsetPage does the same for a list held in memory.
package aip

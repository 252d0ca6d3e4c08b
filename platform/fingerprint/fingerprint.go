// Package fingerprint computes the digests Transload compares to tell a
// replayed request from a reused idempotency key, a redelivered event from
// a reused event id, and a page token from one minted for another query:
// equal inputs give equal fingerprints, different inputs different ones.
//
// A fingerprint is the lower-case hex SHA-256 (64 characters) of a
// canonical encoding:
//
//   - [Of] encodes a Go value as encoding/json does: struct fields in
//     declaration order under their JSON names (fields tagged json:"-"
//     left out, so a request id or an actor can be excluded by tag), map
//     keys sorted, strings escaped. Several parts are fingerprinted as one
//     value, a slice or a struct: Of([]string{a, b}).
//   - [Proto] encodes a protobuf message with deterministic marshalling
//     (map entries sorted).
//
// The encoding is the canonical form, so two inputs have the same
// fingerprint exactly when they encode the same. What it does not
// normalise, the caller does: time.Time keeps its zone offset (pass UTC
// times), a nil and an empty slice differ (null vs []), defaults the
// server fills in must be filled before fingerprinting, and the numbers
// 1 and 1.0 of different Go types encode alike.
//
// Fingerprints stored in a database (idempotency keys, processed events)
// are compared with fingerprints computed by a later build. Changing a
// fingerprinted type changes its fingerprint: add new fields with
// omitempty or omitzero so that requests that do not use them keep the
// fingerprint stored before the upgrade, and never rename or reorder
// fields. Deterministic protobuf marshalling is stable within one
// protobuf-go version but not promised across versions or languages.
package fingerprint

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"

	"google.golang.org/protobuf/proto"
)

// Of returns the fingerprint of v's JSON encoding (see the package
// documentation). v is plain data: structs, slices, maps, strings,
// numbers, booleans, times. Of panics when encoding/json cannot encode v
// (channels, functions, complex numbers, NaN or infinite floats, cycles,
// a failing MarshalJSON): every caller fingerprints a fixed type, so that
// is a programming error its first test shows.
func Of(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("fingerprint: %T cannot be encoded: %v", v, err))
	}
	return Bytes(b)
}

// Proto returns the fingerprint of m and the deterministic wire encoding
// it was computed from, which callers that store a payload next to its
// fingerprint keep instead of marshalling twice. Clear output-only and
// server-assigned fields in a copy of m before calling it.
func Proto(m proto.Message) (fp string, wire []byte, err error) {
	wire, err = proto.MarshalOptions{Deterministic: true}.Marshal(m)
	if err != nil {
		return "", nil, fmt.Errorf("fingerprint: marshal %s: %w", m.ProtoReflect().Descriptor().FullName(), err)
	}
	return Bytes(wire), wire, nil
}

// Bytes returns the fingerprint of an encoding the caller made itself:
// the lower-case hex SHA-256 of b.
func Bytes(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

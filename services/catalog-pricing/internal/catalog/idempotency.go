package catalog

import (
	"encoding/json"
	"fmt"
)

// Requests is the idempotency part of the catalog and pricing
// transactions: the stored record of every mutation carrying a request
// id.
type Requests interface {
	// Request returns the idempotency record (kind, id) and whether it
	// exists.
	Request(kind, id string) (Request, bool, error)
	// SaveRequest stores an idempotency record.
	SaveRequest(r Request) error
}

// Replay looks up request id of kind, sent with payload hash, in tx. It
// returns false for a new id. For an id used before it returns true and
// decodes the first call's response into res (unless res is nil), or
// ErrIdempotencyKeyReused when that call had another payload.
func Replay(tx Requests, kind, id, hash string, res any) (bool, error) {
	prev, ok, err := tx.Request(kind, id)
	if err != nil || !ok {
		return false, err
	}
	if prev.PayloadHash != hash {
		return true, ErrIdempotencyKeyReused
	}
	if res != nil {
		if err := json.Unmarshal(prev.Response, res); err != nil {
			return true, fmt.Errorf("replay %s %s: %w", kind, id, err)
		}
	}
	return true, nil
}

// Remember stores the response res (nil: none) of request id of kind,
// sent with payload hash, for Replay.
func Remember(tx Requests, kind, id, hash string, res any) error {
	var b []byte
	if res != nil {
		var err error
		if b, err = json.Marshal(res); err != nil {
			return fmt.Errorf("remember %s %s: %w", kind, id, err)
		}
	}
	return tx.SaveRequest(Request{Kind: kind, ID: id, PayloadHash: hash, Response: b})
}

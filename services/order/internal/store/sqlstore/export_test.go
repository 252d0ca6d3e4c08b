package sqlstore

import "github.com/transload/transload/platform/sqldb"

// NewUncached returns a Store without the parts cache: every read loads
// the order's parts from the tables, as a reference for the cached reads.
func NewUncached(db *sqldb.DB, encode Encoder) *Store { return &Store{db: db, encode: encode} }

// PartsCacheStats returns the parts cache's hits and misses.
func (s *Store) PartsCacheStats() (hits, misses uint64) { return s.parts.stats() }

package erp

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Snapshot retention: the contract promises at least 15 minutes after
// as_of_time for resuming an interrupted snapshot stream.
const (
	SnapshotTTL      = 30 * time.Minute
	maxHeldSnapshots = 16
)

// ErrSnapshotExpired: the snapshot to resume is no longer held (too old,
// evicted, or the simulator restarted and stock moved since).
var ErrSnapshotExpired = errors.New("snapshot expired")

// SnapshotExpiredError is ErrSnapshotExpired with the snapshot id.
type SnapshotExpiredError struct{ ID string }

// Error names the snapshot.
func (e *SnapshotExpiredError) Error() string { return "snapshot " + e.ID + " expired" }

// Unwrap returns ErrSnapshotExpired.
func (e *SnapshotExpiredError) Unwrap() error { return ErrSnapshotExpired }

// snapshotCache holds recent snapshots in memory so an interrupted stream
// can resume with exactly the rows it started with, even after stock moved.
type snapshotCache struct {
	mu      sync.Mutex
	entries map[string]Snapshot
	order   []string // ids, oldest first
}

func (c *snapshotCache) put(s Snapshot, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.entries == nil {
		c.entries = map[string]Snapshot{}
	}
	c.evictLocked(now)
	c.entries[s.ID] = s
	c.order = append(c.order, s.ID)
	for len(c.order) > maxHeldSnapshots {
		delete(c.entries, c.order[0])
		c.order = c.order[1:]
	}
}

func (c *snapshotCache) get(id string, now time.Time) (Snapshot, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.evictLocked(now)
	s, ok := c.entries[id]
	return s, ok
}

func (c *snapshotCache) evictLocked(now time.Time) {
	for len(c.order) > 0 {
		s := c.entries[c.order[0]]
		if now.Sub(s.AsOf) < SnapshotTTL {
			return
		}
		delete(c.entries, c.order[0])
		c.order = c.order[1:]
	}
}

const snapshotPrefix = "ss1|"

func filterHash(f StockFilter) string {
	h := sha256.New()
	for _, list := range [][]string{f.Warehouses, f.SKUs} {
		l := slices.Clone(list)
		slices.Sort(l)
		fmt.Fprintf(h, "%q;", l)
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// snapshotID encodes what is needed to re-create a snapshot that is no
// longer held (after a restart) when stock has not moved since: the feed
// position, the consistency time and the filters; plus a nonce so ids are
// unique.
func snapshotID(feedSeq int64, asOf time.Time, f StockFilter) string {
	nonce := make([]byte, 6)
	_, _ = rand.Read(nonce) // crypto/rand.Read never fails
	return base64.RawURLEncoding.EncodeToString(fmt.Appendf(nil, "%s%d|%d|%s|%s",
		snapshotPrefix, feedSeq, asOf.UnixMicro(), filterHash(f), hex.EncodeToString(nonce)))
}

func parseSnapshotID(id string) (feedSeq int64, asOf time.Time, fhash string, ok bool) {
	raw, err := base64.RawURLEncoding.DecodeString(id)
	if err != nil || !strings.HasPrefix(string(raw), snapshotPrefix) {
		return 0, time.Time{}, "", false
	}
	parts := strings.Split(strings.TrimPrefix(string(raw), snapshotPrefix), "|")
	if len(parts) != 4 {
		return 0, time.Time{}, "", false
	}
	seq, err1 := strconv.ParseInt(parts[0], 10, 64)
	us, err2 := strconv.ParseInt(parts[1], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, time.Time{}, "", false
	}
	return seq, time.UnixMicro(us).UTC(), parts[2], true
}

// StockSnapshot reads a consistent stock snapshot and holds it for resumes;
// unknown warehouse codes in the filter fail with ErrWarehouseNotFound.
func (s *Service) StockSnapshot(ctx context.Context, f StockFilter) (Snapshot, error) {
	if len(f.Warehouses) > 0 {
		whs, err := s.store.Warehouses(ctx)
		if err != nil {
			return Snapshot{}, err
		}
		for _, code := range f.Warehouses {
			if !slices.ContainsFunc(whs, func(w Warehouse) bool { return w.Code == code }) {
				return Snapshot{}, &NotFoundError{Kind: ErrWarehouseNotFound, ID: code}
			}
		}
	}
	snap, err := s.store.StockSnapshot(ctx, f)
	if err != nil {
		return Snapshot{}, err
	}
	snap.AsOf = s.clock()
	snap.ID = snapshotID(snap.FeedSeq, snap.AsOf, f)
	s.snapshots.put(snap, snap.AsOf)
	return snap, nil
}

// ResumeStockSnapshot returns the snapshot id was issued for, with the
// same filters. A held snapshot is returned as it was; one no longer held
// (e.g. after a restart) is re-read if stock has not moved since. Otherwise
// it fails with *SnapshotExpiredError.
func (s *Service) ResumeStockSnapshot(ctx context.Context, id string, f StockFilter) (Snapshot, error) {
	feedSeq, asOf, fhash, ok := parseSnapshotID(id)
	if !ok || fhash != filterHash(f) {
		return Snapshot{}, &SnapshotExpiredError{ID: id}
	}
	if snap, ok := s.snapshots.get(id, s.clock()); ok {
		return snap, nil
	}
	if s.clock().Sub(asOf) >= SnapshotTTL {
		return Snapshot{}, &SnapshotExpiredError{ID: id}
	}
	snap, err := s.store.StockSnapshot(ctx, f)
	if err != nil {
		return Snapshot{}, err
	}
	if snap.FeedSeq != feedSeq {
		return Snapshot{}, &SnapshotExpiredError{ID: id}
	}
	snap.ID, snap.AsOf = id, asOf
	return snap, nil
}

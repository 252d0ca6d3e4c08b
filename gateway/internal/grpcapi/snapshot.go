package grpcapi

import (
	"errors"
	"hash/maphash"
	"sync"
	"time"

	"google.golang.org/protobuf/encoding/protowire"
)

// snapshotCodec encodes a snapshotEntry as protobuf wire fields (1: data,
// 2: catalog version, 3: observe time in Unix nanoseconds) instead of JSON,
// which base64-encoded the already binary data and cost a reflection-driven
// encode and decode per entry.
type snapshotCodec struct{}

func (snapshotCodec) Marshal(e snapshotEntry) ([]byte, error) {
	b := make([]byte, 0, len(e.Data)+24)
	b = protowire.AppendTag(b, 1, protowire.BytesType)
	b = protowire.AppendBytes(b, e.Data)
	b = protowire.AppendTag(b, 2, protowire.VarintType)
	b = protowire.AppendVarint(b, uint64(e.CatalogVersion))
	b = protowire.AppendTag(b, 3, protowire.VarintType)
	b = protowire.AppendVarint(b, uint64(e.ObserveTime.UnixNano()))
	return b, nil
}

var errBadSnapshot = errors.New("malformed availability snapshot entry")

func (snapshotCodec) Unmarshal(b []byte) (snapshotEntry, error) {
	var e snapshotEntry
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return snapshotEntry{}, errBadSnapshot
		}
		b = b[n:]
		switch {
		case num == 1 && typ == protowire.BytesType:
			v, m := protowire.ConsumeBytes(b)
			if m < 0 {
				return snapshotEntry{}, errBadSnapshot
			}
			e.Data, b = append([]byte(nil), v...), b[m:]
		case num == 2 && typ == protowire.VarintType:
			v, m := protowire.ConsumeVarint(b)
			if m < 0 {
				return snapshotEntry{}, errBadSnapshot
			}
			e.CatalogVersion, b = int64(v), b[m:]
		case num == 3 && typ == protowire.VarintType:
			v, m := protowire.ConsumeVarint(b)
			if m < 0 {
				return snapshotEntry{}, errBadSnapshot
			}
			e.ObserveTime, b = time.Unix(0, int64(v)).UTC(), b[m:]
		default:
			m := protowire.ConsumeFieldValue(num, typ, b)
			if m < 0 {
				return snapshotEntry{}, errBadSnapshot
			}
			b = b[m:]
		}
	}
	if e.ObserveTime.IsZero() {
		return snapshotEntry{}, errBadSnapshot
	}
	return e, nil
}

// snapshotMemoMax bounds the keys a snapshotMemo remembers; past it the
// memo starts over (costing one rewrite per key).
const snapshotMemoMax = 100_000

// snapshotMemo remembers what this process last wrote per snapshot key, so
// an unchanged value is not rewritten on every live answer. A value is
// rewritten anyway once refresh has passed, so entries do not expire
// while they are still being observed.
type snapshotMemo struct {
	refresh time.Duration
	seed    maphash.Seed
	mu      sync.Mutex
	last    map[string]memoEntry
}

type memoEntry struct {
	sum     uint64
	version int64
	at      time.Time
}

func newSnapshotMemo(refresh time.Duration) *snapshotMemo {
	return &snapshotMemo{refresh: refresh, seed: maphash.MakeSeed(), last: map[string]memoEntry{}}
}

// unchanged reports whether key was last written with the same data and
// version less than refresh ago; otherwise it records this write and
// returns false (the caller writes).
func (m *snapshotMemo) unchanged(key string, data []byte, version int64, now time.Time) bool {
	sum := maphash.Bytes(m.seed, data)
	m.mu.Lock()
	defer m.mu.Unlock()
	if e, ok := m.last[key]; ok && e.sum == sum && e.version == version && now.Sub(e.at) < m.refresh && !now.Before(e.at) {
		return true
	}
	if len(m.last) >= snapshotMemoMax {
		clear(m.last)
	}
	m.last[key] = memoEntry{sum: sum, version: version, at: now}
	return false
}

package grpcapi

import (
	"bytes"
	"testing"
	"time"
)

func TestSnapshotCodecRoundTrip(t *testing.T) {
	in := snapshotEntry{Data: []byte{0x0a, 0x03, 'S', 'K', 'U'}, CatalogVersion: 42, ObserveTime: time.Date(2026, 12, 7, 14, 0, 0, 123, time.UTC)}
	b, err := snapshotCodec{}.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	out, err := snapshotCodec{}.Unmarshal(b)
	if err != nil || !bytes.Equal(out.Data, in.Data) || out.CatalogVersion != 42 || !out.ObserveTime.Equal(in.ObserveTime) {
		t.Errorf("round trip: %+v, %v", out, err)
	}
	// The JSON encoding of old entries, truncated input and an entry
	// without an observe time are refused, not misread.
	for _, bad := range [][]byte{[]byte(`{"data":"CgNTS1U=","observeTime":"2026-12-07T14:00:00Z"}`), b[:len(b)-1], b[:7]} {
		if _, err := (snapshotCodec{}).Unmarshal(bad); err == nil {
			t.Errorf("%q decoded", bad)
		}
	}
}

func TestSnapshotMemoWritesOnlyChanges(t *testing.T) {
	m := newSnapshotMemo(time.Minute)
	now := time.Date(2026, 12, 7, 14, 0, 0, 0, time.UTC)
	if m.unchanged("k", []byte("a"), 1, now) {
		t.Error("first write skipped")
	}
	if !m.unchanged("k", []byte("a"), 1, now.Add(time.Second)) {
		t.Error("unchanged value written again")
	}
	if m.unchanged("k", []byte("b"), 1, now.Add(2*time.Second)) {
		t.Error("changed value skipped")
	}
	if m.unchanged("k", []byte("b"), 2, now.Add(3*time.Second)) {
		t.Error("changed version skipped")
	}
	if m.unchanged("k", []byte("b"), 2, now.Add(3*time.Second+time.Minute)) {
		t.Error("not rewritten after the refresh interval")
	}
	if m.unchanged("other", []byte("b"), 2, now) {
		t.Error("another key skipped")
	}
}

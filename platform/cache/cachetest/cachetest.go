// Package cachetest is the conformance suite every cache.Store
// implementation passes: the Redis store against a real redis-server and
// the in-process store with a fake clock run the same tests.
package cachetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/transload/transload/platform/cache"
)

// ShortTTL is the TTL the suite lets expire. Advance is always called with
// more than ShortTTL, so a store on a real clock (Redis, which checks
// expiry on access with millisecond precision) can implement Advance as a
// sleep of the given duration: the outcome does not depend on timing.
const ShortTTL = 100 * time.Millisecond

// Env is one store under test.
type Env struct {
	// Store is the store under test, empty of the keys the suite uses.
	Store cache.Store
	// Advance moves the store's clock forward by d (a fake clock) or waits
	// d (a real clock).
	Advance func(d time.Duration)
}

// Run runs the conformance suite. newEnv is called once per subtest, which
// may run in parallel with the others; the stores it returns must not share
// keys (prefix them, see cache.Prefixed).
func Run(t *testing.T, newEnv func(t *testing.T) Env) {
	tests := []struct {
		name string
		fn   func(t *testing.T, e Env)
	}{
		{"GetMissing", testGetMissing},
		{"SetGet", testSetGet},
		{"Overwrite", testOverwrite},
		{"EmptyAndBinaryValues", testEmptyAndBinary},
		{"ValuesAreCopied", testValuesAreCopied},
		{"Delete", testDelete},
		{"InvalidTTL", testInvalidTTL},
		{"TTLExpiry", testTTLExpiry},
		{"OverwriteResetsTTL", testOverwriteResetsTTL},
		{"Concurrent", testConcurrent},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, newEnv(t))
		})
	}
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return c
}

func mustSet(t *testing.T, s cache.Store, key string, val []byte, ttl time.Duration) {
	t.Helper()
	if err := s.Set(ctx(t), key, val, ttl); err != nil {
		t.Fatalf("Set(%q): %v", key, err)
	}
}

func wantGet(t *testing.T, s cache.Store, key string, want []byte, wantOK bool) {
	t.Helper()
	got, ok, err := s.Get(ctx(t), key)
	if err != nil {
		t.Fatalf("Get(%q): %v", key, err)
	}
	if ok != wantOK {
		t.Fatalf("Get(%q) found = %v, want %v (value %q)", key, ok, wantOK, got)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("Get(%q) = %q, want %q", key, got, want)
	}
}

func testGetMissing(t *testing.T, e Env) {
	wantGet(t, e.Store, "never-set", nil, false)
}

func testSetGet(t *testing.T, e Env) {
	mustSet(t, e.Store, "k1", []byte("v1"), time.Hour)
	mustSet(t, e.Store, "k2", []byte("v2"), time.Hour)
	wantGet(t, e.Store, "k1", []byte("v1"), true)
	wantGet(t, e.Store, "k2", []byte("v2"), true)
}

func testOverwrite(t *testing.T, e Env) {
	mustSet(t, e.Store, "k", []byte("old"), time.Hour)
	mustSet(t, e.Store, "k", []byte("new"), time.Hour)
	wantGet(t, e.Store, "k", []byte("new"), true)
}

func testEmptyAndBinary(t *testing.T, e Env) {
	mustSet(t, e.Store, "empty", []byte{}, time.Hour)
	got, ok, err := e.Store.Get(ctx(t), "empty")
	if err != nil || !ok || len(got) != 0 {
		t.Fatalf("Get(empty) = %q, %v, %v; want empty, true, nil", got, ok, err)
	}
	bin := []byte{0, 1, 2, 0xff, '\r', '\n', 0}
	mustSet(t, e.Store, "bin", bin, time.Hour)
	wantGet(t, e.Store, "bin", bin, true)
}

func testValuesAreCopied(t *testing.T, e Env) {
	in := []byte("abc")
	mustSet(t, e.Store, "k", in, time.Hour)
	in[0] = 'X'
	got, _, err := e.Store.Get(ctx(t), "k")
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != "abc" {
		t.Fatalf("stored value changed with the caller's slice: %q", got)
	}
	got[1] = 'Y'
	wantGet(t, e.Store, "k", []byte("abc"), true)
}

func testDelete(t *testing.T, e Env) {
	mustSet(t, e.Store, "k", []byte("v"), time.Hour)
	mustSet(t, e.Store, "other", []byte("o"), time.Hour)
	if err := e.Store.Delete(ctx(t), "k"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	wantGet(t, e.Store, "k", nil, false)
	wantGet(t, e.Store, "other", []byte("o"), true)
	if err := e.Store.Delete(ctx(t), "k"); err != nil {
		t.Fatalf("Delete of an absent key: %v", err)
	}
}

func testInvalidTTL(t *testing.T, e Env) {
	for _, ttl := range []time.Duration{0, -time.Second} {
		if err := e.Store.Set(ctx(t), "k", []byte("v"), ttl); !errors.Is(err, cache.ErrInvalidTTL) {
			t.Errorf("Set with ttl %v: err = %v, want ErrInvalidTTL", ttl, err)
		}
	}
	wantGet(t, e.Store, "k", nil, false)
}

func testTTLExpiry(t *testing.T, e Env) {
	mustSet(t, e.Store, "long", []byte("l"), time.Hour)
	mustSet(t, e.Store, "short", []byte("s"), ShortTTL)
	e.Advance(ShortTTL + 50*time.Millisecond)
	wantGet(t, e.Store, "short", nil, false)
	wantGet(t, e.Store, "long", []byte("l"), true)
}

func testOverwriteResetsTTL(t *testing.T, e Env) {
	mustSet(t, e.Store, "k", []byte("short"), ShortTTL)
	mustSet(t, e.Store, "k", []byte("long"), time.Hour)
	e.Advance(ShortTTL + 50*time.Millisecond)
	wantGet(t, e.Store, "k", []byte("long"), true)
}

func testConcurrent(t *testing.T, e Env) {
	const workers, perWorker = 8, 50
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	c := ctx(t)
	for w := range workers {
		wg.Go(func() {
			for i := range perWorker {
				key := fmt.Sprintf("w%d-%d", w, i%5)
				val := []byte(fmt.Sprintf("%d-%d", w, i))
				if err := e.Store.Set(c, key, val, time.Hour); err != nil {
					errs <- err
					return
				}
				got, ok, err := e.Store.Get(c, key)
				if err != nil {
					errs <- fmt.Errorf("Get(%q): %w", key, err)
					return
				}
				if !ok || !bytes.Equal(got, val) {
					errs <- fmt.Errorf("Get(%q) = %q, %v; want %q, true", key, got, ok, val)
					return
				}
				if i%7 == 0 {
					if err := e.Store.Delete(c, key); err != nil {
						errs <- err
						return
					}
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

package pricing

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// blockingVersions is a Versions read whose calls can be held: each call
// reports its start on started and, while hold is set, waits for release.
type blockingVersions struct {
	committed atomic.Int64 // the "database": the price version
	reads     atomic.Int64
	hold      atomic.Bool
	started   chan int64 // the read's number
	release   chan struct{}
}

func newBlockingVersions() *blockingVersions {
	return &blockingVersions{started: make(chan int64, 16), release: make(chan struct{})}
}

func (b *blockingVersions) read(ctx context.Context) (Versions, error) {
	if err := ctx.Err(); err != nil {
		return Versions{}, err
	}
	n := b.reads.Add(1)
	v := Versions{Catalog: 1, Price: b.committed.Load()} // read at the start, as a statement's snapshot
	b.started <- n
	if b.hold.Load() {
		select {
		case <-b.release:
		case <-ctx.Done():
			return Versions{}, ctx.Err()
		}
	}
	return v, nil
}

// waitGet runs r.get in a goroutine and returns its result channel.
type got struct {
	v   Versions
	err error
}

func goGet(ctx context.Context, r *versionReader) <-chan got {
	ch := make(chan got, 1)
	go func() {
		v, err := r.get(ctx)
		ch <- got{v, err}
	}()
	return ch
}

// A caller that arrives while a read runs never gets that read's answer:
// it would miss a change committed between the read's start and its
// arrival (a sharing "singleflight" would fail here). The callers that
// arrived during one read share the next one.
func TestVersionReaderNeverAnswersFromAnEarlierRead(t *testing.T) {
	b := newBlockingVersions()
	r := newVersionReader(b.read)
	b.hold.Store(true)
	ctx := t.Context()
	first := goGet(ctx, r)
	<-b.started // read 1 runs and has read version 0

	b.committed.Store(7) // a publication commits; then three quotes arrive
	late := []<-chan got{goGet(ctx, r), goGet(ctx, r), goGet(ctx, r)}
	waitFor(t, func() bool {
		r.mu.Lock()
		defer r.mu.Unlock()
		return r.next != nil
	})
	time.Sleep(20 * time.Millisecond) // let all three join the batch
	b.hold.Store(false)
	close(b.release)

	if g := <-first; g.err != nil || g.v.Price != 0 {
		t.Fatalf("first caller: %+v", g)
	}
	for i, ch := range late {
		if g := <-ch; g.err != nil || g.v.Price != 7 {
			t.Fatalf("caller %d arriving after the commit got %+v, want price version 7", i, g)
		}
	}
	if n := b.reads.Load(); n < 2 || n > 4 {
		t.Fatalf("%d reads for 4 callers", n)
	}
}

// Under concurrency every caller sees at least the version committed
// before it called, and concurrent callers share reads.
func TestVersionReaderConcurrentCallersSeeEarlierCommits(t *testing.T) {
	b := newBlockingVersions()
	b.started = make(chan int64, 1<<20)
	r := newVersionReader(func(ctx context.Context) (Versions, error) {
		v, err := b.read(ctx)
		time.Sleep(50 * time.Microsecond) // a read takes a while
		return v, err
	})
	stop := make(chan struct{})
	var writer sync.WaitGroup
	writer.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
				b.committed.Add(1)
				time.Sleep(10 * time.Microsecond)
			}
		}
	})
	const callers, calls = 16, 200
	var wg sync.WaitGroup
	for range callers {
		wg.Go(func() {
			for range calls {
				before := b.committed.Load()
				v, err := r.get(t.Context())
				if err != nil {
					t.Error(err)
					return
				}
				if v.Price < before {
					t.Errorf("got price version %d after %d was committed", v.Price, before)
					return
				}
			}
		})
	}
	wg.Wait()
	close(stop)
	writer.Wait()
	if n := b.reads.Load(); n >= callers*calls {
		t.Errorf("%d reads for %d calls: nothing shared", n, callers*calls)
	}
}

// When the caller running a batch's read gives up (its context), the
// other members of the batch read on their own instead of failing.
func TestVersionReaderBatchSurvivesItsLeadersCancellation(t *testing.T) {
	b := newBlockingVersions()
	r := newVersionReader(b.read)
	b.hold.Store(true)
	first := goGet(t.Context(), r)
	<-b.started
	leaderCtx, cancel := context.WithCancel(t.Context())
	leader := goGet(leaderCtx, r) // leads the next batch
	waitFor(t, func() bool {
		r.mu.Lock()
		defer r.mu.Unlock()
		return r.next != nil
	})
	follower := goGet(t.Context(), r)
	time.Sleep(20 * time.Millisecond)
	b.committed.Store(3)
	cancel()
	b.hold.Store(false)
	close(b.release)
	<-first
	if g := <-leader; !errors.Is(g.err, context.Canceled) {
		t.Fatalf("leader: %+v", g)
	}
	if g := <-follower; g.err != nil || g.v.Price != 3 {
		t.Fatalf("follower: %+v", g)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached")
		}
		time.Sleep(time.Millisecond)
	}
}

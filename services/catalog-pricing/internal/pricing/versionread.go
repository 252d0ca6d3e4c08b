package pricing

import (
	"context"
	"sync"
)

// versionReader coalesces the Versions reads of concurrent quotes
// without ever answering a caller from a read that began before the
// caller arrived: a quote therefore still sees every publication, import
// or rule change committed before its call started, on this replica or
// another, exactly as with a read of its own (the versions are the
// quote's memo and cache keys, so a stale read would serve an old price).
//
// At most one read runs at a time. A caller that finds none running reads
// at once; callers that arrive while a read runs form the next batch,
// whose read starts when the running one ends (and after every member of
// the batch arrived) and is shared by the whole batch; a lone caller
// reads as before. This saves reads where they wait on the database
// (PostgreSQL: a round trip each); on SQLite the store answers from memory
// between writes (sqlstore's versionsCache) and reads rarely overlap.
type versionReader struct {
	read func(context.Context) (Versions, error)

	mu sync.Mutex
	// running is the read in progress (nil: none); next is the batch
	// waiting for it to end, whose read has not started (nil: none).
	running, next *versionCall
}

// versionCall is one read and the callers sharing it.
type versionCall struct {
	done chan struct{}
	v    Versions
	err  error
}

func newVersionReader(read func(context.Context) (Versions, error)) *versionReader {
	return &versionReader{read: read}
}

// get returns versions read after the call began.
func (r *versionReader) get(ctx context.Context) (Versions, error) {
	r.mu.Lock()
	if c := r.next; c != nil {
		// The batch's read starts only after this point: join it.
		r.mu.Unlock()
		select {
		case <-c.done:
		case <-ctx.Done():
			return Versions{}, ctx.Err()
		}
		if c.err != nil && ctx.Err() == nil {
			// The shared read failed, perhaps only because the caller
			// that ran it gave up (its context): read on our own.
			return r.read(ctx)
		}
		return c.v, c.err
	}
	c := &versionCall{done: make(chan struct{})}
	prev := r.running
	if prev == nil {
		r.running = c
	} else {
		r.next = c // lead the next batch
	}
	r.mu.Unlock()
	if prev != nil {
		// Wait without the context: the batch's members rely on this
		// read, and prev's read is bounded by its own caller's context.
		<-prev.done
		r.mu.Lock()
		r.running, r.next = c, nil // from here on, arrivals form a new batch
		r.mu.Unlock()
	}
	c.v, c.err = r.read(ctx)
	r.mu.Lock()
	if r.running == c {
		r.running = nil
	}
	r.mu.Unlock()
	close(c.done)
	return c.v, c.err
}

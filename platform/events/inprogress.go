package events

import (
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Ack wait shorter than the handler
//
// JetStream redelivers a message whose ack did not come within AckWait.
// A handler that outlives it (a slow database, a large batch) would then
// see its event redelivered while it still works: to another replica of
// the service at once, or to itself afterwards, counted as a delivery
// towards MaxDeliver. The processed-event table still applies it once,
// but the redelivery costs a transaction that waits on the first one's
// row, and an event whose handling is slow but fine could be
// dead-lettered for running out of deliveries.
//
// So while an event is handled the consumer tells the server it is in
// progress (a +WPI ack, which restarts the ack wait) every third of the
// ack wait: a redelivery then means the consumer died or lost its
// connection, which is what AckWait is for. The timer costs nothing for
// a handler that finishes within a third of the ack wait.

// inProgress keeps msgs from being redelivered while they are handled,
// until the returned stop is called; stop waits for a progress ack being
// sent, so none is sent after it returns.
func (c *Consumer) inProgress(msgs ...jetstream.Msg) (stop func()) {
	if len(msgs) == 0 {
		return func() {}
	}
	every := max(c.cfg.AckWait/3, time.Millisecond)
	var (
		mu      sync.Mutex
		stopped bool
		t       *time.Timer
	)
	// Hold mu until t is set: the first tick must not see it unset.
	mu.Lock()
	defer mu.Unlock()
	t = time.AfterFunc(every, func() {
		mu.Lock()
		defer mu.Unlock()
		if stopped {
			return
		}
		for _, m := range msgs {
			// A failed progress ack only risks the redelivery this
			// guards against, which the processed-event table absorbs.
			_ = m.InProgress()
		}
		t.Reset(every)
	})
	return func() {
		mu.Lock()
		defer mu.Unlock()
		stopped = true
		t.Stop()
	}
}

// heldMsgs returns the messages of held.
func heldMsgs(held []*heldMsg) []jetstream.Msg {
	out := make([]jetstream.Msg, len(held))
	for i, h := range held {
		out[i] = h.d.msg
	}
	return out
}

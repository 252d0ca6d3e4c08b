package erp

import "sync"

// feedSignal wakes the watchers of the stock feed (WatchStockEvents
// streams) when an event is committed: each commit closes the current
// channel and installs a new one, so every waiter wakes once per commit
// without polling. It covers the events this process records; the
// simulator is one process, so that is every event of its feed.
type feedSignal struct {
	mu sync.Mutex
	ch chan struct{}
}

// wait returns a channel closed at the next commit. Take it before
// reading the feed: an event committed between the read and the wait then
// still wakes the reader.
func (f *feedSignal) wait() <-chan struct{} {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.ch == nil {
		f.ch = make(chan struct{})
	}
	return f.ch
}

// broadcast wakes every waiter.
func (f *feedSignal) broadcast() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.ch != nil {
		close(f.ch)
		f.ch = nil
	}
}

// StockFeedChanged returns a channel that is closed once a stock event is
// committed after the call. Watchers take it, read the feed with
// StockEvents, and wait on it when caught up.
func (s *Service) StockFeedChanged() <-chan struct{} { return s.feed.wait() }

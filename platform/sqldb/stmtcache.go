package sqldb

import (
	"container/list"
	"context"
	"database/sql/driver"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
)

// defaultStmtCacheSize is how many prepared statements each SQLite
// connection keeps when [WithStatementCache] is not given.
const defaultStmtCacheSize = 256

// WithStatementCache sets how many prepared statements each SQLite
// connection keeps for reuse, by query text, least recently used first
// out (default 256). n <= 0 prepares every statement on every call.
// Ignored for PostgreSQL, where pgx already caches prepared statements per
// connection.
func WithStatementCache(n int) Option {
	return func(c *config) {
		if n <= 0 {
			n = -1
		}
		c.stmtCacheSize = n
	}
}

// stmtStats counts statement preparations on SQLite connections.
type stmtStats struct {
	prepared atomic.Uint64 // statements compiled by SQLite
	reused   atomic.Uint64 // calls served by a cached statement
}

// StatementStats reports how many statements SQLite compiled (prepared)
// and how many calls were served by a statement cached on the connection
// (reused) since Open. Both stay 0 for PostgreSQL.
func (db *DB) StatementStats() (prepared, reused uint64) {
	return db.stmts.prepared.Load(), db.stmts.reused.Load()
}

// stmtCacheConnector opens SQLite connections that keep their prepared
// statements. database/sql prepares, runs and closes a statement for
// every ExecContext/QueryContext on a connection that does not execute
// queries directly; the cachingConn below deliberately does not (no
// ExecerContext, no QueryerContext), so every call goes through
// PrepareContext, which hands out the connection's cached statement, and
// the statement's Close, which gives it back.
type stmtCacheConnector struct {
	base  driver.Connector
	size  int
	stats *stmtStats
}

func (c *stmtCacheConnector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.base.Connect(ctx)
	if err != nil {
		return nil, err
	}
	// Every connection modernc opens implements these; fail loudly if a
	// driver upgrade changes that rather than silently losing context
	// handling.
	if _, ok := conn.(driver.ConnPrepareContext); !ok {
		_ = conn.Close()
		return nil, errors.New("sqldb: sqlite connection does not implement driver.ConnPrepareContext")
	}
	if _, ok := conn.(driver.ConnBeginTx); !ok {
		_ = conn.Close()
		return nil, errors.New("sqldb: sqlite connection does not implement driver.ConnBeginTx")
	}
	return &cachingConn{
		Conn:  conn,
		size:  c.size,
		stats: c.stats,
		byKey: make(map[string]*cachedStmt),
		lru:   list.New(),
	}, nil
}

func (c *stmtCacheConnector) Driver() driver.Driver { return c.base.Driver() }

// cachingConn is a modernc connection with a statement cache. It embeds
// the driver.Conn interface, not the concrete connection, so only Prepare,
// Close and Begin are promoted; the optional interfaces it forwards are
// listed below, and ExecerContext/QueryerContext are left out on purpose.
type cachingConn struct {
	driver.Conn
	size  int
	stats *stmtStats

	// database/sql uses a connection from one goroutine at a time; the
	// mutex keeps the cache consistent even if a statement is closed
	// from elsewhere.
	mu     sync.Mutex
	byKey  map[string]*cachedStmt
	lru    *list.List // of *cachedStmt, most recently used first
	closed bool
}

var (
	_ driver.ConnPrepareContext = (*cachingConn)(nil)
	_ driver.ConnBeginTx        = (*cachingConn)(nil)
	_ driver.Pinger             = (*cachingConn)(nil)
	_ driver.SessionResetter    = (*cachingConn)(nil)
	_ driver.Validator          = (*cachingConn)(nil)
)

// Unwrap returns the modernc connection (modernc's Limit and anything
// else looking for it see through the wrapper this way).
func (c *cachingConn) Unwrap() driver.Conn { return c.Conn }

func (c *cachingConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	return c.Conn.(driver.ConnBeginTx).BeginTx(ctx, opts)
}

func (c *cachingConn) Ping(ctx context.Context) error {
	if p, ok := c.Conn.(driver.Pinger); ok {
		return p.Ping(ctx)
	}
	return nil
}

func (c *cachingConn) ResetSession(ctx context.Context) error {
	if r, ok := c.Conn.(driver.SessionResetter); ok {
		return r.ResetSession(ctx)
	}
	return nil
}

func (c *cachingConn) IsValid() bool {
	if v, ok := c.Conn.(driver.Validator); ok {
		return v.IsValid()
	}
	return true
}

func (c *cachingConn) Prepare(query string) (driver.Stmt, error) {
	return c.PrepareContext(context.Background(), query)
}

// PrepareContext returns the cached statement for query when there is one
// and nobody uses it (a Rows of an earlier call still open on it, such as
// an outer loop running the same query, keeps it busy); otherwise it
// prepares one, and caches it when the query text was not cached yet.
// Multi-statement scripts (migrations) are not cached.
func (c *cachingConn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	if c.size <= 0 || isScript(query) {
		return c.prepare(ctx, query)
	}
	c.mu.Lock()
	e, ok := c.byKey[query]
	if ok && !e.busy {
		e.busy = true
		c.lru.MoveToFront(e.elem)
		c.mu.Unlock()
		c.stats.reused.Add(1)
		return e, nil
	}
	c.mu.Unlock()
	ds, err := c.prepare(ctx, query)
	if err != nil || ok {
		// ok: the cached one is busy; this fresh one is finalized by its
		// own Close.
		return ds, err
	}
	_, canExec := ds.(driver.StmtExecContext)
	_, canQuery := ds.(driver.StmtQueryContext)
	if !canExec || !canQuery {
		return ds, nil
	}
	e = &cachedStmt{Stmt: ds, conn: c, busy: true, key: query}
	c.mu.Lock()
	e.elem = c.lru.PushFront(e)
	c.byKey[query] = e
	var evicted []*cachedStmt
	for c.lru.Len() > c.size {
		old := c.lru.Remove(c.lru.Back()).(*cachedStmt)
		delete(c.byKey, old.key)
		old.elem = nil
		if !old.busy {
			evicted = append(evicted, old)
		}
		// A busy evicted statement is finalized by its Close.
	}
	c.mu.Unlock()
	for _, old := range evicted {
		_ = old.Stmt.Close()
	}
	return e, nil
}

func (c *cachingConn) prepare(ctx context.Context, query string) (driver.Stmt, error) {
	ds, err := c.Conn.(driver.ConnPrepareContext).PrepareContext(ctx, query)
	if err == nil {
		c.stats.prepared.Add(1)
	}
	return ds, err
}

// Close finalizes the cached statements, then closes the connection.
func (c *cachingConn) Close() error {
	c.mu.Lock()
	c.closed = true
	var idle []*cachedStmt
	for el := c.lru.Front(); el != nil; el = el.Next() {
		if e := el.Value.(*cachedStmt); !e.busy {
			idle = append(idle, e)
		}
	}
	c.lru.Init()
	clear(c.byKey)
	c.mu.Unlock()
	var errs []error
	for _, e := range idle {
		errs = append(errs, e.Stmt.Close())
	}
	errs = append(errs, c.Conn.Close())
	return errors.Join(errs...)
}

// isScript reports whether query holds more than one statement: a ';'
// other than trailing ones. A ';' inside a string literal only costs the
// caching of that query.
func isScript(query string) bool {
	return strings.Contains(strings.TrimRight(query, " \t\r\n;"), ";")
}

// cachedStmt is a statement owned by its connection's cache. Close gives
// it back instead of finalizing it.
type cachedStmt struct {
	driver.Stmt
	conn *cachingConn
	elem *list.Element // nil once evicted
	busy bool          // handed out and not closed yet
	key  string        // the query text
}

func (s *cachedStmt) Close() error {
	c := s.conn
	c.mu.Lock()
	s.busy = false
	evicted, closed := s.elem == nil, c.closed
	c.mu.Unlock()
	if closed {
		// The connection finalized everything it could when it closed;
		// finalizing on a closed connection is not allowed.
		return nil
	}
	if evicted {
		return s.Stmt.Close()
	}
	return nil
}

func (s *cachedStmt) ExecContext(ctx context.Context, args []driver.NamedValue) (driver.Result, error) {
	return s.Stmt.(driver.StmtExecContext).ExecContext(ctx, args)
}

func (s *cachedStmt) QueryContext(ctx context.Context, args []driver.NamedValue) (driver.Rows, error) {
	return s.Stmt.(driver.StmtQueryContext).QueryContext(ctx, args)
}

package sqldb_test

import (
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/transload/transload/platform/sqldb"
)

func TestIsUnavailable(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"server shutting down (57P03)", fmt.Errorf("begin: %w", &pgconn.PgError{Code: "57P03"}), true},
		{"admin shutdown (57P01)", &pgconn.PgError{Code: "57P01"}, true},
		{"too many connections", &pgconn.PgError{Code: "53300"}, true},
		{"connection failure (08006)", &pgconn.PgError{Code: "08006"}, true},
		{"connection closed", fmt.Errorf("query: %w", sql.ErrConnDone), true},
		{"unexpected EOF", fmt.Errorf("read: %w", io.ErrUnexpectedEOF), true},
		{"network error", &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}, true},
		{"unique violation", &pgconn.PgError{Code: "23505"}, false},
		{"serialization failure", &pgconn.PgError{Code: "40001"}, false},
		{"no rows", sql.ErrNoRows, false},
		{"plain error", errors.New("boom"), false},
		{"nil", nil, false},
	} {
		if got := sqldb.IsUnavailable(tc.err); got != tc.want {
			t.Errorf("%s: IsUnavailable = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// A PostgreSQL server that is not there is unavailable, not an internal
// error: the status is UNAVAILABLE / DEPENDENCY_UNAVAILABLE.
func TestUnavailableStatusOfAnUnreachableServer(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close() // nothing listens there now
	db, err := sqldb.Open(t.Context(), "postgres://nobody@"+addr+"/none?sslmode=disable&connect_timeout=2")
	if err == nil {
		t.Cleanup(func() { _ = db.Close() })
		err = db.Ping(t.Context())
	}
	if err == nil {
		t.Fatal("a query against a closed port succeeded")
	}
	if !sqldb.IsUnavailable(err) {
		t.Fatalf("IsUnavailable(%v) = false", err)
	}
	st, _ := status.FromError(sqldb.UnavailableStatus(err))
	if st.Code() != codes.Unavailable {
		t.Fatalf("status = %v, want UNAVAILABLE", st)
	}
	if sqldb.UnavailableStatus(errors.New("boom")) != nil {
		t.Error("a plain error got an UNAVAILABLE status")
	}
	quiet := slog.New(slog.DiscardHandler)
	if st, _ := status.FromError(sqldb.FallbackStatus(t.Context(), quiet, err)); st.Code() != codes.Unavailable {
		t.Errorf("FallbackStatus(unreachable) = %v, want UNAVAILABLE", st)
	}
	st, _ = status.FromError(sqldb.FallbackStatus(t.Context(), quiet, errors.New("secret detail")))
	if st.Code() != codes.Internal || strings.Contains(st.Message(), "secret") {
		t.Errorf("FallbackStatus(plain) = %v, want INTERNAL without the cause", st)
	}
}

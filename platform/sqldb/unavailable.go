package sqldb

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"io"
	"log/slog"
	"net"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/transload/transload/platform/apierr"
)

// PostgreSQL SQLSTATEs that mean the server cannot serve the request now
// (it is shutting down, starting up or out of connections), beside the
// whole class 08 (connection exception).
const (
	pgAdminShutdown      = "57P01"
	pgCrashShutdown      = "57P02"
	pgCannotConnectNow   = "57P03"
	pgTooManyConnections = "53300"
)

// IsUnavailable reports whether err (or an error it wraps) means the
// database could not be reached or is restarting, rather than that the
// statement or the data was wrong: a PostgreSQL connection that failed or
// was cut (pgconn.ConnectError, SQLSTATE class 08, 57P01–57P03, 53300), a
// bad or closed connection, an unexpected EOF or a network error. Such a
// request may succeed when retried later, so services answer it
// UNAVAILABLE, not INTERNAL (see [UnavailableStatus]).
func IsUnavailable(err error) bool {
	if err == nil {
		return false
	}
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) {
		return true
	}
	if code := pgCode(err); code != "" {
		switch code {
		case pgAdminShutdown, pgCrashShutdown, pgCannotConnectNow, pgTooManyConnections:
			return true
		}
		return strings.HasPrefix(code, "08")
	}
	if errors.Is(err, driver.ErrBadConn) || errors.Is(err, sql.ErrConnDone) || errors.Is(err, io.ErrUnexpectedEOF) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne)
}

// UnavailableStatus is the gRPC status a service answers for an error
// IsUnavailable recognises: UNAVAILABLE with reason
// DEPENDENCY_UNAVAILABLE and target "database", which clients retry (with
// the same idempotency key) like any other unavailable dependency. It
// returns nil for any other error. Services call it in their error
// mapping's fallback, before answering INTERNAL.
func UnavailableStatus(err error) error {
	if !IsUnavailable(err) {
		return nil
	}
	return apierr.DependencyUnavailable("database", "the database is unavailable; retry later")
}

// FallbackStatus is the status of an error no rule of a service's error
// mapping matched: UNAVAILABLE (logged as a warning) when the database is
// unreachable or restarting (IsUnavailable), otherwise INTERNAL with the
// cause logged as an error and kept out of the answer. Every service's
// mapping ends with it.
func FallbackStatus(ctx context.Context, log *slog.Logger, err error) error {
	if st := UnavailableStatus(err); st != nil {
		log.WarnContext(ctx, "database unavailable", slog.Any("error", err))
		return st
	}
	log.ErrorContext(ctx, "internal error", slog.Any("error", err))
	return apierr.Internal()
}

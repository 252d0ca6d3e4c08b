package grpcserver

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"
)

// AccessLog says which calls the access log ("grpc call" records) keeps.
// Every mode logs every call that ends with a code other than OK, with its
// code, reason, message and correlation id; the modes differ only for
// successful calls.
type AccessLog int

const (
	// AccessLogAll logs every call (the default): an operator can follow
	// any request by its correlation id.
	AccessLogAll AccessLog = iota
	// AccessLogErrors logs only the calls that did not end OK.
	AccessLogErrors
	// AccessLogSampled logs every failed call and one successful call in
	// AccessLogSampleEvery, each such record carrying
	// access_log.sample_every so counts can be scaled back.
	AccessLogSampled
)

// AccessLogSampleEvery is the sampling interval of [AccessLogSampled].
const AccessLogSampleEvery = 100

// String returns the mode's configuration name.
func (m AccessLog) String() string {
	switch m {
	case AccessLogAll:
		return "all"
	case AccessLogErrors:
		return "errors"
	case AccessLogSampled:
		return "sampled"
	}
	return fmt.Sprintf("AccessLog(%d)", int(m))
}

// ParseAccessLog parses all, errors or sampled (case-insensitive; empty is
// all).
func ParseAccessLog(s string) (AccessLog, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "all":
		return AccessLogAll, nil
	case "errors":
		return AccessLogErrors, nil
	case "sampled":
		return AccessLogSampled, nil
	}
	return 0, fmt.Errorf("grpcserver: access log %q: want all, errors or sampled", s)
}

// WithAccessLog sets which successful calls the access log keeps (default
// [AccessLogAll]); failed calls are always logged.
func WithAccessLog(m AccessLog) Option { return func(o *options) { o.accessLog = m } }

// accessLogger writes the access log records of one server.
type accessLogger struct {
	logger *slog.Logger
	mode   AccessLog
	ok     atomic.Uint64 // successful calls seen, for AccessLogSampled
}

// log records one finished call. A successful call costs one JSON record
// and one write to the log's writer under AccessLogAll (BenchmarkLogCall),
// an Enabled check or a counter increment otherwise.
func (a *accessLogger) log(ctx context.Context, method string, start time.Time, err error) {
	if err == nil && !isHealthOrReflection(method) {
		switch a.mode {
		case AccessLogAll:
		case AccessLogErrors:
			return
		case AccessLogSampled:
			if a.ok.Add(1)%AccessLogSampleEvery != 1 {
				return
			}
			logCall(ctx, a.logger, method, start, nil, slog.Int("access_log.sample_every", AccessLogSampleEvery))
			return
		}
	}
	logCall(ctx, a.logger, method, start, err)
}

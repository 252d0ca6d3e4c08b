package outbox

import (
	"context"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/transload/transload/platform/eventstreams"
)

// DefaultDuplicateWindow is the JetStream de-duplication window
// [EnsureStream] sets when StreamConfig.DuplicateWindow is zero.
//
// Deprecated: use eventstreams.DefaultDuplicateWindow.
const DefaultDuplicateWindow = eventstreams.DefaultDuplicateWindow

// StreamConfig describes a stream that captures outbox subjects.
//
// Deprecated: declare the stream in package eventstreams and ensure it
// with [WithStreams].
type StreamConfig struct {
	// Name is the stream name, e.g. "ORDER".
	Name string
	// Subjects are the subjects (wildcards allowed) the stream captures,
	// e.g. "transload.order.v1.>".
	Subjects []string
	// DuplicateWindow is how long JetStream remembers message ids;
	// default DefaultDuplicateWindow.
	DuplicateWindow time.Duration
	// MaxAge drops messages older than this; 0 keeps them (limits
	// retention).
	MaxAge time.Duration
	// Replicas is the number of replicas in a cluster; 0 means 1.
	Replicas int
	// Description is shown by NATS tooling.
	Description string
}

// EnsureStream creates the stream with file storage, or updates it when it
// exists, and returns it.
//
// Deprecated: use [WithStreams] on the relay (it retries until NATS
// answers), or eventstreams.Ensure for one attempt.
func EnsureStream(ctx context.Context, js jetstream.JetStream, cfg StreamConfig) (jetstream.Stream, error) {
	return eventstreams.Ensure(ctx, js, eventstreams.Stream{
		Name: cfg.Name, Subjects: cfg.Subjects, Description: cfg.Description,
		DuplicateWindow: cfg.DuplicateWindow, MaxAge: cfg.MaxAge, Replicas: cfg.Replicas,
	})
}

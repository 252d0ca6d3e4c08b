package outbox

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// DefaultDuplicateWindow is the JetStream de-duplication window
// [EnsureStream] sets when StreamConfig.DuplicateWindow is zero. A relay
// that crashes after a publish and restarts within the window republishes
// without creating a duplicate message.
const DefaultDuplicateWindow = 10 * time.Minute

// StreamConfig describes a stream that captures outbox subjects.
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
// exists, and returns it. Updating keeps existing messages; it fails if the
// change is one JetStream refuses (e.g. switching storage type).
func EnsureStream(ctx context.Context, js jetstream.JetStream, cfg StreamConfig) (jetstream.Stream, error) {
	if cfg.Name == "" || len(cfg.Subjects) == 0 {
		return nil, errors.New("outbox: stream needs a name and at least one subject")
	}
	window := cfg.DuplicateWindow
	if window <= 0 {
		window = DefaultDuplicateWindow
	}
	if cfg.MaxAge > 0 && window > cfg.MaxAge {
		window = cfg.MaxAge
	}
	s, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:        cfg.Name,
		Description: cfg.Description,
		Subjects:    cfg.Subjects,
		Storage:     jetstream.FileStorage,
		Retention:   jetstream.LimitsPolicy,
		Duplicates:  window,
		MaxAge:      cfg.MaxAge,
		Replicas:    max(cfg.Replicas, 1),
	})
	if err != nil {
		return nil, fmt.Errorf("outbox: ensure stream %s: %w", cfg.Name, err)
	}
	return s, nil
}
